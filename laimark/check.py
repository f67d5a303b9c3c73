"""laimark-check: is a curriculum JSONL file fit to train on?

For a file a person edited by hand (or any stage output), checks every record: the schema; the
reference solution passes its own tests in the sandbox, with the same results under two
PYTHONHASHSEED values; the tests are adequate (no trivial stub passes --max_stub_share of them,
they fail at least --min_mutant_kill of the reference's mutants, at least --min_tests asserts, each
calling the entry point); no clock or randomness in tests or solution; no duplicates; no HumanEval
overlap. --json adds each problem's measured stub share and mutant kills.

    laimark-check data/calibrated_selfgen.jsonl
    laimark-check my_curriculum.jsonl --json > report.jsonl

Exit status: 0 every record is fine, 1 some record fails a check, 2 the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/check.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import add_sandbox_args, run_stage, setup_logging
from laimark.curriculum.checks import JACCARD_THRESHOLD, add_adequacy_args
from laimark.curriculum.stages import CheckConfig, check_file


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
        default=JACCARD_THRESHOLD,
        help="docstring word-trigram Jaccard above which two problems count as duplicates "
        "(default %(default)s, the original's)",
    )
    p.add_argument("--no_humaneval", action="store_true", help="skip the HumanEval overlap check")
    p.add_argument("--verbose", action="store_true")
    add_adequacy_args(p)
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_stage(check_file, CheckConfig, args)


if __name__ == "__main__":
    sys.exit(main())
