"""Measure one classifier on one device: setup, training steps, evaluation.

Every phase has its own clock. Each training step is timed on its own (the batch gather
from the schedule included, as in the reference loop), so the steady-state rate is the
median of the per-step times after the first, and the first step (tracing, compilation,
lazy allocation) is reported apart. Nothing but the step and the gather runs between the
two clock reads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench.classifier import Classifier, ClassifierSpec, MultiStepClassifier, ResidentClassifier, SetupConfig
from bench.dataset import Dataset
from bench.errors import DeviceUnavailable, Terminated, describe_exception
from bench.schedule import BatchSchedule

# Row statuses.
OK = "ok"
FAILED = "failed"
UNAVAILABLE = "unavailable"
DIVERGED = "diverged"
INTERRUPTED = "interrupted"


@dataclass
class RowResult:
    """What one classifier on one device measured. Times in seconds."""

    plugin: str
    device: str
    status: str = OK
    error: str | None = None
    test_accuracy: float | None = None
    final_loss: float | None = None
    steps_completed: int = 0
    steps_per_second: float | None = None
    """Steady state: 1 / median time of the steps after the first."""
    step_seconds_median: float | None = None
    step_seconds_p10: float | None = None
    step_seconds_p90: float | None = None
    step_seconds_q1: float | None = None
    step_seconds_q3: float | None = None
    step_seconds_min: float | None = None
    step_seconds_max: float | None = None
    step_seconds_mean: float | None = None
    step_seconds_stddev: float | None = None
    """Steady steps (all but the first): quartiles, extremes, mean, sample stddev."""
    first_step_seconds: float | None = None
    load_seconds: float | None = None
    """Creating the classifier object (imports its framework the first time)."""
    setup_seconds: float | None = None
    placement: str = "feed"
    steps_per_call: int = 1
    """Steps per call of the classifier (``--steps-per-call``); step times are then each
    call's time shared equally by its steps."""
    placement_seconds: float | None = None
    """``resident`` only: copying the training set to the device once."""
    train_seconds: float | None = None
    """All training steps, the first included."""
    eval_seconds: float | None = None
    close_seconds: float | None = None
    wall_seconds: float | None = None
    diverged_at_step: int | None = None
    loss_curve: list[list[float]] = field(default_factory=list)
    """``[step, loss]`` every ``loss_every`` steps (steps counted from 1), and the last."""
    parity_step: int | None = None
    parity_max_abs_diff: float | None = None
    """Largest absolute parameter difference from the first ok row after ``parity_step``."""
    final_max_abs_diff: float | None = None
    roofline_fraction: float | None = None
    """CPU rows: steps/s as a fraction of the run's roofline limit (bench.roofline)."""
    params: dict[str, str] = field(default_factory=dict)
    """The ``--param`` settings this classifier ran with (its defaults included)."""
    plugin_version: str = ""
    distribution: str = ""
    # Parameter snapshots, kept in memory for the parity columns; not saved.
    params_at_parity: dict[str, np.ndarray] | None = field(default=None, repr=False)
    params_final: dict[str, np.ndarray] | None = field(default=None, repr=False)


Progress = Callable[[int], None]
"""Called with the number of steps completed since the last call."""


