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
- *verdict*: an ``ok`` row whose figures the machine cannot have produced becomes
  ``suspect`` (:func:`verdict`): faster than its roofline by :data:`ROOFLINE_LIMIT`, or more
  time in ``parameters()`` and ``predict()`` than those calls can need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bench.classifier import StepWork
from bench.results.model import Analysis, ParameterSnapshots, Row, RunDocument, Status

ROOFLINE_LIMIT = 2.0
"""A row faster than this many times its roofline is ``suspect``: the device cannot do a
step of the stated work that fast (a margin above 1 for a working set that stays in cache,
which the measured memory bandwidth does not account for)."""
OUTSIDE_SLACK_SECONDS = 3.0
"""``parameters()`` and ``predict()`` may take this long beyond the training steps' share
(first calls compile: XLA, ``tf.function``)."""


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
    without: set[str | None] = field(default_factory=set)
    """Schedules whose reference rows' snapshots are gone (rows kept from an earlier run,
    ``--resume``): their new rows get no parity figures rather than a wrong reference."""

    def compare(self, row: Row, parameters: ParameterSnapshots,
                position: int = 0) -> tuple[float | None, float | None, int | None]:
        """The row's differences from its reference (itself, when it is the first ok row of
        its schedule with these parameter names and shapes) and the reference's position
        (``position`` is the row's own)."""
        key = parity_key(row, parameters) if row.ok and row.schedule_sha256 not in self.without else None
        if key is None:
            return None, None, None
        at, reference = self.snapshots.setdefault(key, (position, parameters))
        return (max_abs_diff(reference.at_parity, parameters.at_parity),
                max_abs_diff(reference.final, parameters.final), at)

    def release(self, schedule_sha256: str | None) -> None:
        """Forget the references of a schedule no later row trains on."""
        for key in [key for key in self.snapshots if key[0] == schedule_sha256]:
            del self.snapshots[key]

    def nbytes(self) -> int:
        """The bytes of the parameter arrays kept."""
        return sum(int(np.asarray(value).nbytes)
                   for _, snapshots in self.snapshots.values()
                   for params in (snapshots.at_parity, snapshots.final) if params
                   for value in params.values())


def analyse(row: Row, parameters: ParameterSnapshots, references: ParityReferences, document: RunDocument) -> Row:
    """``row`` with its analysis: its verdict, parity against its reference, its roofline
    rating. A suspect row is nobody's parity reference."""
    rating = roofline_rating(row, document)
    row = verdict(row, rating.get("roofline_fraction"), (document.dataset or {}).get("test_images"))
    at_parity, final, reference = references.compare(row, parameters, len(document.results))
    return row.with_analysis(Analysis(at_parity, final, parity_reference=reference, **rating))


def verdict(row: Row, roofline_fraction: float | None, test_images: int | None = None) -> Row:
    """``row``, made ``suspect`` (with the reason as its error) when it is ok but its figures
    cannot be what happened:

    - it ran faster than :data:`ROOFLINE_LIMIT` times the attainable steps/s of its stated
      work on the device's measured ceilings;
    - ``parameters()`` and ``predict()`` together took longer than the training steps would
      for as many images (``test_images`` a prediction), plus the first step's time (a
      first call compiles) and :data:`OUTSIDE_SLACK_SECONDS`: training done outside the
      timed steps (a step that defers its update to a later call) is not credited.
    """
    if not row.ok:
        return row
    reason = None
    if roofline_fraction is not None and roofline_fraction > ROOFLINE_LIMIT:
        reason = (f"{row.steps_per_second:.4g} steps/s is {roofline_fraction:.1f} times what the device's "
                  f"measured ceilings allow a step of the work it states")
    else:
        reason = _outside_steps(row, test_images)
    if reason is None:
        return row
    return replace(row, measurement=replace(row.measurement, status=Status.SUSPECT, error=reason))


def _outside_steps(row: Row, test_images: int | None) -> str | None:
    outside = (row.parameters_seconds or 0.0) + (row.eval_seconds or 0.0) + (row.eval_during_training_seconds or 0.0)
    train = row.train_seconds or 0.0
    evaluations = max(1, len(row.accuracy_curve))
    batch = row.settings.get("batch_size")
    share = 1.0
    if isinstance(batch, int) and isinstance(test_images, int) and batch > 0 and row.steps_completed:
        share = max(1.0, evaluations * test_images / (batch * row.steps_completed))
    if outside <= share * train + (row.first_step_seconds or 0.0) + OUTSIDE_SLACK_SECONDS:
        return None
    return (f"parameters() and predict() took {outside:.3g} s against {train:.3g} s for the "
            f"{row.steps_completed} training steps: work done outside the timed steps")


def roofline_rating(row: Row, document: RunDocument) -> dict[str, Any]:
    """The row's fraction of what its device's ceilings allow a step of its work (or why not)."""
    from bench import roofline
    from bench.roofline.ceilings import Ceilings

    if not document.roofline:
        return {}
    if row.node is not None:  # measured on a node: rated against that node's own ceilings
        entry = (row.node.get("ceilings") or {}).get("cpu") if row.device == "cpu" else None
        if not entry:
            return {"roofline_reason": "ran on a node that returned no ceilings of its own"}
    else:
        entry = document.ceilings_for(row.device, row.settings.get("threads", document.RUN_THREADS))
    try:
        ceilings = Ceilings.from_dict(entry) if entry else None
    except (KeyError, TypeError, ValueError):
        return {"roofline_reason": "the ceilings of the node it ran on are malformed"}
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
