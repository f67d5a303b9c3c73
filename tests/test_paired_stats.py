"""Paired statistics of laimark.evaluation.paired against hand-computed and closed-form cases."""

from __future__ import annotations

import doctest
import itertools
import math
from statistics import NormalDist

import pytest

from laimark.evaluation import paired
from laimark.evaluation.paired import (
    bootstrap_interval,
    combine_pvalues,
    detectable_difference,
    paired_differences,
    pool_rates,
    power,
    shifted,
    sign_flip_test,
)


def test_doctests():
    assert doctest.testmod(paired).failed == 0


# ---------------------------------------------------------------- the sign-flip test
def brute_force(diffs):
    """Every sign pattern, by itertools: the definition of the exact p-value."""
    observed = abs(sum(diffs))
    patterns = list(itertools.product((1, -1), repeat=len(diffs)))
    extreme = sum(abs(sum(s * d for s, d in zip(p, diffs))) >= observed - 1e-12 for p in patterns)
    return extreme / len(patterns)


@pytest.mark.parametrize(
    "diffs",
    [[0.1, 0.2, 0.3], [0.5, -0.25, 0.125, 0.5, 0.0, -0.75], [1.0] * 5, [0.3, -0.3, 0.3, -0.3]],
)
def test_exact_test_matches_the_definition(diffs):
    nonzero = [d for d in diffs if d]
    assert sign_flip_test(diffs)["p"] == pytest.approx(brute_force(nonzero))


def test_one_sided_file_gives_the_smallest_exact_p():
    # All 5 tasks better by the same amount: only all-plus and all-minus are as extreme.
    t = sign_flip_test([0.2] * 5)
    assert t == {"p": 2 / 32, "method": "exact", "permutations": 32, "nonzero": 5}


def test_all_equal_runs_give_p_one():
    assert sign_flip_test([0.0] * 164)["p"] == 1.0


def test_monte_carlo_agrees_with_the_exact_test():
    diffs = [0.1 * ((i * 7) % 5 - 1.5) for i in range(18)]
    exact = sign_flip_test(diffs)
    mc = sign_flip_test(diffs, permutations=50_000, seed=3, exact_max=0)
    assert exact["method"] == "exact" and mc["method"] == "monte carlo"
    assert mc["p"] == pytest.approx(exact["p"], abs=0.01)
    assert sign_flip_test(diffs, permutations=50_000, seed=3, exact_max=0) == mc  # seeded


def test_monte_carlo_p_is_never_zero():
    t = sign_flip_test([0.5] * 40, permutations=1000)
    assert t["p"] == 1 / 1001


# ---------------------------------------------------------------- bootstrap, pooling, combining
def test_bootstrap_of_two_values_covers_the_range():
    # Resamples of [0, 1] have means 0, 0.5, 1 with probability 1/4, 1/2, 1/4.
    assert bootstrap_interval([0.0, 1.0], confidence=0.9) == (0.0, 1.0)
    assert bootstrap_interval([0.0, 1.0], confidence=0.4) == (0.5, 0.5)


def test_bootstrap_interval_holds_the_mean_and_shrinks_with_more_tasks():
    few = [0.1, -0.1, 0.3, 0.0, 0.2] * 4
    many = few * 10
    lo, hi = bootstrap_interval(few)
    lo2, hi2 = bootstrap_interval(many)
    assert lo < sum(few) / len(few) < hi and hi2 - lo2 < hi - lo


def test_pooling_averages_seeds_and_refuses_other_tasks():
    assert pool_rates([{"a": 0.2, "b": 1.0}, {"a": 0.4, "b": 0.0}]) == pytest.approx(
        {"a": 0.3, "b": 0.5}
    )
    with pytest.raises(ValueError, match="run 2 covers other tasks"):
        pool_rates([{"a": 0.2}, {"b": 0.2}])


def test_fisher_combination_matches_its_closed_form():
    # Two p-values: chi-squared with 4 d.o.f., survival exp(-x/2) (1 + x/2).
    ps = [0.04, 0.3]
    x = -2 * (math.log(0.04) + math.log(0.3))
    assert combine_pvalues(ps) == pytest.approx(math.exp(-x / 2) * (1 + x / 2))
    with pytest.raises(ValueError):
        combine_pvalues([0.0])


def test_differences_are_in_task_order():
    a = {"HumanEval/10": 0.0, "HumanEval/2": 0.5}
    b = {"HumanEval/10": 1.0, "HumanEval/2": 0.25}
    assert paired_differences(a, b) == [-0.25, 1.0]


# ---------------------------------------------------------------- power
def test_shift_keeps_rates_in_range_and_adds_delta_on_average():
    base = [0.0, 0.5, 1.0, 0.9]
    up = shifted(base, 0.05)
    assert all(0 <= p <= 1 for p in up) and sum(up) / 4 == pytest.approx(sum(base) / 4 + 0.05)
    assert up[2] == 1.0  # a solved task has no headroom
    with pytest.raises(ValueError):
        shifted(base, 0.5)


def test_power_reproduces_the_normal_approximation():
    """164 tasks at p = 0.5, 10 samples each, a gain of 5 points: the sign-flip test is close to
    a z-test on the mean difference, whose power is Phi(delta sqrt(T) / sd - z_0.975) with
    sd^2 = E[d^2] = (p_a q_a + p_b q_b) / n + delta^2."""
    base, delta, n, tasks = [0.5] * 164, 0.05, 10, 164
    pb = 0.5 + delta
    sd = math.sqrt((0.25 + pb * (1 - pb)) / n + delta**2)
    z = NormalDist()
    closed = z.cdf(delta * math.sqrt(tasks) / sd - z.inv_cdf(0.975))
    simulated = power(base, delta, samples=n, simulations=400, permutations=1000, seed=1)
    assert closed == pytest.approx(0.80, abs=0.02)
    assert simulated == pytest.approx(closed, abs=0.07)


def test_more_seeds_detect_smaller_differences():
    base = [0.1, 0.3, 0.5, 0.7, 0.9] * 20
    one = detectable_difference(base, samples=5, seeds=1, simulations=100, resolution=0.01)
    three = detectable_difference(base, samples=5, seeds=3, simulations=100, resolution=0.01)
    assert 0 < three < one
