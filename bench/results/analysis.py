"""What a run derives from its rows once each is in the document: parity and the roofline.

The measurement of a row never changes; its :class:`~bench.results.model.Analysis` is
computed here, as the row joins its document:

- *parity*: the largest absolute difference between the row's parameters and its
  reference's, after ``parity_step`` and after the last step. A row's reference is the
  first ok row trained on the same batch schedule. Only the reference rows' snapshots are
  kept (:class:`ParityReferences`), so a run's memory does not grow with its rows.
- *roofline*: the row's steps/s as a fraction of what its device's ceilings allow a step
  of its stated work (:func:`bench.roofline.rate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.classifier import StepWork
from bench.results.model import Analysis, ParameterSnapshots, Row, RunDocument


@dataclass
class ParityReferences:
    """The parameter snapshots of each schedule's reference row (and of no other row)."""

    snapshots: dict[str | None, ParameterSnapshots] = field(default_factory=dict)

    def compare(self, row: Row, parameters: ParameterSnapshots) -> tuple[float | None, float | None]:
        """The row's differences from its reference (itself, when it is the first ok row)."""
        if not row.ok:
            return None, None
        reference = self.snapshots.setdefault(row.schedule_sha256, parameters)
        return max_abs_diff(reference.at_parity, parameters.at_parity), max_abs_diff(reference.final, parameters.final)

    def release(self, schedule_sha256: str | None) -> None:
        """Forget the references of a schedule no later row trains on."""
        for key in [key for key in self.snapshots if key == schedule_sha256
                    or (isinstance(key, tuple) and key and key[0] == schedule_sha256)]:
            del self.snapshots[key]

    def nbytes(self) -> int:
        """The bytes of the parameter arrays kept."""
        return sum(int(np.asarray(value).nbytes)
                   for snapshots in self.snapshots.values()
                   for params in (snapshots.at_parity, snapshots.final) if params
                   for value in params.values())


def analyse(row: Row, parameters: ParameterSnapshots, references: ParityReferences, document: RunDocument) -> Row:
    """``row`` with its analysis: parity against its reference, its roofline rating."""
    at_parity, final = references.compare(row, parameters)
    return row.with_analysis(Analysis(at_parity, final, **roofline_rating(row, document)))


def roofline_rating(row: Row, document: RunDocument) -> dict[str, Any]:
    """The row's fraction of what its device's ceilings allow a step of its work (or why not)."""
    from bench import roofline
    from bench.roofline.ceilings import Ceilings

    if not document.roofline:
        return {}
    if row.node is not None:  # measured on another machine than these ceilings
        return {"roofline_reason": "ran on another node than the ceilings were measured on"}
    entry = document.ceilings_for(row.device, row.settings.get("threads", document.RUN_THREADS))
    ceilings = Ceilings.from_dict(entry) if entry else None
    work = None if row.flops_per_step is None or row.bytes_per_step is None else StepWork(
        row.flops_per_step, row.bytes_per_step)
    rating = roofline.rate(row.steps_per_second if row.ok else None, work, ceilings)
    return {
        "roofline_fraction": rating.fraction,
        "attainable_steps_per_second": rating.attainable_steps_per_second,
        "roofline_bound": rating.limited_by,
        "roofline_reason": rating.reason,
    }


def max_abs_diff(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray] | None) -> float | None:
    """Largest absolute difference over parameters present in both with the same shape.

    NaN when either side holds a NaN (never hidden behind a smaller finite difference)."""
    if not a or not b or set(a) != set(b):
        return None
    worst = 0.0
    for name, value in a.items():
        other = b[name]
        if np.shape(value) != np.shape(other):
            return None
        diff = np.abs(np.asarray(value, dtype=np.float64) - np.asarray(other, dtype=np.float64))
        largest = float(diff.max(initial=0.0))  # max propagates NaN
        if math.isnan(largest):
            return math.nan
        worst = max(worst, largest)
    return worst
