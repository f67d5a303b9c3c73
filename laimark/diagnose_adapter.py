"""laimark-diagnose: did a trained adapter move the policy? (what laimark-train prints at its end)

    laimark-diagnose --adapter runs/r1 --heldout data/runs/qwen0.5b_count50/candidates.jsonl

Measures the adapter's update against the weights and the resolution of the evaluation dtype,
and, on held-out problems (any that the adapter's curriculum holds are left out), the mean
per-token KL(base || trained) along the base's greedy answers, the share of greedy answers that
changed and the reward before and after. Warns when the update is below what an evaluation can
see. Writes `<adapter>/diagnostics.json` (or --output) with its `.meta.json` sidecar. The adapter
is applied unmerged, as laimark-train measures it. See docs/training.md, "Did it move?".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/diagnose_adapter.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import add_sandbox_args, run_stage, setup_logging
from laimark.core.solve import add_solve_args
from laimark.models.loading import DEFAULT_MODEL
from laimark.models.sampling import add_dtype_device_args, add_thinking_arg


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-diagnose",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--adapter", required=True, metavar="DIR", help="a LoRA adapter folder")
    p.add_argument(
        "--heldout",
        metavar="FILE",
        help="problems kept out of training (candidates or calibrated JSONL)",
    )
    p.add_argument("--heldout_limit", type=int, default=16, help="default: %(default)s")
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help="the base model the adapter was trained on"
    )
    add_dtype_device_args(p)  # the dtype evaluation will use
    p.add_argument(
        "--max_new_tokens", type=int, default=512, help="greedy answer budget (default 512)"
    )
    add_thinking_arg(p)
    p.add_argument("--output", help="default: <adapter>/diagnostics.json")
    p.add_argument("--verbose", action="store_true")
    add_solve_args(p)
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    from laimark.training.diagnostics import DiagnoseConfig, diagnose_adapter

    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_stage(diagnose_adapter, DiagnoseConfig, args)


if __name__ == "__main__":
    sys.exit(main())
