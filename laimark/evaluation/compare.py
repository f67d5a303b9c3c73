"""laimark-eval's compare mode: results files of the same tasks, one or more runs per arm, paired.

Per-task pass rates (pooled over an arm's runs), the sign-flip permutation test on their
differences with a bootstrap interval (`evaluation.paired`), and for two greedy files also
pass@1 with Wilson intervals, gained/lost tasks, McNemar's exact test and what changed in each
changed answer (`evaluation.changes`: format only, a fix, or a different solution); written as
Markdown, JSON and a PNG, each with its sidecar.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

from laimark.core.cli import EXIT_OK
from laimark.core.config import check
from laimark.core.records import EvalResult, RecordError, load_records
from laimark.core.runs import Run
from laimark.core.seeds import DEFAULT_SEED
from laimark.evaluation.changes import classify_changes
from laimark.evaluation.paired import (
    PERMUTATIONS,
    bootstrap_interval,
    combine_pvalues,
    paired_differences,
    pool_rates,
    sign_flip_test,
)
from laimark.evaluation.stats import mean_interval, paired_outcomes, task_order

POOLS = ("mean", "fisher")


@dataclass(frozen=True)
class CompareConfig:
    """laimark-eval --compare A [A ...] [--against B [B ...]] [--report PREFIX]."""

    compare: list[str]
    against: list[str] | None = None  # None: --compare holds exactly A and B
    report: str | None = None  # None: A_vs_B beside A
    pool: str = "mean"
    permutations: int = PERMUTATIONS
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.against is None:
            check(
                len(self.compare) == 2,
                "--compare takes two results files, or arm A's files with --against B's",
            )
        check(self.pool in POOLS, f"--pool must be one of {', '.join(POOLS)}")
        a, b = self.arms()
        check(
            self.pool != "fisher" or len(a) == len(b),
            f"--pool fisher pairs run i of A with run i of B: {len(a)} and {len(b)} files given",
        )
        check(self.permutations >= 100, "--permutations must be >= 100")

    def arms(self) -> tuple[list[str], list[str]]:
        if self.against is None:
            return [self.compare[0]], [self.compare[1]]
        return list(self.compare), list(self.against)


def compare(config: CompareConfig) -> int:
    files_a, files_b = config.arms()
    runs_a, runs_b = [answers(f) for f in files_a], [answers(f) for f in files_b]
    where = f"{files_a[0]} and {files_b[0]}"
    try:
        table = compare_arms(runs_a, runs_b, config)
    except ValueError as e:
        raise RecordError(where, 0, None, str(e)) from None
    labels = (run_label(files_a[0]), run_label(files_b[0]))
    prefix = config.report or str(Path(files_a[0]).with_name(f"{labels[0]}_vs_{labels[1]}"))
    md = markdown(table, labels, (files_a, files_b))
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    Path(prefix + ".md").write_text(md)
    Path(prefix + ".json").write_text(json.dumps(table, indent=1) + "\n")
    plot(table, labels, prefix + ".png")
    for out in (prefix + ".md", prefix + ".json", prefix + ".png"):
        # A report is derived from its inputs: writing it again replaces it.
        run = Run("laimark-eval --compare", out, config, overwrite=True)
        for path in files_a + files_b:
            run.add_input(path)
        run.record(counts=table)
        run.finish()
    print(md)
    return EXIT_OK


def compare_arms(runs_a: list[dict], runs_b: list[dict], config: CompareConfig) -> dict:
    """The comparison of two arms, each one or more runs (seeds) of task -> [(passed, answer)].

    Always: per-task pass rates (pooled over an arm's runs by their mean), the sign-flip
    permutation test on the per-task differences and a bootstrap interval on their mean; with
    `pool="fisher"`, the p-value is instead Fisher's combination of one test per pair of runs
    (run i of A against run i of B). With one greedy run per arm, also McNemar's exact test,
    the gained and lost tasks and what changed in each changed answer."""
    rates_a, rates_b = _pooled(runs_a, "A"), _pooled(runs_b, "B")
    diffs = paired_differences(rates_a, rates_b)
    tasks = sorted(rates_a, key=task_order)
    out: dict = {
        "tasks": len(tasks),
        "runs": [len(runs_a), len(runs_b)],
        "samples_per_task": [_samples(runs_a), _samples(runs_b)],
        "a": _side(rates_a, runs_a),
        "b": _side(rates_b, runs_b),
        "difference": sum(diffs) / len(diffs),
        "difference_ci95": list(bootstrap_interval(diffs, seed=config.seed)),
        "pool": config.pool,
    }
    if config.pool == "fisher":
        tests = [
            sign_flip_test(
                paired_differences(_rates(ra), _rates(rb)), config.permutations, config.seed + i
            )
            for i, (ra, rb) in enumerate(zip(runs_a, runs_b))
        ]
        out["test"] = {
            "p": combine_pvalues([t["p"] for t in tests]),
            "method": "fisher",
            "per_run": tests,
        }
    else:
        out["test"] = sign_flip_test(diffs, config.permutations, config.seed)
    out["per_task"] = {t: [rates_a[t], rates_b[t]] for t in tasks}
    greedy = len(runs_a) == len(runs_b) == 1 and out["samples_per_task"] == [1, 1]
    if greedy:
        a = {t: v[0][0] for t, v in runs_a[0].items()}
        b = {t: v[0][0] for t, v in runs_b[0].items()}
        table = paired_outcomes(a, b)
        out.update({k: table[k] for k in ("both", "neither", "gained", "lost", "mcnemar_p")})
        out["a"].update(table["a"])
        out["b"].update(table["b"])
        changed = {
            t: (runs_a[0][t][0][1], runs_b[0][t][0][1]) for t in table["gained"] + table["lost"]
        }
        out["changes"] = classify_changes(changed)
    return out


def _pooled(runs: list[dict], arm: str) -> dict[str, float]:
    try:
        return pool_rates([_rates(r) for r in runs])
    except ValueError as e:
        raise ValueError(f"arm {arm}: {e}") from None


def _rates(run: dict) -> dict[str, float]:
    return {t: sum(p for p, _ in v) / len(v) for t, v in run.items()}


def _samples(runs: list[dict]) -> int:
    return min(len(v) for r in runs for v in r.values())


def _side(rates: dict[str, float], runs: list[dict]) -> dict:
    values = list(rates.values())
    return {
        "passed_samples": sum(p for r in runs for v in r.values() for p, _ in v),
        "total_samples": sum(len(v) for r in runs for v in r.values()),
        "pass@1": sum(values) / len(values),
        "ci95": list(mean_interval(values)) if len(values) > 1 else [None, None],
    }


def run_label(path: str) -> str:
    """A short name for a results file: `runs/eval/base.jsonl_results.jsonl` -> `base`."""
    name = Path(path).name
    for suffix in (".jsonl", "_results", ".jsonl"):
        name = name.removesuffix(suffix)
    return name


def outcomes(path: str) -> dict[str, bool]:
    """task_id -> passed, from a results file with exactly one sample per task."""
    out = {}
    for task, samples in answers(path).items():
        if len(samples) > 1:
            raise RecordError(
                path, 0, "task_id", f"{task} has {len(samples)} samples: one per task wanted"
            )
        out[task] = samples[0][0]
    return out


def answers(path: str) -> dict[str, list[tuple[bool, str]]]:
    """task_id -> [(passed, completion), ...] in file order, from a results file."""
    out: dict[str, list[tuple[bool, str]]] = {}
    lines: list[tuple[int, str]] = []
    for line, r in load_records(path, EvalResult):
        out.setdefault(r.task_id, []).append((r.passed, r.completion))
        lines.append((line, r.task_id))
    fewest = min((len(v) for v in out.values()), default=0)
    seen: dict[str, int] = {}
    for line, task in lines:  # a task with more samples than another: a repeated line
        seen[task] = seen.get(task, 0) + 1
        if seen[task] > fewest:
            raise RecordError(
                path,
                line,
                "task_id",
                f"{task} has {len(out[task])} samples and another task {fewest}: every task "
                "needs the same number",
            )
    if not out:
        raise RecordError(path, 0, None, "no results in the file")
    return out


def markdown(t: dict, labels: tuple[str, str], paths: tuple[list[str], list[str]]) -> str:
    greedy = "mcnemar_p" in t
    ci = "95% CI (Wilson)" if greedy else "95% CI (normal, over tasks)"
    rows = [
        f"| arm | files | runs x samples per task | passed | pass@1 | {ci} |",
        "|---|---|---|---|---|---|",
    ]
    for i, (key, label, files) in enumerate(zip(("a", "b"), labels, paths, strict=True)):
        s = t[key]
        shown = ", ".join(f"`{f}`" for f in files)
        lo, hi = s["ci95"]
        interval = f"{lo:.3f}-{hi:.3f}" if lo is not None else "-"
        rows.append(
            f"| {label} | {shown} | {t['runs'][i]} x {t['samples_per_task'][i]} | "
            f"{s['passed_samples']}/{s['total_samples']} | {s['pass@1']:.3f} | {interval} |"
        )
    test = t["test"]
    how = (
        "Fisher's combination of one sign-flip test per pair of runs"
        if test["method"] == "fisher"
        else f"sign-flip permutation test, {test['method']}, {test['permutations']} patterns"
    )
    lo, hi = t["difference_ci95"]
    pooled = "per-task rates averaged over each arm's runs; " if max(t["runs"]) > 1 else ""
    lines = [
        "",
        f"Paired over {t['tasks']} tasks ({pooled}B - A per task): mean difference "
        f"{t['difference']:+.4f}, 95% bootstrap interval {lo:+.4f} to {hi:+.4f}; "
        f"{how}: p = {test['p']:.4g}.",
    ]
    if "mcnemar_p" in t:
        kinds, counts = t["changes"]["tasks"], t["changes"]["counts"]

        def listed(tasks: list[str]) -> str:
            return ", ".join(f"{task} ({kinds[task]})" for task in tasks) or "none"

        lines += [
            "",
            f"Greedy outcomes: both pass {t['both']}, neither {t['neither']}, gained by "
            f"{labels[1]} {len(t['gained'])}, lost {len(t['lost'])}; McNemar exact "
            f"p = {t['mcnemar_p']:.4g}.",
            "",
            f"Changed verdicts by what changed in the answer: format only {counts['format']} "
            f"(the same code once whitespace, fences, comments and trailing tests are set aside), "
            f"same algorithm with a fix {counts['fix']}, different solution "
            f"{counts['different']}.",
            "",
            f"Gained: {listed(t['gained'])}",
            "",
            f"Lost: {listed(t['lost'])}",
        ]
    return "\n".join(rows + lines + [""])


def plot(t: dict, labels: tuple[str, str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none wanted
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    values = [t[k]["pass@1"] for k in ("a", "b")]
    errors = [
        [v - (t[k]["ci95"][0] if t[k]["ci95"][0] is not None else v) for k, v in zip("ab", values)],
        [(t[k]["ci95"][1] if t[k]["ci95"][1] is not None else v) - v for k, v in zip("ab", values)],
    ]
    names = [f"A: {labels[0]}", f"B: {labels[1]}"]
    left.bar(
        [textwrap.fill(n, 24) for n in names],
        values,
        yerr=errors,
        capsize=6,
        color=["#8da0cb", "#66c2a5"],
    )
    left.set(ylim=(0, 1), ylabel="pass@1", title=f"pass@1, 95% CI ({t['tasks']} tasks)")
    diffs = sorted(b - a for a, b in t["per_task"].values())
    right.bar(
        range(len(diffs)),
        diffs,
        width=1.0,
        color=["#66c2a5" if d > 0 else "#8da0cb" if d < 0 else "#cccccc" for d in diffs],
    )
    right.axhline(0, color="black", linewidth=0.6)
    right.set(
        title=f"per-task difference B - A, sorted (p = {t['test']['p']:.3g})",
        xlabel="tasks",
        ylabel="pass-rate difference",
        ylim=(-1.05, 1.05),
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
