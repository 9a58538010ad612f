"""Test accuracy over seeds: each row's accuracy as a mean with an interval, and whether
two rows' accuracies differ.

One run's accuracy depends on its seed (the batches drawn, the initial parameters), so a
single row says little about a classifier's accuracy. A sweep over seeds (``bench run
--seeds``, ``bench sweep --seed 0,1,2``) measures the same row once per seed; here

- :func:`seed_groups` gathers the rows that are equal in everything but the seed;
- :func:`spread` gives their mean accuracy and its 95 % confidence interval (Student's t
  over the per-seed accuracies: mean +- t(0.975, n-1) * s / sqrt(n));
- :func:`accuracy_verdict` tells whether two groups' accuracies differ (Welch's t-test
  on the per-seed accuracies, which does not assume equal variances).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.results.model import Row

CONFIDENCE = 0.95
"""The level of the intervals (two-sided)."""
ALPHA = 0.05
"""A difference of accuracy with a p-value below this is reported as one."""

GroupKey = tuple[str, ...]
"""What a row is without its seed: plugin, device, placement, steps per call, its other
settings and its params, as text."""


@dataclass(frozen=True)
class Spread:
    """Accuracies over seeds: their mean and its confidence interval."""

    values: tuple[float, ...]
    """The accuracy of each seed, as fractions."""
    seeds: tuple[Any, ...] = ()

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def stddev(self) -> float | None:
        """The sample standard deviation (``None`` with one value)."""
        if self.n < 2:
            return None
        mean = self.mean
        return math.sqrt(math.fsum((v - mean) ** 2 for v in self.values) / (self.n - 1))

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % confidence interval of the mean (t-based); ``None`` with one value."""
        sd = self.stddev
        if sd is None:
            return None
        from scipy import stats

        half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, self.n - 1)) * sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    def describe(self) -> str:
        """``25.31 % (95 % CI 23.90-26.72, 5 seeds)`` (one seed: ``25.31 % (1 seed)``)."""
        interval = self.interval
        if interval is None:
            return f"{100 * self.mean:.2f} % (1 seed)"
        return f"{100 * self.mean:.2f} % (95 % CI {100 * interval[0]:.2f}-{100 * interval[1]:.2f}, {self.n} seeds)"


def spread(values: Sequence[float], seeds: Sequence[Any] = ()) -> Spread:
    """:class:`Spread` of ``values`` (at least one)."""
    if not values:
        raise ValueError("no accuracies to summarise")
    return Spread(tuple(float(v) for v in values), tuple(seeds))


def group_key(row: Row) -> GroupKey:
    """The row's identity without its seed (rows with the same key differ only in the seed)."""
    settings = {key: value for key, value in row.settings.items() if key != "seed"}
    return (row.plugin, row.device, row.placement, str(row.steps_per_call),
            ", ".join(f"{key}={value}" for key, value in sorted(settings.items())),
            ", ".join(f"{key}={value}" for key, value in sorted(row.params.items())))


def seed_groups(rows: Sequence[Row]) -> dict[GroupKey, list[Row]]:
    """The ok rows with an accuracy, grouped by :func:`group_key`, in the order first seen
    (each group's rows in the order they ran)."""
    groups: dict[GroupKey, list[Row]] = {}
    for row in rows:
        if row.ok and row.test_accuracy is not None:
            groups.setdefault(group_key(row), []).append(row)
    return groups


def spread_of(rows: Sequence[Row]) -> Spread:
    """The accuracy spread of rows that differ only in the seed."""
    return spread([row.test_accuracy for row in rows], [row.settings.get("seed") for row in rows])


def seed_spreads(rows: Sequence[Row]) -> list[tuple[Row, Spread]]:
    """Each group of rows that differ only in the seed, by its first row, with its spread;
    only where some group has more than one seed (else ``[]``)."""
    groups = seed_groups(rows)
    if not any(len({r.settings.get("seed") for r in group}) > 1 for group in groups.values()):
        return []
    return [(group[0], spread_of(group)) for group in groups.values()]


@dataclass(frozen=True)
class AccuracyVerdict:
    """Whether a candidate's accuracy differs from a baseline's, over seeds."""

    verdict: str
    """``same``, ``higher``, ``lower`` (the candidate's), or ``unknown`` (too few seeds)."""
    difference: float
    """Candidate mean minus baseline mean, as a fraction."""
    p_value: float | None
    """Welch's two-sided p-value; ``None`` when not computed."""
    baseline: Spread
    candidate: Spread

    def describe(self) -> str:
        """``accuracy the same``, ``accuracy lower by 1.20 points (p=0.003)``, or why unknown."""
        if self.verdict == "unknown":
            return "accuracy not compared (needs at least 2 seeds on each side)"
        if self.verdict == "same":
            return "accuracy the same"
        p = "" if self.p_value is None else f" (p{_p_text(self.p_value)})"
        return f"accuracy {self.verdict} by {100 * abs(self.difference):.2f} points{p}"


def accuracy_verdict(baseline: Sequence[float] | Spread, candidate: Sequence[float] | Spread,
                     alpha: float = ALPHA) -> AccuracyVerdict:
    """Welch's t-test on the per-seed accuracies of two rows: ``higher``/``lower`` when the
    two-sided p-value is below ``alpha``, else ``same``; ``unknown`` with fewer than two
    seeds on a side. Two sides without any spread differ when their means do (p = 0)."""
    a = baseline if isinstance(baseline, Spread) else spread(baseline)
    b = candidate if isinstance(candidate, Spread) else spread(candidate)
    difference = b.mean - a.mean
    if a.n < 2 or b.n < 2:
        return AccuracyVerdict("unknown", difference, None, a, b)
    if a.stddev == 0 and b.stddev == 0:
        p = 1.0 if difference == 0 else 0.0
    else:
        from scipy import stats

        p = float(stats.ttest_ind(b.values, a.values, equal_var=False).pvalue)
    if not p < alpha:
        return AccuracyVerdict("same", difference, p, a, b)
    return AccuracyVerdict("higher" if difference > 0 else "lower", difference, p, a, b)


def _p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"={p:.3f}"