def measure(
    spec: ClassifierSpec,
    device: str,
    dataset: Dataset,
    schedule: BatchSchedule,
    config: SetupConfig,
    *,
    loss_every: int = 10,
    parity_step: int = 10,
    placement: str = "feed",
    steps_per_call: int = 1,
    progress: Progress | None = None,
) -> RowResult:
    """Train ``spec`` on ``device`` along ``schedule``, evaluate it, and return its row.

    A failure in any phase is recorded in the row (status ``failed``, with the phase and
    the error); ``DeviceUnavailable`` gives ``unavailable``; a non-finite loss stops the
    row as ``diverged``. KeyboardInterrupt and :class:`Terminated` mark the row
    ``interrupted`` and propagate, after the classifier is closed.
    """
    row = RowResult(
        plugin=spec.name,
        device=device,
        placement=placement,
        steps_per_call=steps_per_call,
        plugin_version=spec.version,
        distribution=spec.distribution,
    )
    row.parity_step = min(parity_step, schedule.steps)
    wall_start = time.perf_counter()
    clf: Classifier | None = None
    phase = "load"
    try:
        start = time.perf_counter()
        clf = spec.factory()
        row.load_seconds = time.perf_counter() - start
        phase = "setup"
        start = time.perf_counter()
        clf.setup(config)
        row.setup_seconds = time.perf_counter() - start
        if placement == "resident":
            if not isinstance(clf, ResidentClassifier):
                raise DeviceUnavailable(f"{spec.name} does not support --placement resident")
            if steps_per_call > 1 and not isinstance(clf, MultiStepClassifier):
                raise DeviceUnavailable(f"{spec.name} does not support --steps-per-call")
            phase = "placement"
            start = time.perf_counter()
            clf.place_dataset(dataset.train_images, dataset.train_labels)
            row.placement_seconds = time.perf_counter() - start
        phase = "training"
        if steps_per_call > 1:
            _train_in_calls(clf, schedule, row, loss_every, progress, steps_per_call)  # type: ignore[arg-type]
        else:
            _train(clf, dataset, schedule, row, loss_every, progress, resident=placement == "resident")
        if row.status == OK:
            phase = "evaluation"
            start = time.perf_counter()
            predictions = np.asarray(clf.predict(dataset.test_images))
            row.eval_seconds = time.perf_counter() - start
            row.test_accuracy = _accuracy(predictions, dataset.test_labels)
            row.params_final = clf.parameters()
    except DeviceUnavailable as exc:
        row.status, row.error = UNAVAILABLE, str(exc)
    except KeyboardInterrupt:
        row.status, row.error = INTERRUPTED, f"interrupted (SIGINT) during {phase}"
    except Terminated:
        row.status, row.error = INTERRUPTED, f"interrupted (SIGTERM) during {phase}"
    except Exception as exc:  # noqa: BLE001 - a plugin's failure must not stop the run
        row.status, row.error = FAILED, f"{phase}: {describe_exception(exc)}"
    except SystemExit as exc:  # a plugin calling sys.exit() must not end the run unsaved
        row.status, row.error = FAILED, f"{phase}: the plugin called sys.exit({exc.code!r})"
    finally:
        if clf is not None:
            start = time.perf_counter()
            try:
                clf.close()
            except Exception as exc:  # noqa: BLE001
                if row.status == OK:
                    row.status, row.error = FAILED, f"close: {describe_exception(exc)}"
            row.close_seconds = time.perf_counter() - start
        row.wall_seconds = time.perf_counter() - wall_start
    return row


