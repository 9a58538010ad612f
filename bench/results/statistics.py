"""How far a steps/s figure can be trusted, and whether two runs differ: derived in one place.

As asv's ``statistics.py`` and pytest-benchmark's ``stats.py`` keep their statistics apart
from the code that measures, every interval, test and verdict of bench is computed here,
with :mod:`scipy.stats` doing the tests themselves:

- :func:`rate_interval`: a row's 95 % confidence interval of steps/s. With two or more
  worker processes (``--repeat``), a t interval on the logarithms of the processes' steps/s
  (so it covers the variation between processes); with one process, the distribution-free
  interval of the median step time of that process's steady steps, inverted (it knows
  nothing of the variation between processes, and says so: its basis is ``steps``).
- :func:`compare_rates`: the ratio candidate / baseline of two rows, its 95 % interval
  (Welch's t on logarithms), a two-sided Mann-Whitney U p-value, and a :func:`verdict`
  (significant, and the interval past the noise threshold).
  With at least :data:`MIN_PROCESSES` processes on both sides the samples are the
  processes' steps/s (basis ``processes``); otherwise they are the steady step times of each
  side's first process (basis ``steps``, which ignores the variation between processes).
- :func:`compare_times`: the same on two samples of times (``tox -e bench`` compares
  pytest-benchmark's rounds with it).
- :func:`against_bound`: whether a ratio measured round by round within one process (``bench
  check``) lies past a bound: the same rule as a verdict (significant by a rank test, here
  the one-sample Wilcoxon signed-rank test, the paired form of Mann-Whitney U, and the
  median and its whole 95 % interval past the bound; the interval is the distribution-free
  one of the median, as for one process's steps).
- :func:`repeats_needed`: how many processes per run a two-sample test needs to find a
  change of a given size significant with 80 % power, from the variation between processes
  measured.

scipy is imported when a figure is first asked for, never by a run that only measures.
"""

from __future__ import annotations

import math
import statistics as pystats
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ALPHA = 0.05
"""A change is significant when the test's p-value is below this."""
THRESHOLD = 0.05
"""Changes of the ratio within this fraction of 1 are noise (``bench compare --threshold``)."""
POWER = 0.8
"""The chance :func:`repeats_needed` asks of a test to detect the change."""
MIN_PROCESSES = 3
"""Processes each side needs before the comparison uses the processes' steps/s."""
MIN_ROUNDS = 5
"""Rounds :func:`against_bound` needs: with fewer, even every round past the bound cannot give
a one-sided p-value under :data:`ALPHA` (it is ``1 / 2**rounds`` at best)."""
Basis = Literal["processes", "steps"]
PROCESSES: Basis = "processes"
STEPS: Basis = "steps"
Verdict = Literal["faster", "slower", "same"]


@dataclass(frozen=True)
class Interval:
    """A 95 % confidence interval and what it was computed from (``processes`` or ``steps``)."""

    low: float
    high: float
    basis: Basis

    def half_width(self, centre: float) -> float:
        """The larger distance from ``centre`` to an end, as a fraction of ``centre``."""
        return max(self.high - centre, centre - self.low) / centre if centre > 0 else math.inf


def rate_interval(process_rates: Sequence[float], step_seconds: Sequence[float] | None) -> Interval | None:
    """The 95 % interval of a row's steps/s (see the module docstring), or ``None`` when
    there is nothing to compute it from (no processes' figures, fewer than 2 steady steps)."""
    rates = _positive(process_rates)
    if len(rates) >= 2:
        return Interval(*_log_t_interval(rates), PROCESSES)
    steady = _positive(step_seconds[1:] if step_seconds else [])
    if len(steady) < 2:
        return None
    low_time, high_time = _median_interval(sorted(steady))
    if low_time <= 0:
        return None
    return Interval(1.0 / high_time, 1.0 / low_time, STEPS)


@dataclass(frozen=True)
class RateComparison:
    """Candidate over baseline: the ratio of steps/s, its interval, the test, the verdict."""

    ratio: float
    ci95: tuple[float, float]
    p_value: float
    verdict: Verdict
    basis: Basis


