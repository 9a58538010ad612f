"""bench/results/statistics.py: intervals, tests and verdicts on step times of known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.results.statistics import (
    MIN_ROUNDS,
    against_bound,
    compare_rates,
    compare_times,
    rate_interval,
    repeats_needed,
    verdict,
)

RATE = 1000.0


def _processes(rng: np.random.Generator, n: int, cv: float, scale: float = 1.0) -> list[float]:
    return list(rng.lognormal(math.log(RATE * scale), cv, n))


def _steps(rng: np.random.Generator, n: int, cv: float, slower: float = 1.0) -> list[float]:
    """A process's step times: a first (compiling) step, then lognormal steady steps."""
    return [0.5, *rng.lognormal(math.log(slower / RATE), cv, n)]


def _ratio(a: list[float], b: list[float]) -> float:
    return float(np.median(b) / np.median(a))


@pytest.mark.parametrize("basis", ["processes", "steps"])
def test_the_interval_of_a_row_covers_the_true_rate_about_95_in_100_times(basis):
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(400):
        if basis == "processes":
            interval = rate_interval(_processes(rng, 5, 0.05), None)
        else:  # the true median step time is exactly 1/RATE
            interval = rate_interval([], _steps(rng, 300, 0.2))
        assert interval is not None and interval.basis == basis
        covered += interval.low <= RATE <= interval.high
    assert 0.91 <= covered / 400 <= 0.99


def test_a_row_without_figures_has_no_interval():
    assert rate_interval([], None) is None
    assert rate_interval([RATE], [0.5]) is None  # one process, no steady step


def test_verdicts_need_significance_and_the_interval_past_the_threshold():
    assert verdict(0.75, (0.70, 0.80), 0.001) == "slower"
    assert verdict(1.25, (1.20, 1.30), 0.001) == "faster"
    assert verdict(0.97, (0.96, 0.98), 0.001) == "same"  # significant, but within 5 %
    assert verdict(0.75, (0.70, 0.80), 0.2) == "same"  # large, but noise
    assert verdict(0.90, (0.85, 0.96), 0.001) == "same"  # past 5 %, but not with 95 % confidence
    assert verdict(1.10, (1.04, 1.16), 0.001) == "same"
    assert verdict(0.97, (0.955, 0.975), 0.001, threshold=0.02) == "slower"
    assert verdict(0.75, (0.70, 0.80), 0.04, alpha=0.01) == "same"


def test_a_and_a_from_the_same_distribution_is_same_in_at_least_19_of_20():
    rng = np.random.default_rng(2)
    verdicts = []
    for _ in range(200):
        a, b = _processes(rng, 5, 0.05), _processes(rng, 5, 0.05)
        result = compare_rates((a, None), (b, None), _ratio(a, b))
        assert result is not None and result.basis == "processes"
        verdicts.append(result.verdict)
    assert verdicts.count("same") >= 190


def test_a_25_percent_slowdown_is_slower_with_5_processes_a_side():
    rng = np.random.default_rng(3)
    verdicts = []
    for _ in range(200):
        a, b = _processes(rng, 5, 0.05), _processes(rng, 5, 0.05, scale=0.75)
        result = compare_rates((a, None), (b, None), _ratio(a, b))
        assert result is not None
        low, high = result.ci95
        assert low < high
        verdicts.append(result.verdict)
    assert verdicts.count("slower") >= 190


def test_the_interval_of_the_ratio_covers_the_true_ratio():
    rng = np.random.default_rng(4)
    covered = 0
    for _ in range(400):
        a, b = _processes(rng, 5, 0.05), _processes(rng, 5, 0.05, scale=0.8)
        result = compare_rates((a, None), (b, None), _ratio(a, b))
        assert result is not None
        covered += result.ci95[0] <= 0.8 <= result.ci95[1]
    assert 0.91 <= covered / 400 <= 0.99


def test_one_process_a_side_compares_the_steps_and_says_so():
    rng = np.random.default_rng(5)
    a, b = _steps(rng, 500, 0.1), _steps(rng, 500, 0.1, slower=1.25)
    result = compare_rates(([RATE], a), ([RATE * 0.8], b), 0.8)
    assert result is not None and result.basis == "steps" and result.verdict == "slower"
    assert result.ci95[0] < 0.8 < result.ci95[1]  # rates: the inverse of the times' ratio
    same = compare_rates(([RATE], a), ([RATE], _steps(rng, 500, 0.1)), 1.0)
    assert same is not None and same.verdict == "same"


def test_three_processes_a_side_can_never_be_significant_with_a_rank_test():
    a, b = [1000.0, 1001.0, 1002.0], [500.0, 501.0, 502.0]
    result = compare_rates((a, None), (b, None), 0.5)
    assert result is not None and result.p_value >= 0.1 and result.verdict == "same"


def test_no_step_times_and_one_process_give_no_comparison():
    assert compare_rates(([RATE], None), ([RATE], None), 1.0) is None


