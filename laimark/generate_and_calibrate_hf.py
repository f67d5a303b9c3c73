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
import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/generate_and_calibrate_hf.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import EXIT_FAILED, EXIT_OK, add_sandbox_args, setup_logging, usage_error

log = logging.getLogger("laimark.generate_and_calibrate")


def parse_args(argv):
    from laimark.curriculum.calibrate import add_window_args
    from laimark.curriculum.generate import add_generation_args
    from laimark.models.sampling import add_model_args

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
        "--seed", type=int, default=0, help="run seed; every per-item seed derives from it"
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
    add_generation_args(p)
    add_window_args(p, prefix="calib_")
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    from laimark.curriculum.calibrate import check_window_args
    from laimark.curriculum.generate import check_generation_args

    problem = (
        check_generation_args(args)
        or check_window_args(args)
        or (args.target < 1 and "--target must be >= 1")
    )
    if problem:
        return usage_error(problem)
    files = [Path(args.output + suffix) for suffix in ("", ".journal.jsonl", ".measured.jsonl")]
    if not args.resume and any(f.exists() and f.stat().st_size for f in files):
        return usage_error(
            f"{args.output} (or its journal) already exists; pass --resume to "
            "continue that run or choose another --output"
        )
    from laimark.models.loading import ModelError
    from laimark.models.sampling import sampler_from_args

    try:
        sampler = sampler_from_args(args)
    except ModelError as e:
        return usage_error(str(e))
    return _run(args, sampler, files)


class _Kept:
    """What calibration kept and measured, rebuilt identically from a journal on resume."""

    def __init__(self, args, run, store, config):
        self.args, self.run, self.store, self.config = args, run, store, config
        self.kept, self.measured = [], []

    def absorb(self, results: list[dict]) -> None:
        from laimark.core.records import Problem
        from laimark.curriculum.calibrate import calibrated

        for r in results:
            m = r.get("calibration")
            if m is None:
                continue
            problem = Problem.from_dict(r["problem"])
            self.measured.append(self.store.get(m["key"]) or m)  # the full one, if the file has it
            record = calibrated(problem, m, self.args.lo, self.args.hi, self.config)
            if self.args.keep_all or record.learnability_zone:
                self.kept.append(record)
            if self.args.harder_variants and m["pass_rate"] >= self.args.lo:
                self.run.request_variant(problem)

    def in_window(self) -> int:
        return sum(bool(k.learnability_zone) for k in self.kept)


def _run(args, sampler, files: list[Path]) -> int:
    from tqdm import tqdm

    from laimark.core.cli import make_sandbox
    from laimark.core.records import Problem, write_jsonl_atomic, write_meta
    from laimark.curriculum.calibrate import (
        MeasuredStore,
        calibration_config,
        in_window,
        plot_histogram,
        window_counts,
    )
    from laimark.curriculum.generate import GenerationRun, generation_settings
    from laimark.curriculum.prompts import GENERATE_PROMPT_VERSION

    start = time.perf_counter()
    identity = dict(sampler.identity)
    settings, gen_config = generation_settings(args, identity)
    calib_config = calibration_config(args, identity)
    config = {
        **gen_config,
        "calibration": calib_config,
        "lo": args.lo,
        "hi": args.hi,
        "harder_variants": args.harder_variants,
    }
    try:
        run = GenerationRun(files[1], args.resume, config, settings)
        store = MeasuredStore(files[2], args.resume, calib_config)
        state = _Kept(args, run, store, calib_config)
        run.replay(state.absorb)
    except ValueError as e:
        return usage_error(str(e))
    max_attempts = args.max_attempts or 20 * args.target
    with (
        make_sandbox(args) as sandbox,
        tqdm(
            total=args.target,
            desc="in window",
            unit="problem",
            initial=min(state.in_window(), args.target),
        ) as bar,
    ):
        while state.in_window() < args.target and run.attempts < max_attempts:
            results, found = run.run_round(sampler, sandbox), state.in_window()
            begin = time.perf_counter()
            for r in results:
                if r["stage"] is None and found < args.target:
                    m = store.measure(
                        Problem.from_dict(r["problem"]), sampler, sandbox, calib_config
                    )
                    r["calibration"] = {
                        k: m[k] for k in ("key", "samples", "n_passed", "pass_rate")
                    }
                    found += in_window(m["pass_rate"], args.lo, args.hi)
            run.commit(results, {"calibrate": time.perf_counter() - begin})
            state.absorb(results)
            write_jsonl_atomic(args.output, [k.to_dict() for k in state.kept])
            bar.update(min(found, args.target) - bar.n)
            bar.set_postfix(attempts=run.attempts)
        sandbox_info = sandbox.describe()
    run.close()
    store.close()
    write_jsonl_atomic(args.output, [k.to_dict() for k in state.kept])
    counts = window_counts(state.measured, args.lo, args.hi)
    plot = args.output + ".hist.png"
    plot_histogram(
        state.measured,
        args.lo,
        args.hi,
        plot,
        f"{counts['in_window']} of {counts['measured']} problems in the window",
    )
    summary = run.summary()
    funnel = {
        **summary.pop("funnel"),
        "measured": counts["measured"],
        "in_window": counts["in_window"],
    }
    work = sum(summary["seconds"].values())
    write_meta(
        args.output,
        {
            "stage": "generate_and_calibrate_hf",
            "args": vars(args),
            "seed": args.seed,
            "model": sampler.identity,
            "prompt_version": {
                "generate": GENERATE_PROMPT_VERSION,
                "solve": calib_config["prompt_version"],
            },
            "config_id": run.config_id,
            "config": config,
            "sandbox": sandbox_info,
            "funnel": funnel,
            "counts": counts,
            **summary,
            "written": len(state.kept),
            "plot": plot,
            "complete": counts["in_window"] >= args.target,
            "work_seconds": round(work, 2),
            "session_wall_seconds": round(time.perf_counter() - start, 2),
            "in_window_per_hour": round(counts["in_window"] / work * 3600, 2) if work else None,
        },
    )
    log.info(
        "funnel: %s; wrote %d problems to %s",
        " -> ".join(f"{k} {v}" for k, v in funnel.items()),
        len(state.kept),
        args.output,
    )
    return EXIT_OK if counts["in_window"] else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
