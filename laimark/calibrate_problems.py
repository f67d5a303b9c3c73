"""laimark-calibrate: measure each problem's pass rate under the policy; keep those in the window.

Each problem is sampled --samples times with the solve prompt training and evaluation use, judged
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
import json
import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/calibrate_problems.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import EXIT_FAILED, EXIT_OK, add_sandbox_args, setup_logging, usage_error

log = logging.getLogger("laimark.calibrate")


def parse_args(argv):
    from laimark.curriculum.calibrate import add_window_args
    from laimark.curriculum.generate import add_filter_args
    from laimark.models.sampling import add_model_args

    p = argparse.ArgumentParser(
        prog="laimark-calibrate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", required=True, help="problems JSONL (Problem records)")
    p.add_argument("--output", required=True, help="calibrated problems JSONL")
    p.add_argument("--seed", type=int, default=0, help="run seed; per-problem seeds derive from it")
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
    add_filter_args(p, min_tests=False)
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    from laimark.core.records import Problem, RecordError, load_records
    from laimark.curriculum.calibrate import check_window_args

    if problem := check_window_args(args):
        return usage_error(problem)
    measured = Path(args.measured or args.output + ".measured.jsonl")
    if not args.resume and any(
        f.exists() and f.stat().st_size for f in (measured, Path(args.output))
    ):
        return usage_error(
            f"{args.output} or {measured} already exists; pass --resume to "
            "continue that run or choose another --output"
        )
    try:
        records = load_records(args.input, Problem)
    except RecordError as e:
        return usage_error(str(e))
    from laimark.models.loading import ModelError
    from laimark.models.sampling import sampler_from_args

    try:
        sampler = sampler_from_args(args)
    except ModelError as e:
        return usage_error(str(e))
    return _calibrate(args, records, sampler, measured)


def _calibrate(args, records, sampler, measured_path: Path) -> int:
    from tqdm import tqdm

    from laimark.core.cli import make_sandbox
    from laimark.core.records import file_sha256, write_jsonl_atomic, write_meta
    from laimark.curriculum.calibrate import (
        MeasuredStore,
        calibrated,
        calibration_config,
        plot_histogram,
        prefilter,
        window_counts,
    )

    start = time.perf_counter()
    kept, dropped = prefilter(records, args.jaccard_threshold, args.keep_humaneval_overlap)
    for d in dropped:
        log.info("%s:%d: %s dropped (%s)", args.input, d["line"], d["entry_point"], d["note"])
    config = calibration_config(args, dict(sampler.identity))
    try:
        store = MeasuredStore(measured_path, args.resume, config)
    except ValueError as e:
        return usage_error(str(e))
    with make_sandbox(args) as sandbox:
        measurements = [
            store.measure(p, sampler, sandbox, config)
            for _, p in tqdm(kept, desc="calibrating", unit="problem")
        ]
        sandbox_info = sandbox.describe()
    store.close()
    out = [calibrated(p, m, args.lo, args.hi, config) for (_, p), m in zip(kept, measurements)]
    out = [r for r in out if args.keep_all or r.learnability_zone]
    write_jsonl_atomic(args.output, out)
    counts = window_counts(measurements, args.lo, args.hi)
    plot = args.plot or args.output + ".hist.png"
    plot_histogram(
        measurements,
        args.lo,
        args.hi,
        plot,
        f"{counts['in_window']} of {counts['measured']} problems in the window",
    )
    counts.update(
        input=len(records),
        dropped_duplicate=_count(dropped, "duplicate"),
        dropped_humaneval_overlap=_count(dropped, "humaneval_overlap"),
        written=len(out),
    )
    meta = {
        "stage": "calibrate",
        "args": vars(args),
        "seed": args.seed,
        "model": sampler.identity,
        "prompt_version": config["prompt_version"],
        "config": config,
        "config_id": store.config_id,
        "input": args.input,
        "input_sha256": file_sha256(args.input),
        "measured": str(measured_path),
        "plot": plot,
        "sandbox": sandbox_info,
        "counts": counts,
        "dropped": dropped,
        "funnel": _funnel(args.input, counts),
        "session_wall_seconds": round(time.perf_counter() - start, 2),
    }
    write_meta(args.output, meta)
    log.info(
        "%d of %d measured problems in [%g, %g] (too hard %d, too easy %d); wrote %d to %s",
        counts["in_window"],
        counts["measured"],
        args.lo,
        args.hi,
        counts["too_hard"],
        counts["too_easy"],
        len(out),
        args.output,
    )
    return EXIT_OK if counts["in_window"] else EXIT_FAILED


def _count(dropped: list[dict], reason: str) -> int:
    return sum(d["reason"] == reason for d in dropped)


def _funnel(input_path: str, counts: dict) -> dict:
    """The whole survival funnel: generation's (from the input's sidecar, if any), then ours."""
    funnel = {}
    try:
        funnel = dict(json.loads(Path(input_path + ".meta.json").read_text()).get("funnel", {}))
    except (OSError, ValueError):
        pass
    funnel["input"] = counts["input"]
    funnel["measured"] = counts["measured"]
    funnel["in_window"] = counts["in_window"]
    return funnel


if __name__ == "__main__":
    sys.exit(main())
