"""Statistics of a row's step times, derived from the raw times in one place.

As pytest-benchmark's ``Stats`` and torch.utils.benchmark's ``Measurement`` do, a row keeps
every step's time and :class:`StepStats` derives the median, quartiles, outliers and
steps/s from them, for the tables, the export and the comparison alike.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StepStats:
    """Statistics of a row's steady steps (every step after the first), in seconds.

    The quartiles, outlier counts and Tukey fences are pytest-benchmark's definitions, so
    an export is exactly what pytest-benchmark would have computed from the same times.
    """

    data: tuple[float, ...]

    @classmethod
    def of_row(cls, step_seconds: Sequence[float]) -> StepStats | None:
        """The steady steps of a row's times: all but the first (tracing, compilation)."""
        if not step_seconds:
            return None
        return cls(tuple(step_seconds[1:] if len(step_seconds) > 1 else step_seconds))

    @cached_property
    def sorted(self) -> list[float]:
        return sorted(self.data)

    @property
    def rounds(self) -> int:
        return len(self.data)

    @property
    def total(self) -> float:
        try:
            return math.fsum(self.data)
        except OverflowError:  # times no clock gives, from a hand-made file
            return math.inf

    @property
    def min(self) -> float:
        return self.sorted[0]

    @property
    def max(self) -> float:
        return self.sorted[-1]

    @cached_property
    def mean(self) -> float:
        return statistics.mean(self.data)

    @cached_property
    def stddev(self) -> float:
        return statistics.stdev(self.data) if len(self.data) > 1 else 0.0

    @cached_property
    def median(self) -> float:
        return statistics.median(self.data)

    def percentile(self, q: float) -> float:
        """Linear interpolation between closest ranks (numpy's default)."""
        return float(np.percentile(self.sorted, q))

    @cached_property
    def q1(self) -> float:
        return self._quartiles[0]

    @cached_property
    def q3(self) -> float:
        return self._quartiles[1]

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @cached_property
    def _quartiles(self) -> tuple[float, float]:
        """Wikipedia's methods 3 (odd n) and 2 (even n), as pytest-benchmark."""
        data, n = self.sorted, len(self.sorted)
        if n == 1:
            return data[0], data[0]
        if n % 2:
            k, r = n // 4, n % 4
            if r == 1:
                return 0.25 * data[k - 1] + 0.75 * data[k], 0.75 * data[3 * k] + 0.25 * data[3 * k + 1]
            return 0.75 * data[k] + 0.25 * data[k + 1], 0.25 * data[3 * k + 1] + 0.75 * data[3 * k + 2]
        return statistics.median(data[: n // 2]), statistics.median(data[n // 2 :])

    @property
    def iqr_outliers(self) -> int:
        low, high = self.q1 - 1.5 * self.iqr, self.q3 + 1.5 * self.iqr
        return sum(1 for v in self.data if v < low or v > high)

    @property
    def stddev_outliers(self) -> int:
        low, high = self.mean - self.stddev, self.mean + self.stddev
        return sum(1 for v in self.data if v < low or v > high)

    @property
    def ld15iqr(self) -> float:
        """Lowest datum within 1.5 IQR below Q1."""
        if len(self.data) == 1:
            return self.data[0]
        return self.sorted[bisect_left(self.sorted, self.q1 - 1.5 * self.iqr)]

    @property
    def hd15iqr(self) -> float:
        """Highest datum within 1.5 IQR above Q3."""
        if len(self.data) == 1:
            return self.data[0]
        return self.sorted[bisect_right(self.sorted, self.q3 + 1.5 * self.iqr) - 1]

    @property
    def steps_per_second(self) -> float | None:
        """The steady-state rate: 1 / the median step time."""
        return 1.0 / self.median if self.median > 0 else None

    def as_pytest_benchmark(self) -> dict[str, Any]:
        """pytest-benchmark's ``Stats.as_dict()``, plus ``iterations``."""
        return {
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "stddev": self.stddev,
            "rounds": self.rounds,
            "median": self.median,
            "iqr": self.iqr,
            "q1": self.q1,
            "q3": self.q3,
            "iqr_outliers": self.iqr_outliers,
            "stddev_outliers": self.stddev_outliers,
            "outliers": f"{self.stddev_outliers};{self.iqr_outliers}",
            "ld15iqr": self.ld15iqr,
            "hd15iqr": self.hd15iqr,
            "ops": self.rounds / self.total if self.total else 0,
            "total": self.total,
            "iterations": 1,
        }
