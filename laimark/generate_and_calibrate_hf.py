"""Generate, verify, dedup and calibrate in one process until --target problems are in the window.

The same stages as `laimark-generate` followed by `laimark-calibrate`, with one model loaded once
(in-process transformers by default: no Ollama server needed) and calibration right after each
accepted problem, so the run stops as soon as enough problems sit inside [--lo, --hi]. With
--adapter the policy (which writes and is measured) is the base model plus that adapter. With
--harder_variants, every problem whose pass rate reaches --lo also asks the model for a harder
variant of it (`seed_id` names the parent), which goes through the same filters.

    python laimark/generate_and_calibrate_hf.py --target 20 --output runs/hf/calibrated.jsonl
    python laimark/generate_and_calibrate_hf.py --target 20 --output runs/hf/calibrated.jsonl --resume

Writes the kept problems (`CalibratedProblem`), `<output>.journal.jsonl` (every attempt, as
laimark-generate's journal, plus its calibration), `<output>.measured.jsonl` (every measurement, as
laimark-calibrate's), `<output>.hist.png` and `<output>.meta.json`.
Exit status: 0 done (even if --max_attempts ran out first), 1 nothing in the window, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/generate_and_calibrate_hf.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import add_replaced_flags, add_sandbox_args, run_stage, setup_logging
from laimark.core.seeds import DEFAULT_SEED
from laimark.core.solve import add_solve_args
from laimark.curriculum.calibrate import add_window_args
from laimark.curriculum.generate import add_generation_args
from laimark.curriculum.stages import PipelineConfig, generate_and_calibrate
from laimark.models.sampling import add_model_args


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="generate_and_calibrate_hf",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--target", type=int, default=20, help="problems to keep in the window")
    p.add_argument(
        "--max_attempts",
        type=int,
        default=None,
        help="stop after this many replies, checked between rounds (default 20 x target)",
    )
    p.add_argument(
        "--output",
        default="runs/calibrated_hf.jsonl",
        help="calibrated problems JSONL (default runs/calibrated_hf.jsonl)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="run seed; every per-item seed derives from it (default %(default)s)",
    )
    p.add_argument(
        "--harder_variants",
        action="store_true",
        help="ask for a harder variant of every problem with pass rate >= --lo",
    )
    p.add_argument(
        "--keep_all",
        action="store_true",
        help="write every calibrated problem, with learnability_zone true/false",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its journal and measurements",
    )
    p.add_argument("--verbose", action="store_true")
    add_model_args(p)
    add_generation_args(p, budget_flag="--gen_max_new_tokens")
    add_window_args(p, prefix="calib_")
    add_solve_args(p)
    add_sandbox_args(p)
    add_replaced_flags(p, REPLACED)
    return p.parse_args(argv)


# The original's phase 1 (calibrate an existing file) and proposer-only mode are stages of their
# own here; its other flags keep their names (--exclude_names, --max_new_tokens for calibration).
REPLACED = {
    "--existing": "calibrate an existing candidates file with laimark-calibrate --input FILE "
    "(then run this command, with another --output, to generate more)",
    "--calibrate_only": "laimark-calibrate --input FILE calibrates without generating",
    "--calibrate_adapter": "laimark-calibrate --input FILE --adapter DIR measures against an "
    "adapter",
    "--allow_name_dups": "not available: every stage treats a repeated function name as a "
    "duplicate (the harness and training key problems by it); rename the repeats, then "
    "laimark-calibrate --input FILE",
    "--proposer_only": "laimark-generate writes verified problems without calibrating them "
    "(laimark-calibrate reads its output)",
}


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_stage(generate_and_calibrate, PipelineConfig, args)


if __name__ == "__main__":
    sys.exit(main())
