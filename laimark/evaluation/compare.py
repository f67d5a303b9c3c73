"""laimark-eval's compare mode: two greedy results files of the same tasks, paired.

Per-task gained/lost, pass@1 with 95% Wilson intervals, McNemar's exact test; written as a
Markdown table and a PNG, each with its sidecar.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from laimark.core.cli import EXIT_OK
from laimark.core.config import check
from laimark.core.records import EvalResult, RecordError, load_records
from laimark.core.runs import Run
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
    a, b = outcomes(a_path), outcomes(b_path)
    try:
        table = paired_outcomes(a, b)
    except ValueError as e:
        raise RecordError(f"{a_path} and {b_path}", 0, None, str(e)) from None
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
