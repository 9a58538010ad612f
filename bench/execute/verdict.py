"""What the parent makes of a worker's report: it scores the predictions and checks the times.

A worker process runs plugin code, which can write anything to the report pipe (its path
is in ``sys.argv``), replace the worker's clock, or exit after a report of its own making.
So the parent credits a row only with what it can check itself (see docs/trust.md):

- **Accuracy is the parent's.** The worker never has the test labels; it leaves its
  predictions in ``predictions.npy`` (one line of class indices per evaluation) and says
  after which steps and seconds each was made. :func:`read_predictions` reads the file
  within limits (its header first: shape and integer dtype, no pickles), and
  :func:`bench.measure.score` computes the test accuracy, the accuracy curve and the
  time to target. Whatever accuracy the worker's report states is discarded.
- **Times are checked against the parent's clock.** The parent notes, on its own
  monotonic clock, when each of the worker's ``phase`` reports arrived (:class:`Observed`).
  A row whose reported training or evaluation time the parent's observation of that phase
  cannot support (:func:`clock_problem`), or whose report does not follow the protocol's
  order (an ``ok`` report before training and evaluation were seen), is ``suspect``.

A plugin that reads the worker's memory can still forge each message with consistent
times; what it cannot do through bench is see the labels, and its steps/s still has to
pass the roofline check (:func:`bench.results.analysis.verdict`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.job import RowJob
from bench.measure import Predictions, score
from bench.results.model import Measurement, Status

PREDICTIONS_FILE = "predictions.npy"
PHASE_ORDER = ("load", "setup", "placement", "training", "evaluation", "report", "close")
"""The phases a worker reports, in the only order :func:`bench.measure.measure` enters them."""

CLOCK_FACTOR = 2.0
"""The parent's observation of a phase may exceed twice what the worker reports for it ..."""
CLOCK_SLACK_SECONDS = 0.5
"""... plus this (the parent reads the pipe as messages arrive; a busy machine delays it) ..."""
STEP_OVERHEAD_SECONDS = 50e-6
"""... plus this much per step (the loop's bookkeeping and progress reports, between steps)."""


class ReportError(ValueError):
    """The worker's report cannot be used (its predictions file, its evaluations)."""


@dataclass
class Observed:
    """When each phase report reached the parent, on the parent's clock (``time.perf_counter``)."""

    phases: dict[str, float] = field(default_factory=dict)
    out_of_order: str | None = None
    """The first report that broke :data:`PHASE_ORDER` (a phase again, or an earlier one)."""
    measured_at: float | None = None

    def phase(self, name: str, now: float) -> None:
        if name not in PHASE_ORDER or name in self.phases or any(
                PHASE_ORDER.index(seen) > PHASE_ORDER.index(name) for seen in self.phases):
            self.out_of_order = self.out_of_order or f"phase {name!r} after {', '.join(self.phases) or 'nothing'}"
            return
        self.phases[name] = now

    def measured(self, now: float) -> None:
        if self.measured_at is None:
            self.measured_at = now

    def span(self, name: str) -> float | None:
        """Seconds from the report that phase ``name`` began to the next report after it."""
        start = self.phases.get(name)
        if start is None:
            return None
        later = [t for t in (*self.phases.values(), self.measured_at) if t is not None and t > start]
        return min(later) - start if later else None


def read_predictions(directory: Path, report: Any, count: int, num_classes: int) -> Predictions:
    """The predictions a worker left in ``directory``, as its report describes them.

    ``report`` is ``{"steps": [...], "seconds": [...], "final": bool}``; the file must hold
    one line of ``count`` integer class indices in range per evaluation, and nothing else.
    """
    if report is None:
        return Predictions()
    if not isinstance(report, dict):
        raise ReportError("its evaluations are not described")
    steps, seconds, final = report.get("steps"), report.get("seconds"), report.get("final")
    if (not isinstance(steps, list) or not isinstance(seconds, list) or len(steps) != len(seconds)
            or not isinstance(final, bool)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in steps)
            or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s >= 0
                       for s in seconds)):
        raise ReportError("its evaluations are not [steps], [seconds] and final")
    if not steps:
        return Predictions()
    path = directory / PREDICTIONS_FILE
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = header(handle)
            if shape != (len(steps), count) or dtype.kind not in "iu" or dtype.itemsize > 8 or fortran:
                raise ReportError(f"{PREDICTIONS_FILE} holds {dtype} of shape {shape}, "
                                  f"not integers of shape {(len(steps), count)}")
            lines = np.fromfile(handle, dtype=dtype, count=len(steps) * count).reshape(len(steps), count)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ReportError):
            raise
        raise ReportError(f"{PREDICTIONS_FILE} cannot be read: {exc}") from None
    if lines.size and (lines.min() < 0 or lines.max() >= num_classes):
        raise ReportError(f"{PREDICTIONS_FILE} holds class indices outside 0..{num_classes - 1}")
    return Predictions(tuple(steps), tuple(float(s) for s in seconds), tuple(lines), final)


def credited(measurement: Measurement, predictions: Predictions, labels: np.ndarray, job: RowJob,
             observed: Observed) -> Measurement:
    """The worker's measurement as the parent credits it: scored by the parent, and
    ``suspect`` when the parent's clock or the protocol's order contradict it."""
    measurement = score(measurement, predictions, labels, job)
    if measurement.status != Status.OK:
        return measurement
    if not predictions.final:
        return replace(measurement, status=Status.FAILED, error="worker: reported ok without its final predictions")
    problem = order_problem(observed) or clock_problem(measurement, observed)
    if problem is not None:
        return replace(measurement, status=Status.SUSPECT, error=problem)
    return measurement


def order_problem(observed: Observed) -> str | None:
    """Why an ``ok`` report does not follow the protocol, if it does not."""
    if observed.out_of_order is not None:
        return f"the worker's reports are out of order ({observed.out_of_order})"
    missing = [name for name in ("training", "evaluation") if name not in observed.phases]
    if missing:
        return f"the worker reported ok, but the parent never saw its {' and '.join(missing)} begin"
    return None


def clock_problem(measurement: Measurement, observed: Observed) -> str | None:
    """Why the reported times cannot be what happened, if the parent's clock says so.

    Training: the steps, the evaluations during training and the parameter snapshots
    the worker reports must account for the training phase the parent saw, within
    :data:`CLOCK_FACTOR`, :data:`STEP_OVERHEAD_SECONDS` a step and
    :data:`CLOCK_SLACK_SECONDS`; and they cannot exceed it by more than the slack.
    Evaluation: the same for ``predict`` and the final snapshot.
    """
    steps = measurement.steps_completed
    claims = {
        "training": (math.fsum(measurement.step_seconds or []) + (measurement.eval_during_training_seconds or 0.0),
                     measurement.parameters_seconds or 0.0, steps),
        "evaluation": (measurement.eval_seconds or 0.0, measurement.parameters_seconds or 0.0, 0),
    }
    for phase, (timed, snapshots, count) in claims.items():
        seen = observed.span(phase)
        if seen is None:
            continue
        allowed = CLOCK_FACTOR * (timed + snapshots) + count * STEP_OVERHEAD_SECONDS + CLOCK_SLACK_SECONDS
        if seen > allowed:
            return (f"the worker reported {timed:.3g} s of {phase}, but the parent's clock saw {seen:.3g} s "
                    f"(a slowed clock, or time spent outside the timed calls)")
        if timed > seen + CLOCK_SLACK_SECONDS:
            return (f"the worker reported {timed:.3g} s of {phase}, but the parent's clock saw only {seen:.3g} s")
    return None
