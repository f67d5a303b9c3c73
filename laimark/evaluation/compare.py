"""laimark-eval's compare mode: two greedy results files of the same tasks, paired.

Per-task gained/lost, pass@1 with 95% Wilson intervals, McNemar's exact test, and for each task
whose verdict changed what changed in the answer (`evaluation.changes`: format only, a fix, or a
different solution); written as a Markdown table and a PNG, each with its sidecar.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from laimark.core.cli import EXIT_OK
from laimark.core.config import check
from laimark.core.records import EvalResult, RecordError, load_records
from laimark.core.runs import Run
from laimark.evaluation.changes import classify_changes
from laimark.evaluation.stats import paired_outcomes


@dataclass(frozen=True)
class CompareConfig:
    """laimark-eval --compare A B [--report PREFIX]."""

    compare: list[str]
    report: str | None = None  # None: A_vs_B beside A

    def __post_init__(self) -> None:
        check(len(self.compare) == 2, "--compare takes two results files")


def compare(config: CompareConfig) -> int:
    a_path, b_path = config.compare
    answers_a, answers_b = answers(a_path), answers(b_path)
    a, b = ({t: passed for t, (passed, _) in x.items()} for x in (answers_a, answers_b))
    try:
        table = paired_outcomes(a, b)
    except ValueError as e:
        raise RecordError(f"{a_path} and {b_path}", 0, None, str(e)) from None
    changed = {t: (answers_a[t][1], answers_b[t][1]) for t in table["gained"] + table["lost"]}
    table["changes"] = classify_changes(changed)
    labels = (run_label(a_path), run_label(b_path))
    prefix = config.report or str(Path(a_path).with_name(f"{labels[0]}_vs_{labels[1]}"))
    md = markdown(table, labels, (a_path, b_path))
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    Path(prefix + ".md").write_text(md)
    plot(table, labels, prefix + ".png")
    for out in (prefix + ".md", prefix + ".png"):
        # A report is derived from its inputs: writing it again replaces it.
        run = Run("laimark-eval --compare", out, config, overwrite=True)
        for path in (a_path, b_path):
            run.add_input(path)
        run.record(counts=table)
        run.finish()
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
    return {t: passed for t, (passed, _) in answers(path).items()}


def answers(path: str) -> dict[str, tuple[bool, str]]:
    """task_id -> (passed, completion), from a results file with exactly one sample per task."""
    out: dict[str, tuple[bool, str]] = {}
    for line, r in load_records(path, EvalResult):
        if r.task_id in out:
            raise RecordError(
                path,
                line,
                "task_id",
                f"{r.task_id} appears twice: compare needs one sample per task (a greedy run)",
            )
        out[r.task_id] = (r.passed, r.completion)
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
    kinds = t["changes"]["tasks"]
    counts = t["changes"]["counts"]

    def listed(tasks: list[str]) -> str:
        return ", ".join(f"{task} ({kinds[task]})" for task in tasks) or "none"

    return "\n".join(
        rows
        + [
            "",
            f"Paired over {t['tasks']} tasks: both pass {t['both']}, neither {t['neither']}, "
            f"gained by {labels[1]} {len(t['gained'])}, lost {len(t['lost'])}; "
            f"difference {delta:+.3f}; McNemar exact p = {t['mcnemar_p']:.4g}.",
            "",
            f"Changed verdicts by what changed in the answer: format only {counts['format']} "
            f"(the same code once whitespace, fences, comments and trailing tests are set aside), "
            f"same algorithm with a fix {counts['fix']}, different solution "
            f"{counts['different']}.",
            "",
            f"Gained: {listed(t['gained'])}",
            "",
            f"Lost: {listed(t['lost'])}",
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
