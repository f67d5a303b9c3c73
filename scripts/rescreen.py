"""Judge the replies of a generation journal again with today's parser and checks, without a model.

    python scripts/rescreen.py JOURNAL.jsonl [--mode labelled|asserts] [--json]

For changing the parser, the labelling or the checks and measuring the effect on replies a model
already wrote (docs/benchmarks.md, "Problem generation and calibration"): every reply goes through
`generate.Screener`, the same code a run uses, with the run's screening settings (from the sidecar
beside the journal, if any), in attempt order, so duplicates count as in a run.
Prints the accepted count and the first failing check per reply. The journal is not modified.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from laimark.curriculum.checks import Adequacy  # noqa: E402
from laimark.curriculum.generate import MODES, Attempt, GenerationConfig, Screener  # noqa: E402
from laimark.execution.sandbox import Sandbox  # noqa: E402

FIELDS = ("attempt", "kind", "seed", "topic", "difficulty", "parent")


def settings(journal: str, mode: str | None) -> GenerationConfig:
    """The run's screening settings, from the sidecar beside the journal if there is one (the
    journal of X is X.journal.jsonl, its sidecar X.meta.json); --mode overrides the mode."""
    meta = Path(journal.removesuffix(".journal.jsonl") + ".meta.json")
    recorded = {}
    if meta.is_file():
        recorded = dict(json.loads(meta.read_text()).get("config", {}).get("generation", {}))
    adequacy = Adequacy(**recorded.pop("adequacy", {}))
    known = {f.name for f in dataclasses.fields(GenerationConfig)}
    kept = {k: v for k, v in recorded.items() if k in known}
    if mode:
        kept["mode"] = mode
    return GenerationConfig(**kept, adequacy=adequacy)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("journal")
    p.add_argument(
        "--mode", choices=MODES, help="default: the run's, from its sidecar (else labelled)"
    )
    p.add_argument("--json", action="store_true", help="one line per reply: attempt, stage, reason")
    args = p.parse_args(argv)
    rounds = []
    for line in Path(args.journal).read_text(encoding="utf-8").splitlines():
        try:
            rounds.append(json.loads(line))
        except json.JSONDecodeError:  # the torn last line of an interrupted run
            break
    screener = Screener(settings(args.journal, args.mode), {"name": "rescreen"}, seed=0)
    reasons: Counter = Counter()
    with Sandbox() as sandbox:
        for r in rounds:
            attempts = [Attempt(**{k: a.get(k) for k in FIELDS}) for a in r["attempts"]]
            results = screener.screen(attempts, [a["reply"] for a in r["attempts"]], sandbox)
            for res in results:
                screener.record(res)
                reasons[res["reason"] or "accepted"] += 1
                if args.json:
                    print(json.dumps({k: res.get(k) for k in ("attempt", "stage", "reason")}))
    total = sum(reasons.values())
    print(json.dumps({"replies": total, "accepted": reasons.pop("accepted", 0), **reasons}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
