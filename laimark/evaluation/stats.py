"""Statistics for benchmark numbers: pass@k, confidence intervals, paired tests.

The gaps between training configurations on HumanEval are a few points, about the width of a
95% interval over 164 problems, so every reported score carries its interval and every
comparison of two runs on the same problems carries a paired test (McNemar's), which uses the
pairing and is far more sensitive than comparing two intervals by eye.

Pure Python and exact integer arithmetic where it matters (`math.comb`); no numpy needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import NormalDist


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from `n` samples of which `c` passed (Chen et al., 2021).

    pass@k = 1 - C(n - c, k) / C(n, k): the chance that at least one of k samples drawn without
    replacement from the n passes. Computed as a product so large n does not overflow floats.

    Args:
        n: samples drawn for the problem.
        c: how many of them passed (0 <= c <= n).
        k: the k of pass@k (1 <= k <= n).

    >>> round(pass_at_k(10, 3, 1), 4)
    0.3
    >>> round(pass_at_k(10, 3, 5), 4)   # 1 - C(7,5)/C(10,5) = 1 - 21/252
    0.9167
    >>> pass_at_k(5, 0, 2), pass_at_k(5, 4, 2)
    (0.0, 1.0)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """pass@k over problems: the mean of `pass_at_k(n, c, k)` over (n, c) pairs.

    >>> mean_pass_at_k([(1, 1), (1, 0), (1, 1), (1, 1)], 1)
    0.75
    """
    values = [pass_at_k(n, c, k) for n, c in counts]
    if not values:
        raise ValueError("no problems to average over")
    return sum(values) / len(values)


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Chosen over the textbook p +/- z*sqrt(p(1-p)/n) because that one collapses to zero width
    at 0/n and n/n and undercovers near the ends, exactly where a weak or strong model sits.

    Args:
        successes: problems solved.
        n: problems attempted (> 0).
        confidence: coverage, 0.95 for a 95% interval.

    Returns:
        (low, high), both in [0, 1].

    >>> [round(x, 4) for x in wilson_interval(7, 10)]
    [0.3968, 0.8922]
    >>> wilson_interval(0, 20)[0], round(wilson_interval(0, 20)[1], 4)
    (0.0, 0.1611)
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need n > 0 and 0 <= successes <= n, got {successes}/{n}")
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0/n and n/n the bound is exactly 0 or 1; the formula leaves float dust there.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Normal-approximation interval for a mean over problems (e.g. sampled pass@1, c/n each).

    Used when each problem contributes a fraction rather than a 0/1 outcome, so that the
    problems, not the samples, are the unit: samples of one problem are not independent.

    >>> mean_interval([0.5, 0.5, 0.5])
    (0.5, 0.5)
    """
    if len(values) < 2:
        raise ValueError("need at least two values for an interval")
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    half = _z(confidence) * math.sqrt(var / len(values))
    return max(0.0, mean - half), min(1.0, mean + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test on paired binary outcomes.

    Only the discordant pairs carry information: `b` problems solved by A alone, `c` by B alone.
    Under the null hypothesis (A and B equally good) each discordant pair goes either way with
    probability 1/2, so the p-value is a two-sided binomial test of b successes in b + c trials:
    p = min(1, 2 * sum_{i <= min(b, c)} C(b + c, i) / 2^(b + c)). Exact at any sample size,
    unlike the chi-squared version, which misleads when b + c is small (the usual case here).

    Returns:
        The p-value; 1.0 when there are no discordant pairs.

    >>> mcnemar_exact(1, 5)    # 2 * (C(6,0) + C(6,1)) / 2**6 = 14/64
    0.21875
    >>> mcnemar_exact(0, 0), mcnemar_exact(3, 3)
    (1.0, 1.0)
    >>> round(mcnemar_exact(0, 10), 6)   # 2 / 2**10
    0.001953
    """
    if b < 0 or c < 0:
        raise ValueError(f"counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


# ---------------------------------------------------------------- summaries of results files
def summarize_results(
    records: Iterable[dict], ks: Iterable[int] = (1, 10, 100), confidence: float = 0.95
) -> dict:
    """pass@k over tasks, and an interval for pass@1, from judged samples.

    Args:
        records: dicts with `task_id` and `passed` (a results file's lines).
        ks: the k values wanted; pass@k is reported only when every task has >= k samples.
        confidence: coverage of the pass@1 interval: Wilson over tasks with one sample each,
            else `mean_interval` over the per-task pass fractions.

    >>> s = summarize_results([{"task_id": "a", "passed": True}, {"task_id": "b", "passed": False}])
    >>> s["tasks"], s["pass@1"], "pass@10" in s, s["pass@1_ci_method"]
    (2, 0.5, False, 'wilson')
    """
    by_task: dict[str, list[bool]] = {}
    for r in records:
        by_task.setdefault(r["task_id"], []).append(bool(r["passed"]))
    counts = [(len(v), sum(v)) for v in by_task.values()]
    if not counts:
        return {"tasks": 0, "samples": 0}
    n_min, n_max = min(n for n, _ in counts), max(n for n, _ in counts)
    out: dict = {
        "tasks": len(counts),
        "samples": sum(n for n, _ in counts),
        "passed_samples": sum(c for _, c in counts),
        "solved_tasks": sum(c > 0 for _, c in counts),
        "samples_per_task_min": n_min,
    }
    out.update({f"pass@{k}": mean_pass_at_k(counts, k) for k in sorted(set(ks)) if k <= n_min})
    interval: tuple = (None, None)
    if n_max == 1:
        interval, out["pass@1_ci_method"] = (
            wilson_interval(out["passed_samples"], len(counts), confidence),
            "wilson",
        )
    elif len(counts) > 1:
        interval = mean_interval([c / n for n, c in counts], confidence)
        out["pass@1_ci_method"] = "normal over tasks"
    out["pass@1_ci95"] = list(interval)
    # Per-task rates, the unit of the paired tests (laimark-eval --compare, --power).
    out["pass_rate_by_task"] = {
        t: sum(v) / len(v) for t, v in sorted(by_task.items(), key=lambda kv: task_order(kv[0]))
    }
    return out


def task_order(task_id: str):
    head, _, num = task_id.rpartition("/")
    return (head, int(num)) if num.isdigit() else (task_id, -1)


def paired_outcomes(a: dict[str, bool], b: dict[str, bool]) -> dict:
    """Compare two runs on the same tasks (task_id -> passed, one outcome per task).

    Returns:
        tasks, per-run {passed, pass@1, ci95 (Wilson)}, both, neither, `gained` (tasks B passes
        and A fails) and `lost` (the reverse), in task order, and `mcnemar_p` (exact, two-sided).

    >>> t = paired_outcomes({"T/1": True, "T/2": False, "T/3": True},
    ...                     {"T/1": True, "T/2": True, "T/3": False})
    >>> t["gained"], t["lost"], t["both"], t["neither"], t["mcnemar_p"]
    (['T/2'], ['T/3'], 1, 0, 1.0)
    """
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b), key=task_order)[0]
        raise ValueError(
            f"the two runs cover different tasks ({len(a)} vs {len(b)}; e.g. {only} "
            "is in only one): a paired comparison needs the same tasks"
        )
    n = len(a)
    side = [
        {
            "passed": sum(x.values()),
            "pass@1": sum(x.values()) / n,
            "ci95": list(wilson_interval(sum(x.values()), n)),
        }
        for x in (a, b)
    ]
    lost = sorted((t for t in a if a[t] and not b[t]), key=task_order)
    gained = sorted((t for t in a if b[t] and not a[t]), key=task_order)
    return {
        "tasks": n,
        "a": side[0],
        "b": side[1],
        "both": sum(a[t] and b[t] for t in a),
        "neither": sum(not (a[t] or b[t]) for t in a),
        "gained": gained,
        "lost": lost,
        "mcnemar_p": mcnemar_exact(len(lost), len(gained)),
    }
