"""The outcome of checking bounds: one :class:`Check` per bound, decided on its rounds with
``bench compare``'s statistics, and a :class:`CheckReport` of them all."""

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
    """The bound holds: ``value`` is within it, or past it but not significantly."""
    detail: str = ""
    """The times behind the ratio, for people."""
    ci95: tuple[float, float] | None = None
    """95 % interval of ``value`` from its rounds (``None``: too few rounds, or a plain number)."""
    p_value: float | None = None
    """The test that the rounds lie past the bound (``None`` when ``value`` is within it)."""
    significant: bool = False
    """Whether the rounds cross the bound significantly, by compare's rule (the test, and the
    whole interval past the bound)."""
    rounds: tuple[float, ...] = ()
    """The per-round ratios behind ``value``, of every attempt (empty for a plain number)."""

    @classmethod
    def of_rounds(cls, name: str, kind: str, rounds: Sequence[float], low: float, high: float,
                  detail: str = "") -> Check:
        """The check of per-round ratios, decided as ``bench compare`` decides a verdict
        (:func:`bench.results.statistics.against_bound`): it fails only when the rounds
        cross the bound significantly (p < 0.05, and the median and its whole 95 % interval
        past the bound). A median past the bound that is not significant holds, and is
        said on its line (:attr:`unsettled`)."""
        test = against_bound(rounds, low, high)
        return cls(name, kind, test.ratio, low, high, not test.outside, detail, test.ci95, test.p_value,
                   test.outside, tuple(rounds))

    @property
    def past(self) -> bool:
        """The value (the median over rounds) lies past the bound, significantly or not."""
        return not self.low <= self.value <= self.high

    @property
    def unsettled(self) -> bool:
        """Past the bound, but not significantly: noise cannot be told from a change."""
        return self.past and self.ok

    def describe(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        if self.kind == "step_time_ratio":
            allowed = f"{self.low:g}..{self.high:g}" if self.low > 0 else f"<= {self.high:g}"
            what = "CPU step time / reference"
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
            how = "significantly" if self.significant else "not significantly"
            statistics += f", p={self.p_value:.2g}: past the bound, {how}, in {len(self.rounds)} rounds"
        return f"{verdict}: {self.name}: {what} = {self.value:.3f}{statistics} (allowed {allowed}{detail})"


@dataclass
class CheckReport:
    """The checks of one ``bench check``, each decided on the rounds of all its attempts."""

    checks: list[Check]
    attempts: int = 1
    """Measurement passes made (the most any part of the check needed)."""
    retried: list[str] = field(default_factory=list)
    """What was measured again because its median was past a bound after an earlier attempt:
    classifier names, and ``"NAME (harness)"`` for a harness check."""

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def unsettled(self) -> list[Check]:
        return [check for check in self.checks if check.unsettled]

    def extend(self, other: CheckReport) -> None:
        self.checks.extend(other.checks)
        self.attempts = max(self.attempts, other.attempts)
        self.retried.extend(name for name in other.retried if name not in self.retried)

    def describe(self) -> str:
        lines = [check.describe() for check in self.checks]
        if self.retried:
            lines.append(
                f"measured again, past a bound: {', '.join(self.retried)} ({self.attempts} attempts at most; "
                "each check is decided on the rounds of all its attempts)"
            )
        unsettled = sorted({check.name for check in self.unsettled})
        if unsettled:
            lines.append(
                f"past a bound but not significantly (held, as compare's 'same'): {', '.join(unsettled)}; "
                "measure again on a quieter machine or with more --rounds"
            )
        return "\n".join(lines)
