"""laimark-calibrate: measure each problem's pass rate under the policy; keep those in the window.

Each problem is sampled --n_samples times with the solve prompt training and evaluation use, judged
in the sandbox by the shared harness, and kept if its pass rate is within [--lo, --hi]: problems
the policy always or never solves teach GRPO nothing (every completion gets the same reward).
Duplicates and HumanEval overlaps in the input are dropped first and reported.

    laimark-calibrate --input runs/gen/candidates.jsonl --output runs/gen/calibrated.jsonl
    laimark-calibrate --input runs/gen/candidates.jsonl --output runs/gen/calibrated.jsonl --resume

Writes the kept problems (`CalibratedProblem`), every measurement (kept or not) to
`<output>.measured.jsonl` (what --resume reuses), a histogram `<output>.hist.png` and
`<output>.meta.json` (counts, funnel, model, timing).
Exit status: 0 done, 1 no problem in the window, 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/calibrate_problems.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import add_sandbox_args, run_stage, setup_logging
from laimark.core.seeds import DEFAULT_SEED
from laimark.core.solve import add_solve_args
from laimark.curriculum.calibrate import add_window_args
from laimark.curriculum.generate import add_filter_args
from laimark.curriculum.stages import CalibrateConfig, calibrate
from laimark.models.sampling import add_model_args


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-calibrate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The default input is laimark-generate's default output, so the original LAIMARK's README
    # commands (generate, then calibrate) run as written.
    p.add_argument(
        "--input",
        default="runs/candidates.jsonl",
        help="problems JSONL (Problem records; default runs/candidates.jsonl)",
    )
    p.add_argument(
        "--output",
        default="runs/calibrated.jsonl",
        help="calibrated problems JSONL (default runs/calibrated.jsonl)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="run seed; per-problem seeds derive from it (default %(default)s)",
    )
    p.add_argument(
        "--measured",
        default=None,
        help="side file of every measurement (default <output>.measured.jsonl)",
    )
    p.add_argument("--plot", default=None, help="histogram PNG (default <output>.hist.png)")
    p.add_argument(
        "--keep_all",
        action="store_true",
        help="write every measured problem, with learnability_zone true/false",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the measurements of an interrupted run (same flags)",
    )
    p.add_argument("--verbose", action="store_true")
    add_model_args(p)
    add_window_args(p)
    add_solve_args(p)
    add_filter_args(p, min_tests=False)
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_stage(calibrate, CalibrateConfig, args)


if __name__ == "__main__":
    sys.exit(main())
