"""laimark-generate: the model writes coding problems; keep those verified in the sandbox.

Each reply must hold a reference solution (signature, docstring with examples, body) and assert
tests. A problem is kept when it parses, its solution passes its own tests twice identically, no
trivial stub passes them, it has enough asserts calling the function, uses no clock or randomness,
repeats no accepted problem and does not overlap HumanEval (see docs/stages.md).

    laimark-generate --count 50 --output runs/gen/candidates.jsonl --seed 0
    laimark-generate --count 50 --output runs/gen/candidates.jsonl --seed 0 --resume   # after a kill

Writes the problems (`Problem` records, at most --count), a journal of every attempt
(`<output>.journal.jsonl`: replies, verdicts, timing; what --resume replays) and
`<output>.meta.json` (funnel, rejection reasons, model, timing).
Exit status: 0 done (even if --max_attempts ran out first), 1 no problem accepted, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/generate_problems.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import add_sandbox_args, run_stage, setup_logging
from laimark.core.seeds import DEFAULT_SEED
from laimark.curriculum.generate import add_generation_args
from laimark.curriculum.stages import GenerateConfig, generate
from laimark.models.sampling import add_model_args


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-generate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--count", type=int, default=50, help="problems to accept (default 50)")
    p.add_argument(
        "--output",
        default="runs/candidates.jsonl",
        help="problems JSONL (default runs/candidates.jsonl)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="run seed; per-attempt seeds derive from it (default %(default)s)",
    )
    p.add_argument(
        "--max_attempts",
        type=int,
        default=None,
        help="stop after this many replies, checked between rounds (default 10 x count)",
    )
    p.add_argument(
        "--journal", default=None, help="journal of every attempt (default <output>.journal.jsonl)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the journal of an interrupted run (same flags)",
    )
    p.add_argument("--verbose", action="store_true")
    add_model_args(p)
    add_generation_args(p)
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_stage(generate, GenerateConfig, args)


if __name__ == "__main__":
    sys.exit(main())
