"""Paired statistics on per-task pass rates: the tests that can see a few points on HumanEval.

One greedy answer per task gives McNemar's test 12-24% power for a true +3-point gain on 164
tasks. Sampled pass@1 (n answers per task at a fixed temperature) turns each task's outcome into a
rate, and two runs on the same tasks into 164 paired differences d_t = rate_B(t) - rate_A(t):

* `sign_flip_test(d)`: under the null hypothesis (A and B equally good on every task) the sign of
  each d_t is a fair coin, so the p-value is the share of the 2^n sign patterns whose mean is at
  least as far from 0 as the observed one. Exact (all patterns of the nonzero differences) up to
  `EXACT_MAX_NONZERO` of them, else Monte Carlo with a stated number of random patterns, counting
  the observed one (so p is never 0).
* `bootstrap_interval(d)`: a percentile bootstrap interval on the mean difference (tasks resampled
  with replacement).
* `pool_rates(runs)`: several result files of one arm (seeds) become one rate per task, the
  mean over seeds; `combine_pvalues` is the alternative, per-seed p-values combined (Fisher).
* `power(base_rates, delta, ...)`: by simulation from a base run's per-task rates, the chance the
  sign-flip test detects a true mean gain of `delta` with n samples x k seeds per arm, and
  `detectable_difference` the smallest delta detected with a given power.

Seeds are explicit everywhere: the same call gives the same number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from laimark.evaluation.stats import task_order

EXACT_MAX_NONZERO = 20  # 2^20 sign patterns enumerated exactly; beyond, Monte Carlo
PERMUTATIONS = 100_000  # Monte Carlo sign patterns (the p-value's resolution is 1e-5)
BOOTSTRAP = 10_000  # bootstrap resamples
_TOL = 1e-12  # "at least as extreme", robust to float summation order


def _np():
    import numpy  # here, not at module level: `laimark-eval --help` does not pay for it

    return numpy


def sign_flip_test(
    diffs: Sequence[float],
    permutations: int = PERMUTATIONS,
    seed: int = 0,
    exact_max: int = EXACT_MAX_NONZERO,
) -> dict:
    """Two-sided paired sign-flip permutation test of mean(diffs) == 0.

    Returns `p`, `method` ("exact" or "monte carlo"), `permutations` (patterns counted),
    `nonzero` (differences that are not 0; zeros carry no information and do not change p).

    >>> sign_flip_test([0.1, 0.2, 0.3])["p"]   # 2 of the 8 sign patterns are as extreme
    0.25
    >>> sign_flip_test([0.0, 0.0])["p"]
    1.0
    """
    np = _np()
    # Rates pooled over seeds can differ by one float step where they are equal: that is 0.
    d = np.asarray([x for x in diffs if abs(x) > 1e-12], dtype=float)
    if d.size == 0:
        return {"p": 1.0, "method": "exact", "permutations": 1, "nonzero": 0}
    observed = abs(d.sum())
    if d.size <= exact_max:
        # Every pattern: the sums of all 2^n sign choices, built by doubling.
        sums = np.zeros(1)
        for x in d:
            sums = np.concatenate([sums + x, sums - x])
        extreme = int(np.count_nonzero(np.abs(sums) >= observed - _TOL))
        return {
            "p": extreme / sums.size,
            "method": "exact",
            "permutations": int(sums.size),
            "nonzero": int(d.size),
        }
    rng = np.random.default_rng(seed)
    extreme, done, chunk = 0, 0, 10_000
    while done < permutations:
        m = min(chunk, permutations - done)
        signs = rng.integers(0, 2, size=(m, d.size), dtype=np.int8) * 2 - 1
        extreme += int(np.count_nonzero(np.abs(signs @ d) >= observed - _TOL))
        done += m
    return {
        "p": (extreme + 1) / (permutations + 1),
        "method": "monte carlo",
        "permutations": permutations,
        "nonzero": int(d.size),
    }


def bootstrap_interval(
    diffs: Sequence[float], confidence: float = 0.95, resamples: int = BOOTSTRAP, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval on the mean of `diffs` (tasks resampled with replacement).

    >>> bootstrap_interval([0.5, 0.5, 0.5])   # no spread, no width
    (0.5, 0.5)
    """
    np = _np()
    d = np.asarray(diffs, dtype=float)
    if d.size == 0:
        raise ValueError("no differences to bootstrap")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return round(float(lo), 12), round(float(hi), 12)


