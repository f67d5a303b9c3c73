"""Judge the replies of a generation journal again with today's parser and checks, without a model.

    python scripts/rescreen.py JOURNAL.jsonl [--mode labelled|asserts] [--json]

For changing the parser, the labelling or the checks and measuring the effect on replies a model
already wrote (docs/benchmarks.md, "Problem generation and calibration"): every reply goes through
`generate.Screener`, the same code a run uses, in attempt order, so duplicates count as in a run.
Prints the accepted count and the first failing check per reply. The journal is not modified.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from laimark.curriculum.generate import MODES, Attempt, GenerationConfig, Screener  # noqa: E402
from laimark.execution.sandbox import Sandbox  # noqa: E402

FIELDS = ("attempt", "kind", "seed", "topic", "difficulty", "parent")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("journal")
    p.add_argument("--mode", choices=MODES, default="labelled")
    p.add_argument("--json", action="store_true", help="one line per reply: attempt, stage, reason")
    args = p.parse_args(argv)
    rounds = [json.loads(line) for line in Path(args.journal).read_text().splitlines() if line]
    screener = Screener(GenerationConfig(mode=args.mode), {"name": "rescreen"}, seed=0)
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
