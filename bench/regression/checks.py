"""The outcome of checking bounds: one :class:`Check` per bound, and a :class:`CheckReport`
that keeps a bound's passing attempt across retries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.results.statistics import against_bound


@dataclass
class Check:
    """One bound checked."""

    name: str
    kind: str
    """``"step_time_ratio"``, ``"harness_ratio"`` or ``"harness_ratio_pregathered"``."""
    value: float
    low: float
    high: float
    ok: bool
    detail: str = ""
    """The times behind the ratio, for people."""
    ci95: tuple[float, float] | None = None
    """95 % interval of ``value`` from its rounds (``None``: too few rounds, or a plain number)."""
    p_value: float | None = None
    """The test that the rounds lie past the bound (``None`` when ``value`` is within it)."""
    significant: bool = False
    """Whether the rounds cross the bound significantly, by compare's rule (the test, and the
    whole interval past the bound)."""

    @classmethod
    def of_rounds(cls, name: str, kind: str, rounds: Sequence[float], low: float, high: float,
                  detail: str = "") -> Check:
        """The check of per-round ratios: it fails when their median is past the bound (a
        retry then measures it again); :func:`bench.results.statistics.against_bound` adds the
        interval, the p-value and whether the crossing is significant, for the line.

        Significance does not decide: with a bound's margin gone on a loaded machine (a
        five-fold slower reference read 0.67 against a 0.7 floor), a real slowdown was not
        significant in nine rounds, and a check that waits for significance lets it pass."""
        test = against_bound(rounds, low, high)
        return cls(name, kind, test.ratio, low, high, low <= test.ratio <= high, detail, test.ci95, test.p_value,
                   test.outside)

    def describe(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        if self.kind == "step_time_ratio":
            allowed = f"{self.low:g}..{self.high:g}" if self.low > 0 else f"<= {self.high:g}"
            what = "step time / reference"
        else:
            allowed = f">= {self.low:g}"
            what = "harness steps/s / bare loop"
            if self.kind.endswith("pregathered"):
                what += " (pre-gathered batches)"
        detail = f"; {self.detail}" if self.detail else ""
        statistics = ""
        if self.ci95 is not None:
            statistics = f", 95% CI {self.ci95[0]:.3f}-{self.ci95[1]:.3f}"
        if self.p_value is not None:  # the median is past the bound
            statistics += f", p={self.p_value:.2g}, " + ("significant" if self.significant else "not significant")
        return f"{verdict}: {self.name}: {what} = {self.value:.3f}{statistics} (allowed {allowed}{detail})"


@dataclass
class CheckReport:
    """Checks after retries: a bound fails only if it failed in every attempt."""

    checks: list[Check]
    """One per bound: its passing attempt if it had one, else its last."""
    attempts: int = 1
    """Measurement passes made (the most any part of the check needed)."""
    retried: list[str] = field(default_factory=list)
    """Names measured again because a bound failed in an earlier attempt."""

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def extend(self, other: CheckReport) -> None:
        self.checks.extend(other.checks)
        self.attempts = max(self.attempts, other.attempts)
        self.retried.extend(name for name in other.retried if name not in self.retried)

    def describe(self) -> str:
        lines = [check.describe() for check in self.checks]
        if self.retried:
            lines.append(
                f"measured again after a failed bound: {', '.join(self.retried)} ({self.attempts} attempts "
                "at most; a bound fails only if it failed in every attempt)"
            )
        return "\n".join(lines)


def _merge(final: dict[tuple[str, str], Check], checks: Sequence[Check]) -> set[str]:
    """Keep each bound's passing result (or its latest); return the names that failed now."""
    failing = set()
    for check in checks:
        key = (check.name, check.kind)
        previous = final.get(key)
        if previous is None or not previous.ok:
            final[key] = check
        if not check.ok:
            failing.add(check.name)
    return failing
