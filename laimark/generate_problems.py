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
import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/generate_problems.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import EXIT_FAILED, EXIT_OK, add_sandbox_args, setup_logging, usage_error

log = logging.getLogger("laimark.generate")


def parse_args(argv):
    from laimark.curriculum.generate import add_generation_args
    from laimark.models.sampling import add_model_args

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
    p.add_argument("--seed", type=int, default=0, help="run seed; per-attempt seeds derive from it")
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
    from laimark.curriculum.generate import check_generation_args

    problem = check_generation_args(args) or (args.count < 1 and "--count must be >= 1")
    if problem:
        return usage_error(problem)
    journal = Path(args.journal or args.output + ".journal.jsonl")
    if not args.resume and any(
        f.exists() and f.stat().st_size for f in (journal, Path(args.output))
    ):
        return usage_error(
            f"{args.output} or {journal} already exists; pass --resume to continue "
            "that run or choose another --output"
        )
    from laimark.models.loading import ModelError
    from laimark.models.sampling import sampler_from_args

    try:
        sampler = sampler_from_args(args)
    except ModelError as e:
        return usage_error(str(e))
    return _generate(args, sampler, journal)


def _generate(args, sampler, journal: Path) -> int:
    from tqdm import tqdm

    from laimark.core.cli import make_sandbox
    from laimark.core.records import write_jsonl_atomic, write_meta
    from laimark.curriculum.generate import GenerationRun, generation_settings
    from laimark.curriculum.prompts import GENERATE_PROMPT_VERSION

    start = time.perf_counter()
    settings, config = generation_settings(args, dict(sampler.identity))
    max_attempts = args.max_attempts or 10 * args.count
    try:
        run = GenerationRun(journal, args.resume, config, settings)
        run.replay()
    except ValueError as e:  # a journal from other settings, or damaged before its last line
        return usage_error(str(e))
    accepted = run.screener.accepted
    if run.rounds:
        log.info(
            "resumed: %d rounds, %d attempts, %d accepted", run.rounds, run.attempts, len(accepted)
        )
    with (
        make_sandbox(args) as sandbox,
        tqdm(
            total=args.count,
            desc="accepted",
            unit="problem",
            initial=min(len(accepted), args.count),
        ) as bar,
    ):
        while len(accepted) < args.count and run.attempts < max_attempts:
            before = len(accepted)
            run.commit(run.run_round(sampler, sandbox))
            write_jsonl_atomic(args.output, [p.to_dict() for p in accepted[: args.count]])
            bar.update(min(len(accepted), args.count) - min(before, args.count))
            bar.set_postfix(attempts=run.attempts)
            log.debug("round %d: %s", run.rounds, dict(run.screener.reasons))
        sandbox_info = sandbox.describe()
    run.close()
    kept = accepted[: args.count]
    write_jsonl_atomic(args.output, [p.to_dict() for p in kept])
    summary = run.summary()
    work = sum(summary["seconds"].values())
    summary.update(
        written=len(kept),
        surplus=len(accepted) - len(kept),
        complete=len(kept) >= args.count,
        session_wall_seconds=round(time.perf_counter() - start, 2),
        work_seconds=round(work, 2),
        accepted_per_hour=round(len(kept) / work * 3600, 2) if work else None,
    )
    write_meta(
        args.output,
        {
            "stage": "generate",
            "args": vars(args),
            "seed": args.seed,
            "model": sampler.identity,
            "prompt_version": GENERATE_PROMPT_VERSION,
            "config_id": run.config_id,
            "config": config,
            "journal": str(journal),
            "sandbox": sandbox_info,
            **summary,
        },
    )
    _log_summary(summary, args)
    return EXIT_OK if kept else EXIT_FAILED


def _log_summary(summary: dict, args) -> None:
    funnel = " -> ".join(f"{k} {v}" for k, v in summary["funnel"].items())
    log.info("funnel: %s; wrote %d problems to %s", funnel, summary["written"], args.output)
    log.info("rejected by: %s", summary["rejected_by"] or "nothing")
    if not summary["complete"]:
        log.warning(
            "stopped after %d attempts (--max_attempts) with %d of %d problems",
            summary["attempts"],
            summary["written"],
            args.count,
        )


if __name__ == "__main__":
    sys.exit(main())