def compare_rates(
    baseline: tuple[Sequence[float], Sequence[float] | None],
    candidate: tuple[Sequence[float], Sequence[float] | None],
    ratio: float,
    threshold: float = THRESHOLD,
    alpha: float = ALPHA,
) -> RateComparison | None:
    """Compare two rows given as ``(process steps/s, first process's step times)`` each;
    ``ratio`` is the candidate's steps/s over the baseline's, as the rows report them.

    ``None`` when neither basis has two samples a side (a schema-1 row has no step times).
    """
    rates_a, rates_b = _positive(baseline[0]), _positive(candidate[0])
    if len(rates_a) >= MIN_PROCESSES and len(rates_b) >= MIN_PROCESSES:
        return _compare_samples(rates_a, rates_b, PROCESSES, 1.0, ratio, threshold, alpha)
    a = _positive(baseline[1][1:] if baseline[1] else [])
    b = _positive(candidate[1][1:] if candidate[1] else [])
    if len(a) < 2 or len(b) < 2:
        return None
    return _compare_samples(a, b, STEPS, -1.0, ratio, threshold, alpha)  # times: the rate ratio is the inverse


def compare_times(baseline: Sequence[float], candidate: Sequence[float], threshold: float = THRESHOLD,
                  alpha: float = ALPHA) -> RateComparison | None:
    """Two samples of the time one thing takes (pytest-benchmark's rounds, say), compared as
    :func:`compare_rates` compares one process's steps: the ratio is the candidate's speed
    over the baseline's (the ratio of the geometric means of the times, inverted: the centre
    of its interval), basis ``steps``. ``None`` with fewer than two positive times a side."""
    a, b = _positive(baseline), _positive(candidate)
    if len(a) < 2 or len(b) < 2:
        return None
    return _compare_samples(a, b, STEPS, -1.0, None, threshold, alpha)


def _compare_samples(a: list[float], b: list[float], basis: Basis, sign: float, ratio: float | None,
                     threshold: float, alpha: float) -> RateComparison:
    """The test, the interval and the verdict of sample ``b`` against ``a`` (rates, ``sign``
    1; or times, ``sign`` -1, the rate ratio being their inverse). ``ratio`` ``None``: the
    ratio of the geometric means, the centre of the interval."""
    from scipy import stats

    p_value = float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    log_a, log_b = [math.log(x) for x in a], [math.log(x) for x in b]
    difference = pystats.fmean(log_b) - pystats.fmean(log_a)
    if ratio is None:
        ratio = math.exp(sign * difference)
    if _spread(log_a) == 0 and _spread(log_b) == 0:
        low = high = difference
    else:
        interval = stats.ttest_ind(log_b, log_a, equal_var=False).confidence_interval(1 - ALPHA)
        low, high = float(interval.low), float(interval.high)
    ends = sorted((math.exp(sign * low), math.exp(sign * high)))
    ci95 = (ends[0], ends[1])
    return RateComparison(ratio, ci95, p_value, verdict(ratio, ci95, p_value, threshold, alpha), basis)


def verdict(ratio: float, ci95: tuple[float, float], p_value: float, threshold: float = THRESHOLD,
            alpha: float = ALPHA) -> Verdict:
    """``faster`` or ``slower`` only when the change is both significant (``p_value <
    alpha``) and larger than the noise threshold: ``ratio`` and its whole 95 % interval
    ``ci95`` outside ``1 +- threshold``. Otherwise ``same``.

    The interval, not only the ratio, must clear the threshold: processes of one run share
    that run's moment on the machine, so a drift between the two runs can make a small
    change look significant; asking that the change be past the threshold with 95 %
    confidence keeps such drifts ``same``."""
    if not p_value < alpha:
        return "same"
    low, high = ci95
    if ratio < 1 - threshold and high < 1 - threshold:
        return "slower"
    if ratio > 1 + threshold and low > 1 + threshold:
        return "faster"
    return "same"


@dataclass(frozen=True)
class BoundTest:
    """Per-round ratios against a bound ``[low, high]`` (see :func:`against_bound`)."""

    ratio: float
    """The median over rounds."""
    ci95: tuple[float, float] | None
    """95 % interval of the median (distribution-free: order statistics of the rounds, so a
    round or two spoilt by noise do not widen it); ``None`` with fewer than
    :data:`MIN_ROUNDS` rounds."""
    p_value: float | None
    """One-sided Wilcoxon signed-rank p-value that the rounds lie past the bound the median
    is past; ``None`` when the median is within the bounds or too few rounds were taken."""
    outside: bool
    """The bound is crossed: significantly, with the ratio and its whole interval past it."""


