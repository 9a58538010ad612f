"""The roofline's arithmetic: the steps/s a device allows a step, and a row's share of it.

A step of ``F`` FLOPs that must move ``Q`` bytes takes at least ``F / peak`` seconds of
arithmetic and ``Q / bandwidth`` seconds of memory traffic; overlapped perfectly it takes
the larger of the two (Williams, Waterman and Patterson, *Roofline*, CACM 2009). So::

    attainable steps/s = 1 / max(F / peak FLOP/s, Q / bandwidth)
    fraction           = measured steps/s / attainable steps/s

Pure functions: ``ceilings`` is a :class:`bench.roofline.ceilings.Ceilings` or any mapping
with ``peak_flops_per_second`` and ``memory_bytes_per_second`` (a run document's entry).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.classifier import StepWork

NO_WORK_REASON = "the model states no work per step (its ClassifierSpec has no work)"
NO_CEILINGS_REASON = "no ceilings were measured for this device"
NO_SPEED_REASON = "no steps/s was measured"


def ceiling_values(ceilings: Any) -> tuple[float, float]:
    """``(peak FLOP/s, bytes/s)`` of ``ceilings``; ValueError unless both are positive and finite."""
    if isinstance(ceilings, Mapping):
        values = (ceilings.get("peak_flops_per_second"), ceilings.get("memory_bytes_per_second"))
    else:
        values = (getattr(ceilings, "peak_flops_per_second", None), getattr(ceilings, "memory_bytes_per_second", None))
    if not all(_positive(v) for v in values):
        raise ValueError(f"ceilings need positive, finite peak_flops_per_second and memory_bytes_per_second, not {values}")
    return float(values[0]), float(values[1])  # type: ignore[arg-type]  # checked numbers above


def check_work(work: StepWork) -> StepWork:
    """``work`` itself; ValueError when its counts are negative, not finite, or both zero."""
    counts = (work.flops, work.bytes)
    if not all(_number(v) and v >= 0 for v in counts) or not any(v > 0 for v in counts):
        raise ValueError(f"a step's work needs non-negative, finite flops and bytes, not both zero: {work}")
    return work


def step_seconds(work: StepWork, ceilings: Any) -> float:
    """The least time a step of ``work`` can take on a device with ``ceilings``."""
    peak, bandwidth = ceiling_values(ceilings)
    check_work(work)
    return max(work.flops / peak, work.bytes / bandwidth)


def attainable(work: StepWork, ceilings: Any) -> float:
    """The most steps per second the device allows a step of ``work``."""
    return 1.0 / step_seconds(work, ceilings)


def fraction(steps_per_second: float, work: StepWork, ceilings: Any) -> float:
    """A row's measured steps/s as a fraction of the attainable steps/s (1 = on the roof)."""
    if not _number(steps_per_second) or steps_per_second < 0:
        raise ValueError(f"steps_per_second must be a non-negative number, not {steps_per_second!r}")
    return steps_per_second / attainable(work, ceilings)


def limited_by(work: StepWork, ceilings: Any) -> str:
    """``"compute"`` or ``"memory"``: which ceiling bounds a step of ``work``."""
    peak, bandwidth = ceiling_values(ceilings)
    check_work(work)
    return "compute" if work.flops / peak >= work.bytes / bandwidth else "memory"


def arithmetic_intensity(work: StepWork) -> float:
    """FLOPs per byte moved (infinite for a step that moves nothing)."""
    check_work(work)
    return work.flops / work.bytes if work.bytes else math.inf


def ridge_point(ceilings: Any) -> float:
    """The arithmetic intensity (FLOP/byte) where the bandwidth slope meets the compute roof."""
    peak, bandwidth = ceiling_values(ceilings)
    return peak / bandwidth


@dataclass(frozen=True)
class Rating:
    """A row against the roofline; ``reason`` says why the numbers are ``None``."""

    attainable_steps_per_second: float | None = None
    fraction: float | None = None
    limited_by: str | None = None
    reason: str | None = None


def rate(steps_per_second: float | None, work: StepWork | None, ceilings: Any | None) -> Rating:
    """Rate a row, never raising: a model without work, a device without ceilings, a row
    without steps/s, or work that is not a count each give a reason instead of numbers."""
    if work is None:
        return Rating(reason=NO_WORK_REASON)
    if ceilings is None:
        return Rating(reason=NO_CEILINGS_REASON)
    try:
        limit = attainable(work, ceilings)
        bound = limited_by(work, ceilings)
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        return Rating(reason=str(exc))
    if not _number(steps_per_second) or steps_per_second <= 0:  # type: ignore[operator]  # None ruled out by _number
        return Rating(attainable_steps_per_second=limit, limited_by=bound, reason=NO_SPEED_REASON)
    return Rating(limit, steps_per_second / limit, bound)  # type: ignore[operator]  # a positive number here


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0