def pool_rates(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per-task rates of several runs of one arm (seeds), averaged: task -> mean rate.

    >>> pool_rates([{"T/0": 1.0, "T/1": 0.0}, {"T/0": 0.5, "T/1": 0.0}])
    {'T/0': 0.75, 'T/1': 0.0}
    """
    if not runs:
        raise ValueError("no runs to pool")
    tasks = set(runs[0])
    for i, r in enumerate(runs[1:], 2):
        if set(r) != tasks:
            odd = sorted(set(r) ^ tasks)[0]
            raise ValueError(f"run {i} covers other tasks than run 1 (e.g. {odd})")
    return {t: sum(r[t] for r in runs) / len(runs) for t in runs[0]}


def combine_pvalues(ps: Sequence[float]) -> float:
    """Fisher's method: -2 sum(log p) is chi-squared with 2k degrees of freedom under the null.

    >>> round(combine_pvalues([0.05]), 6)
    0.05
    >>> combine_pvalues([1.0, 1.0])
    1.0
    """
    if not ps or any(not 0 < p <= 1 for p in ps):
        raise ValueError(f"p-values must be in (0, 1], got {list(ps)}")
    x = -2 * sum(math.log(p) for p in ps)
    # Survival function of chi-squared with 2k d.o.f., in closed form for even d.o.f.
    k, half = len(ps), x / 2
    term, total = 1.0, 1.0
    for i in range(1, k):
        term *= half / i
        total += term
    return min(1.0, math.exp(-half) * total)


def paired_differences(a: dict[str, float], b: dict[str, float]) -> list[float]:
    """rate_B - rate_A per task, in task order; the two runs must cover the same tasks."""
    if set(a) != set(b):
        odd = sorted(set(a) ^ set(b))[0]
        raise ValueError(f"the two arms cover different tasks (e.g. {odd} is in only one)")
    return [b[t] - a[t] for t in sorted(a, key=task_order)]


# ---------------------------------------------------------------- power by simulation
def shifted(base: Sequence[float], delta: float) -> list[float]:
    """Per-task rates raised by `delta` on average, each in proportion to its headroom
    (p + delta (1 - p) / (1 - mean p)), so that no rate leaves [0, 1] for delta <= 1 - mean."""
    mean = sum(base) / len(base)
    if mean >= 1 or not 0 <= delta <= 1 - mean:
        raise ValueError(f"a mean gain of {delta} does not fit above a mean rate of {mean:.3f}")
    return [p + delta * (1 - p) / (1 - mean) for p in base]


def power(
    base: Sequence[float],
    delta: float,
    samples: int,
    seeds: int = 1,
    alpha: float = 0.05,
    simulations: int = 400,
    permutations: int = 2000,
    seed: int = 0,
) -> float:
    """Chance that the sign-flip test on pooled rates finds p < alpha when the trained arm's true
    per-task rates are `shifted(base, delta)`: each simulated arm draws `samples x seeds`
    answers per task (binomially, from the true rates), both arms' rates are compared task by
    task. The base run's observed rates stand in for the true ones."""
    np = _np()
    rng = np.random.default_rng(seed)
    p_a = np.asarray(base, dtype=float)
    p_b = np.asarray(shifted(base, delta), dtype=float)
    n = samples * seeds
    hits = 0
    for s in range(simulations):
        d = (rng.binomial(n, p_b) - rng.binomial(n, p_a)) / n
        test = sign_flip_test(d, permutations=permutations, seed=seed * 1_000_003 + s)
        hits += test["p"] < alpha
    return hits / simulations


def detectable_difference(
    base: Sequence[float],
    samples: int,
    seeds: int = 1,
    target: float = 0.8,
    alpha: float = 0.05,
    simulations: int = 400,
    seed: int = 0,
    resolution: float = 0.0025,
) -> float:
    """The smallest mean gain detected with power >= `target` (bisection on `power`, to
    `resolution`); None if even the largest gain that fits above the base is not."""
    lo, hi = 0.0, 1 - sum(base) / len(base)
    if hi <= 0 or power(base, hi, samples, seeds, alpha, simulations, seed=seed) < target:
        return None
    while hi - lo > resolution:
        mid = (lo + hi) / 2
        if power(base, mid, samples, seeds, alpha, simulations, seed=seed) >= target:
            hi = mid
        else:
            lo = mid
    return hi