def against_bound(rounds: Sequence[float], low: float = 0.0, high: float = math.inf,
                  alpha: float = ALPHA) -> BoundTest:
    """Whether ``rounds`` (one ratio per round, all positive) lie past ``low`` or ``high``.

    As :func:`verdict` asks a change to be significant and past the noise threshold, a
    bound counts as crossed only when the one-sided test is significant (``p_value <
    alpha``) and the median and its whole 95 % interval lie past the bound: a burst of
    noise in a round or two moves neither. With fewer than :data:`MIN_ROUNDS` rounds no
    test can be significant, so the median alone decides (and ``ci95``/``p_value`` are ``None``).
    """
    values = _positive(rounds)
    if not values:
        raise ValueError("against_bound needs at least one positive round")
    ratio = float(pystats.median(values))
    if len(values) < MIN_ROUNDS:
        return BoundTest(ratio, None, None, not low <= ratio <= high)
    ci95 = _median_interval(sorted(values))
    if low <= ratio <= high:
        return BoundTest(ratio, ci95, None, False)
    from scipy import stats

    past_high = ratio > high
    bound = math.log(high if past_high else low)
    differences = [math.log(v) - bound for v in values]
    if all(d == 0 for d in differences):
        p_value = 1.0
    else:
        result = stats.wilcoxon(differences, alternative="greater" if past_high else "less")
        p_value = float(result.pvalue)
    beyond = ci95[0] > high if past_high else ci95[1] < low
    return BoundTest(ratio, ci95, p_value, p_value < alpha and beyond)


@dataclass(frozen=True)
class Plan:
    """How many processes per run would detect a change of ``size`` on this machine."""

    repeats: int
    size: float
    cv: float
    """The variation between one row's processes: the standard deviation of log steps/s
    (about the coefficient of variation), pooled over the rows measured more than once."""
    rows: int
    """How many rows the variation was pooled from."""


def repeats_needed(samples: Sequence[Sequence[float]], size: float = THRESHOLD, alpha: float = ALPHA,
                   power: float = POWER) -> Plan | None:
    """The processes per run a two-sample test needs to detect a change of ``size`` (a
    fraction: 0.05 for 5 %) with ``power``, at significance ``alpha``, from the steps/s of
    each row's processes in ``samples`` (rows of fewer than 2 processes say nothing of the
    variation between processes: ``None`` when no row has 2).

    Welch's t on the logarithms gives the count, raised by the Mann-Whitney U test's
    asymptotic relative efficiency (3 / pi) and to the fewest processes with which that
    rank test can reach ``alpha`` at all.
    """
    from scipy import stats

    pooled, df, rows = 0.0, 0, 0
    for rates in samples:
        logs = [math.log(r) for r in _positive(rates)]
        if len(logs) >= 2:
            pooled += _spread(logs) ** 2 * (len(logs) - 1)
            df += len(logs) - 1
            rows += 1
    if rows == 0:
        return None
    sd = math.sqrt(pooled / df)
    effect = abs(math.log(1 - size))
    needed = 2
    while needed < 10_000 and sd > 0:
        dof = 2 * needed - 2
        critical = stats.t.ppf(1 - alpha / 2, dof)
        shift = effect / (sd * math.sqrt(2 / needed))
        if stats.nct.sf(critical, dof, shift) + stats.nct.cdf(-critical, dof, shift) >= power:
            break
        needed += 1
    needed = math.ceil(needed * math.pi / 3)
    while 2 / math.comb(2 * needed, needed) >= alpha:  # the smallest exact p-value must be able to pass
        needed += 1
    return Plan(max(needed, MIN_PROCESSES), size, sd, rows)


def _positive(values: Sequence[float] | None) -> list[float]:
    return [float(v) for v in (() if values is None else values) if v > 0 and math.isfinite(v)]


def _log_t_interval(values: Sequence[float]) -> tuple[float, float]:
    """The 95 % t interval of the geometric mean of ``values`` (two or more, all positive):
    a t interval on their logarithms, taken back with ``exp``."""
    logs = [math.log(v) for v in values]
    spread = _t_quantile(len(logs) - 1) * _spread(logs) / math.sqrt(len(logs))
    mean = pystats.fmean(logs)
    return math.exp(mean - spread), math.exp(mean + spread)


def _spread(values: Sequence[float]) -> float:
    return pystats.stdev(values) if len(values) > 1 else 0.0


def _t_quantile(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(1 - ALPHA / 2, df))


def _median_interval(ordered: Sequence[float]) -> tuple[float, float]:
    """The distribution-free 95 % interval of the median: the order statistics whose ranks
    the binomial distribution B(n, 1/2) fixes (its normal approximation for many values,
    the exact sum for a few; no scipy, so that saving a run of one process imports none)."""
    n = len(ordered)
    if n >= 100:
        below = math.floor(n / 2 - 1.96 * math.sqrt(n) / 2)  # values left below the interval
    else:
        below, tail = 0, 0.0
        while True:  # the largest count whose lower tail P(B < below) stays within alpha / 2
            tail += math.comb(n, below) / 2**n
            if tail > ALPHA / 2:
                break
            below += 1
    low = max(below - 1, 0)
    return ordered[low], ordered[n - 1 - low]