def test_repeats_needed_grow_with_the_noise_and_detect_what_they_promise():
    rng = np.random.default_rng(6)
    quiet = repeats_needed([_processes(rng, 5, 0.01) for _ in range(4)])
    noisy = repeats_needed([_processes(rng, 5, 0.06) for _ in range(4)])
    assert quiet is not None and noisy is not None
    assert quiet.repeats == 4  # the fewest with which a rank test can reach p < 0.05
    assert noisy.repeats > quiet.repeats and 0.04 < noisy.cv < 0.08
    # with that many processes a 10 % slowdown at this noise is found significant in >= 80 %
    plan = repeats_needed([_processes(rng, 8, 0.06) for _ in range(10)], size=0.10)
    assert plan is not None
    found = 0
    for _ in range(200):
        a, b = _processes(rng, plan.repeats, 0.06), _processes(rng, plan.repeats, 0.06, scale=0.9)
        result = compare_rates((a, None), (b, None), _ratio(a, b), threshold=0.001)
        found += result is not None and result.verdict == "slower"
    assert found >= 0.75 * 200


def test_single_processes_say_nothing_of_the_repeats_needed():
    assert repeats_needed([[RATE], [RATE], []]) is None


# -- bench check: per-round ratios against a bound ----------------------------------------------------


def _rounds(rng: np.random.Generator, centre: float, cv: float, n: int = 9) -> list[float]:
    return list(rng.lognormal(math.log(centre), cv, n))


@pytest.mark.parametrize("n", [9, 27])  # one attempt's rounds; three attempts' together
def test_rounds_at_a_bound_cross_it_significantly_in_at_most_1_of_20(n):
    # the true ratio sits on the bound: about half its medians are past it, noise every time
    rng = np.random.default_rng(5)
    tests = [against_bound(_rounds(rng, 4.5, 0.1, n), 0.7, 4.5) for _ in range(200)]
    assert sum(t.ratio > 4.5 for t in tests) > 60
    assert sum(t.outside for t in tests) <= 10


def test_the_interval_is_the_medians_and_holds_it_whatever_the_tail():
    # rounds with a long tail of noise (as on a loaded machine): a mean's interval can miss
    # the median; the median's own interval holds it and ignores the tail
    rounds = [7.5, 7.6, 7.7, 7.7, 7.8, 7.9, 8.0, 15.0, 18.0, 7.6, 7.7, 7.5, 16.0, 7.8, 7.9]
    test = against_bound(rounds, 0.7, 3.8)
    assert test.ci95 is not None and test.ci95[0] <= test.ratio <= test.ci95[1] < 15.0
    assert test.outside and test.ci95[0] > 3.8


def test_a_ratio_far_past_its_bound_is_outside_with_its_interval_and_a_small_p():
    rng = np.random.default_rng(6)
    high = against_bound(_rounds(rng, 10.0, 0.15), 0.7, 4.5)
    assert high.outside and high.ci95 is not None and high.ci95[0] > 4.5 and high.p_value == pytest.approx(1 / 512)
    low = against_bound(_rounds(rng, 0.3, 0.15), 0.7, 4.5)
    assert low.outside and low.ci95 is not None and low.ci95[1] < 0.7 and low.p_value < 0.01
    floor_only = against_bound(_rounds(rng, 0.3, 0.1, 7), 0.8)
    assert floor_only.outside


def test_one_noisy_round_does_not_cross_a_bound():
    # seven rounds a little under the bound and two bursts far past it: the median is past,
    # not significantly so
    rounds = [4.3, 4.4, 4.4, 4.6, 4.6, 4.7, 4.35, 20.0, 30.0]
    test = against_bound(rounds, 0.7, 4.5)
    assert test.ratio == 4.6 and not test.outside and test.p_value is not None and test.p_value > 0.05


def test_a_ratio_within_its_bounds_needs_no_test():
    test = against_bound([2.0, 2.1, 1.9, 2.2, 2.0], 0.7, 4.5)
    assert not test.outside and test.p_value is None and test.ci95 is not None
    assert test.ci95[0] < 2.0 < test.ci95[1]


def test_too_few_rounds_for_a_test_leave_the_median_to_decide():
    assert MIN_ROUNDS == 5 and 1 / 2**MIN_ROUNDS < 0.05 < 1 / 2 ** (MIN_ROUNDS - 1)
    test = against_bound([5.0, 6.0], 0.7, 4.5)
    assert test.outside and test.ci95 is None and test.p_value is None
    assert not against_bound([4.0], 0.7, 4.5).outside
    with pytest.raises(ValueError):
        against_bound([], 0.7, 4.5)


# -- compare_times: two samples of times (tox -e bench's rounds) -------------------------------------


def test_compare_times_gives_compares_verdict_on_times():
    rng = np.random.default_rng(7)
    base = list(rng.lognormal(math.log(1e-3), 0.05, 40))
    same = compare_times(base, list(rng.lognormal(math.log(1e-3), 0.05, 40)))
    assert same is not None and same.verdict == "same" and same.basis == "steps"
    slower = compare_times(base, list(rng.lognormal(math.log(1.3e-3), 0.05, 40)))  # 30 % more time
    assert slower is not None and slower.verdict == "slower" and slower.p_value < 1e-6
    assert slower.ci95[0] <= slower.ratio <= slower.ci95[1] and slower.ratio == pytest.approx(1 / 1.3, rel=0.03)
    assert compare_times(base, list(rng.lognormal(math.log(1.3e-3), 0.05, 40)), threshold=0.3).verdict == "same"
    assert compare_times(base, [1e-3]) is None and compare_times([], base) is None
