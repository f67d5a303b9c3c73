"""The funnel of a curriculum run, as JSON on stdout (docs/benchmarks.md, docs/experimental-results.md).

    python scripts/funnel.py runs/curriculum_0.5b/calibrated.jsonl            # the HF pipeline
    python scripts/funnel.py CANDIDATES.jsonl --calibrated CALIBRATED.jsonl  # the two stages

Read from the run's journal (every reply, its stage and the checks it failed) and sidecars: the
funnel, first-failing and every-failing check counts, the share of replies that became clean
problems, in-window problems per hour of generation plus calibration, tokens per second, the
mutant-kill rates and stub shares of the accepted problems, and how many replies were refused only
by checks that are new in issue 15 (test adequacy, docstring examples against execution, hash-seed
determinism, decontamination by calls, literals or execution): the old checks would have kept them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

NEW_CODES = {"weak_tests", "example_mismatch", "nondeterministic"}
NEW_OVERLAP_EVIDENCE = ("execution:", "literals", "argument list", "calls")


def _meta(path: str) -> dict:
    return json.loads(Path(path + ".meta.json").read_text())


def _attempts(journal: Path) -> list[dict]:
    rows = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line of an interrupted run
            break
    return [a for r in rows for a in r["attempts"]]


def _only_new(attempt: dict) -> bool:
    """Refused, but only by checks the wave-1 pipeline did not have."""
    codes = set(attempt.get("codes") or [])
    if not codes or attempt.get("stage") in (None, "parse"):
        return False
    old = codes - NEW_CODES
    if old == {"humaneval_overlap"}:
        notes = [n for n in attempt.get("notes", []) if n.startswith("humaneval_overlap")]
        # one note joins every reason with "; ": each reason must be new evidence
        reasons = [r for n in notes for r in n.removeprefix("humaneval_overlap:").split("; ")]
        return bool(reasons) and all(any(e in r for e in NEW_OVERLAP_EVIDENCE) for r in reasons)
    return not old


def summarise(output: str, calibrated: str | None) -> dict:
    gen = _meta(output)
    cal = _meta(calibrated) if calibrated else gen
    attempts = _attempts(Path(gen["journal"]))
    counts, cal_counts = gen["counts"], cal["counts"]
    accepted = [a["problem"] for a in attempts if a.get("stage") is None and a.get("problem")]
    adequacy = [p["adequacy"] for p in accepted if p.get("adequacy")]
    kill = [a["mutant_kill_rate"] for a in adequacy if a.get("mutant_kill_rate") is not None]
    refused = [a for a in attempts if a.get("stage") is not None]
    gen_seconds = gen.get("work_seconds") or 0
    cal_seconds = 0 if calibrated is None else cal.get("work_seconds") or 0
    hours = (gen_seconds + cal_seconds) / 3600
    tokens = counts.get("tokens_generated", 0) + (
        cal_counts.get("tokens_generated", 0) if calibrated else 0
    )
    in_window = cal_counts.get("in_window", 0)
    return {
        "funnel": cal.get("funnel", gen.get("funnel")),
        "replies": len(attempts),
        "clean_share_of_replies": round(len(accepted) / len(attempts), 4) if attempts else None,
        "rejected_by": dict(Counter(a["reason"] for a in refused).most_common()),
        "failed_checks": dict(
            Counter(c for a in refused for c in a.get("codes") or []).most_common()
        ),
        "refused_only_by_new_checks": sum(_only_new(a) for a in refused),
        "refused_only_by_new_checks_share_of_checked": _share(
            sum(_only_new(a) for a in refused),
            sum(a.get("stage") not in ("parse",) for a in attempts),
        ),
        "accepted": len(accepted),
        "mutant_kill_rate": {
            "problems_with_mutants": len(kill),
            "mean": round(statistics.mean(kill), 4) if kill else None,
            "median": round(statistics.median(kill), 4) if kill else None,
            "all_killed": sum(k == 1 for k in kill),
        },
        "stub_max_share_mean": round(statistics.mean(a["stub_max_share"] for a in adequacy), 4)
        if adequacy
        else None,
        "in_window": in_window,
        "heldout": cal_counts.get("heldout"),
        "work_hours": round(hours, 3),
        "in_window_per_hour": round(in_window / hours, 2) if hours else None,
        "tokens_generated": tokens,
        "tokens_per_second": round(tokens / (hours * 3600), 1) if hours else None,
        "cpus": sorted(set(gen.get("cpus") or []) | set(cal.get("cpus") or [])),
        "sessions": gen.get("sessions"),
    }


def _share(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("output", help="the pipeline's output, or laimark-generate's")
    p.add_argument("--calibrated", help="laimark-calibrate's output, for a two-stage run")
    args = p.parse_args(argv)
    json.dump(summarise(args.output, args.calibrated), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
