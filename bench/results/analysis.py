"""What a run derives from its rows once each is in the document: parity and the roofline.

The measurement of a row never changes; its :class:`~bench.results.model.Analysis` is
computed here, as the row joins its document:

- *parity*: the largest absolute difference between the row's parameters and its
  reference's, after ``parity_step`` and after the last step. A row's reference is the
  first ok row trained on the same batch schedule whose parameters have the same names and
  shapes (a CNN and a softmax classifier in one run each get their own reference); the
  reference's position in the document is recorded in the row's analysis
  (``parity_reference``). Only the reference rows' snapshots are kept
  (:class:`ParityReferences`), so a run's memory does not grow with its rows.
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

ParityKey = tuple[str | None, tuple[tuple[str, tuple[int, ...]], ...]]
"""``(schedule sha256, ((parameter name, shape), ...))``: rows that can be compared."""


def parity_key(row: Row, parameters: ParameterSnapshots) -> ParityKey | None:
    """The row's schedule and its parameters' names and shapes; ``None`` without snapshots."""
    snapshot = parameters.at_parity or parameters.final
    if not snapshot:
        return None
    return row.schedule_sha256, tuple(sorted((name, tuple(np.shape(value))) for name, value in snapshot.items()))


@dataclass
class ParityReferences:
    """The parameter snapshots of each reference row (and of no other row), by
    :func:`parity_key`, with the reference's position in the document."""

    snapshots: dict[ParityKey, tuple[int, ParameterSnapshots]] = field(default_factory=dict)

    def compare(self, row: Row, parameters: ParameterSnapshots,
                position: int = 0) -> tuple[float | None, float | None, int | None]:
        """The row's differences from its reference (itself, when it is the first ok row of
        its schedule with these parameter names and shapes) and the reference's position
        (``position`` is the row's own)."""
        key = parity_key(row, parameters) if row.ok else None
        if key is None:
            return None, None, None
        at, reference = self.snapshots.setdefault(key, (position, parameters))
        return (max_abs_diff(reference.at_parity, parameters.at_parity),
                max_abs_diff(reference.final, parameters.final), at)


def analyse(row: Row, parameters: ParameterSnapshots, references: ParityReferences, document: RunDocument) -> Row:
    """``row`` with its analysis: parity against its reference, its roofline rating; the row
    is to join ``document`` as its next row."""
    at_parity, final, reference = references.compare(row, parameters, len(document.results))
    return row.with_analysis(Analysis(at_parity, final, parity_reference=reference, **roofline_rating(row, document)))


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