def _train(
    clf: Classifier,
    dataset: Dataset,
    schedule: BatchSchedule,
    row: RowResult,
    loss_every: int,
    progress: Progress | None,
    resident: bool = False,
) -> None:
    """The timed loop. Fills the row's step times, losses and parity snapshot."""
    steps = schedule.steps
    images, labels, indices = dataset.train_images, dataset.train_labels, schedule.indices
    # One reusable batch buffer: the gather writes into it instead of allocating ~1 MB
    # (and faulting in fresh pages) every step.
    batch_images = np.empty((schedule.batch_size, images.shape[1]), dtype=images.dtype)
    batch_labels = np.empty(schedule.batch_size, dtype=labels.dtype)
    step_times = np.empty(steps)
    losses = np.empty(steps)
    train_step, take, clock = clf.train_step, np.take, time.perf_counter
    step_on_indices = clf.train_step_indices if resident else None  # type: ignore[attr-defined]
    report_every = max(1, min(50, steps // 100 or 1))
    done = 0
    try:
        for i in range(steps):
            if step_on_indices is not None:
                start = clock()
                loss = step_on_indices(indices[i])
            else:
                start = clock()
                take(images, indices[i], axis=0, out=batch_images)
                take(labels, indices[i], out=batch_labels)
                loss = train_step(batch_images, batch_labels)
            step_times[i] = clock() - start
            losses[i] = loss
            done = i + 1
            if not math.isfinite(loss):
                row.status, row.diverged_at_step = DIVERGED, done
                row.error = f"loss became {loss} at step {done}"
                break
            if done == row.parity_step:
                row.params_at_parity = clf.parameters()
            if progress is not None and done % report_every == 0:
                progress(report_every)
    finally:
        _summarise(row, step_times[:done], losses[:done], loss_every)


def _train_in_calls(
    clf: MultiStepClassifier,
    schedule: BatchSchedule,
    row: RowResult,
    loss_every: int,
    progress: Progress | None,
    steps_per_call: int,
) -> None:
    """The timed loop for ``--steps-per-call K``: each call runs up to K steps.

    The first call is one step (tracing, compilation), so it is reported apart as usual;
    a call also ends at the parity step, so every row is compared after the same step.
    Each step of a call is credited with the call's time divided by its steps.
    """
    steps, indices, clock = schedule.steps, schedule.indices, time.perf_counter
    cuts = sorted({0, 1, min(row.parity_step or 1, steps), steps, *range(1, steps, steps_per_call)})
    step_times = np.empty(steps)
    losses = np.empty(steps)
    train_steps = clf.train_steps_indices
    done = 0
    try:
        for begin, end in zip(cuts, cuts[1:]):
            start = clock()
            chunk = np.asarray(train_steps(indices[begin:end]), dtype=np.float64)
            elapsed = clock() - start
            if chunk.shape != (end - begin,):
                raise ValueError(f"train_steps_indices returned {chunk.shape} losses for {end - begin} steps")
            step_times[begin:end] = elapsed / (end - begin)
            losses[begin:end] = chunk
            done = end
            bad = np.flatnonzero(~np.isfinite(chunk))
            if bad.size:
                done = begin + int(bad[0]) + 1
                row.status, row.diverged_at_step = DIVERGED, done
                row.error = f"loss became {chunk[bad[0]]} at step {done}"
                break
            if done == row.parity_step:
                row.params_at_parity = clf.parameters()
            if progress is not None:
                progress(end - begin)
    finally:
        _summarise(row, step_times[:done], losses[:done], loss_every)


def _summarise(row: RowResult, step_times: np.ndarray, losses: np.ndarray, loss_every: int) -> None:
    done = len(step_times)
    row.steps_completed = done
    if done == 0:
        return
    row.first_step_seconds = float(step_times[0])
    row.train_seconds = float(step_times.sum())
    steady = step_times[1:] if done > 1 else step_times
    median = float(np.median(steady))
    row.step_seconds_median = median
    row.step_seconds_p10 = float(np.percentile(steady, 10))
    row.step_seconds_p90 = float(np.percentile(steady, 90))
    row.step_seconds_q1 = float(np.percentile(steady, 25))
    row.step_seconds_q3 = float(np.percentile(steady, 75))
    row.step_seconds_min = float(steady.min())
    row.step_seconds_max = float(steady.max())
    row.step_seconds_mean = float(steady.mean())
    row.step_seconds_stddev = float(steady.std(ddof=1)) if len(steady) > 1 else 0.0
    row.steps_per_second = 1.0 / median if median > 0 else None
    finite = np.isfinite(losses)
    row.final_loss = float(losses[-1]) if finite[-1] else None
    marks = sorted(set(range(loss_every, done + 1, loss_every)) | {1, done})
    row.loss_curve = [[step, float(losses[step - 1])] for step in marks if finite[step - 1]]


def _accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    if predictions.shape != labels.shape:
        raise ValueError(f"predict returned shape {predictions.shape}, expected {labels.shape}")
    return float(np.mean(predictions.astype(np.int64) == labels))


def max_abs_diff(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray] | None) -> float | None:
    """Largest absolute difference over parameters present in both with the same shape."""
    if not a or not b or set(a) != set(b):
        return None
    worst = 0.0
    for name, value in a.items():
        other = b[name]
        if np.shape(value) != np.shape(other):
            return None
        diff = np.abs(np.asarray(value, dtype=np.float64) - np.asarray(other, dtype=np.float64))
        worst = max(worst, float(diff.max(initial=0.0)))
    return worst
