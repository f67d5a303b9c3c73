"""laimark-check: is a curriculum JSONL file fit to train on?

For a file a person edited by hand (or any stage output), checks every record: the schema; the
reference solution passes its own tests in the sandbox, twice with the same results; the tests
are not vacuous (no trivial stub passes them all, at least --min_tests asserts, each calling the
entry point); no clock or randomness in tests or solution; no duplicates; no HumanEval overlap.

    laimark-check data/calibrated_selfgen.jsonl
    laimark-check my_curriculum.jsonl --json > report.jsonl

Exit status: 0 every record is fine, 1 some record fails a check, 2 the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys

from laimark.core.cli import (
    EXIT_FAILED,
    EXIT_OK,
    add_sandbox_args,
    printable,
    setup_logging,
    usage_error,
)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-check",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", help="JSONL file of problems (candidates or calibrated)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per record: line, entry_point, ok, problems, notes",
    )
    p.add_argument("--min_tests", type=int, default=3, help="fewest asserts a problem may have")
    p.add_argument(
        "--jaccard_threshold",
        type=float,
        default=0.7,
        help="docstring word-trigram Jaccard at which two problems count as duplicates",
    )
    p.add_argument("--no_humaneval", action="store_true", help="skip the HumanEval overlap check")
    p.add_argument("--verbose", action="store_true")
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    from laimark.core.cli import make_sandbox
    from laimark.core.records import CalibratedProblem, RecordError, load_records
    from laimark.curriculum.checks import check_problems

    try:
        records = load_records(args.path, CalibratedProblem)
    except RecordError as e:
        return usage_error(str(e))
    with make_sandbox(args) as sandbox:
        findings = check_problems(
            records,
            sandbox,
            min_tests=args.min_tests,
            jaccard_threshold=args.jaccard_threshold,
            humaneval=not args.no_humaneval,
            progress=not args.json,
        )
    for f in findings:
        if args.json:
            print(json.dumps(f.to_dict()))
        elif not f.ok:
            # Notes quote the sandbox's verdicts, so they hold text the model wrote.
            print(printable(f"{args.path}:{f.line}: {f.entry_point}: " + "; ".join(f.notes)))
    bad = sum(not f.ok for f in findings)
    if not args.json:
        print(
            f"{len(findings)} records, {len(findings) - bad} ok, {bad} with problems "
            f"(sandbox: {sandbox.level})"
        )
    return EXIT_FAILED if bad else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
