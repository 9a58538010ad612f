"""Measure one classifier on one device: setup, training steps, evaluation.

Every phase has its own clock. Each training step is timed on its own (the batch gather
from the schedule included, as in the reference loop), so the steady-state rate is the
median of the per-step times after the first, and the first step (tracing, compilation,
lazy allocation) is reported apart. Nothing but the step and the gather runs between the
two clock reads.

With ``eval_every`` the loop also evaluates on the test set after every N-th step, between
steps (never inside a step's timing), and records the accuracy curve and the time to a
target accuracy (:class:`Evaluations`).
"""

from __future__ import annotations

import itertools
import math
import resource
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench.classifier import Classifier, ClassifierSpec, MultiStepClassifier
from bench.dataset import Dataset
from bench.errors import DeviceUnavailable, Terminated, describe_exception
from bench.job import RowJob
from bench.results.model import Measurement, ParameterSnapshots, Status
from bench.schedule import BatchSchedule

OK, FAILED, UNAVAILABLE, DIVERGED = Status.OK, Status.FAILED, Status.UNAVAILABLE, Status.DIVERGED
INTERRUPTED, TIMEOUT = Status.INTERRUPTED, Status.TIMEOUT


class ContractError(Exception):
    """A plugin broke the classifier interface (a loss that is not a number, float predictions)."""


Progress = Callable[[int], None]
"""Called with the number of steps completed since the last call."""


@dataclass(frozen=True)
class Measured:
    """What :func:`measure` returns: the row's measurement and its parameter snapshots."""

    measurement: Measurement
    parameters: ParameterSnapshots = field(default_factory=ParameterSnapshots)


class _Record(SimpleNamespace):
    """The measurement while it is taken (the loops fill it); frozen by :meth:`freeze`."""

    def freeze(self) -> Measured:
        values = {key: value for key, value in vars(self).items() if key in _MEASURED and value is not None}
        return Measured(Measurement(**values), ParameterSnapshots(self.params_at_parity, self.params_final))


_MEASURED = {f.name for f in fields(Measurement)}


def measure(
    job: RowJob,
    spec: ClassifierSpec,
    dataset: Dataset,
    schedule: BatchSchedule,
    *,
    progress: Progress | None = None,
    on_phase: Callable[[str], None] | None = None,
    on_measured: Callable[[Measured], None] | None = None,
) -> Measured:
    """Train ``spec`` as ``job`` says (its device, settings and schedule), evaluate it, and
    return the measurement.

    A failure in any phase is recorded (status ``failed``, with the phase and the error);
    ``DeviceUnavailable`` gives ``unavailable``; a non-finite loss stops the row as
    ``diverged``. KeyboardInterrupt and :class:`Terminated` mark the row ``interrupted``,
    after the classifier is closed. ``on_phase`` hears each phase as it starts;
    ``on_measured`` gets the measurement once training and evaluation are done, before
    ``close`` (a worker reports it then, so a row is kept even if ``close`` never returns).
    ``job.eval_every`` and ``job.target_accuracy``: see :class:`Evaluations`.
    """
    placement, steps_per_call = job.placement, job.steps_per_call
    row = _Record(status=OK, error=None, steps_completed=0, parity_step=min(job.parity_step, schedule.steps),
                  params_at_parity=None, params_final=None)
    evaluations: Evaluations | None = None
    wall_start = time.perf_counter()
    clf: Classifier | None = None
    phase = "load"

    def enter(name: str) -> None:
        nonlocal phase
        phase = name
        if on_phase is not None:
            on_phase(name)

    try:
        enter("load")
        _check_abilities(spec, placement, steps_per_call)
        start = time.perf_counter()
        clf = spec.factory()
        row.load_seconds = time.perf_counter() - start
        enter("setup")
        start = time.perf_counter()
        clf.setup(job.setup)
        row.setup_seconds = time.perf_counter() - start
        if placement == "resident":
            enter("placement")
            start = time.perf_counter()
            clf.place_dataset(dataset.train_images, dataset.train_labels)  # type: ignore[attr-defined]  # declared by supports_resident
            row.placement_seconds = time.perf_counter() - start
        enter("training")
        if job.eval_every is not None:
            evaluations = Evaluations(clf, dataset, job.eval_every, job.target_accuracy, schedule.steps)
        if steps_per_call > 1:
            _train_in_calls(clf, schedule, row, job.loss_every, progress, steps_per_call,  # type: ignore[arg-type]  # declared by supports_steps_per_call
                            evaluations)
        else:
            _train(clf, dataset, schedule, row, job.loss_every, progress, resident=placement == "resident",
                   evaluations=evaluations)
        if row.status == OK:
            enter("evaluation")
            start = time.perf_counter()
            predictions = np.asarray(clf.predict(dataset.test_images))  # finished work: a host array
            end = time.perf_counter()
            row.eval_seconds = end - start
            row.test_accuracy = _accuracy(predictions, dataset.test_labels, dataset.num_classes)
            if evaluations is not None:
                evaluations.record(row.steps_completed, row.test_accuracy, end)
            row.params_final = snapshot(clf.parameters())
            row.peak_device_memory_bytes = _device_memory(clf)
            _compiled_work(clf, row)
        row.peak_host_memory_bytes = peak_rss_bytes()
        if row.status == OK and on_measured is not None:
            partial = _Record(**vars(row))
            partial.wall_seconds = time.perf_counter() - wall_start
            if evaluations is not None:
                evaluations.fill(partial)
            on_measured(partial.freeze())
        enter("close")
    except DeviceUnavailable as exc:
        row.status, row.error = UNAVAILABLE, str(exc)
    except KeyboardInterrupt:
        row.status, row.error = INTERRUPTED, f"interrupted (SIGINT) during {phase}"
    except Terminated as exc:
        row.status, row.error = INTERRUPTED, f"interrupted ({exc.name}) during {phase}"
    except ContractError as exc:
        row.status, row.error = FAILED, f"{phase}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a plugin's failure must not stop the run
        row.status, row.error = FAILED, f"{phase}: {describe_exception(exc)}"
    except SystemExit as exc:  # a plugin calling sys.exit() must not end the run unsaved
        row.status, row.error = FAILED, f"{phase}: the plugin called sys.exit({exc.code!r})"
    except BaseException as exc:  # noqa: BLE001 - GeneratorExit and the like: the plugin's fault too
        row.status, row.error = FAILED, f"{phase}: {describe_exception(exc)}"
    finally:
        if clf is not None:
            start = time.perf_counter()
            try:
                clf.close()
            except Exception as exc:  # noqa: BLE001 - a failing close fails an ok row, whatever it raised
                if row.status == OK:
                    row.status, row.error = FAILED, f"close: {describe_exception(exc)}"
            row.close_seconds = time.perf_counter() - start
        row.wall_seconds = time.perf_counter() - wall_start
        if evaluations is not None:
            evaluations.fill(row)
    return row.freeze()


@dataclass
class Evaluations:
    """Test-set evaluations during training (``--eval-every N``) and the time to a target.

    The loop calls :meth:`due` after every step (or call) and, when due, :meth:`evaluate`:
    after steps N, 2N, ... before the last; the row's final evaluation, after the last
    step, counts as the last one. Each happens between steps, after the previous step's
    clock has stopped and before the next one's starts, so no step's time includes it;
    the row's wall clock and the time to the target do.

    *Time to target* is the wall-clock time from the start of training (the clock read as
    the training phase begins, after load, setup and placement) to the end of the first
    evaluation whose accuracy is at least ``target`` (a fraction in (0, 1]): every training
    step, the harness's bookkeeping between steps and every earlier evaluation included.
    *Steps to target* is the number of steps trained at that evaluation, so it is a
    multiple of N (or the last step): a resolution of N steps.
    """

    clf: Classifier
    dataset: Dataset
    every: int
    target: float | None
    steps: int
    started: float = field(default_factory=time.perf_counter)
    curve: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0
    reached: tuple[int, float] | None = None

    def due(self, done: int) -> bool:
        return done % self.every == 0 and done < self.steps

    def evaluate(self, done: int) -> None:
        start = time.perf_counter()
        predictions = np.asarray(self.clf.predict(self.dataset.test_images))
        end = time.perf_counter()
        self.seconds += end - start
        self.record(done, _accuracy(predictions, self.dataset.test_labels, self.dataset.num_classes), end)

    def record(self, done: int, accuracy: float, end: float) -> None:
        """An evaluation after ``done`` steps that ended at ``end`` (a perf_counter reading)."""
        self.curve.append([done, accuracy, end - self.started])
        if self.reached is None and self.target is not None and accuracy >= self.target:
            self.reached = (done, end - self.started)

    def fill(self, row: Any) -> None:
        row.accuracy_curve = self.curve
        row.eval_during_training_seconds = self.seconds
        if self.reached is not None:
            row.steps_to_target, row.time_to_target_seconds = self.reached


LOSS_RULE = "train_step must return the batch's mean loss as a real number (a float, or a one-element array or tensor)"


def _train(
    clf: Classifier,
    dataset: Dataset,
    schedule: BatchSchedule,
    row: _Record,
    loss_every: int,
    progress: Progress | None,
    resident: bool = False,
    evaluations: Evaluations | None = None,
) -> None:
    """The timed loop. Fills the row's step times, losses and parity snapshot.

    The step's return value becomes a Python float between the two clock reads, so work a
    framework finishes asynchronously (a lazy or device-side loss) is done before the
    clock stops.
    """
    steps = schedule.steps
    images, labels, indices = dataset.train_images, dataset.train_labels, schedule.indices
    # One reusable batch buffer: the gather writes into it instead of allocating ~1 MB
    # (and faulting in fresh pages) every step.
    batch_images = aligned_empty((schedule.batch_size, images.shape[1]), images.dtype)
    batch_labels = np.empty(schedule.batch_size, dtype=labels.dtype)
    step_times = np.empty(steps)
    losses = np.empty(steps)
    train_step, take, clock, to_float = clf.train_step, np.take, time.perf_counter, float
    step_on_indices = clf.train_step_indices if resident else None  # type: ignore[attr-defined]  # declared by supports_resident
    report_every = max(1, min(50, steps // 100 or 1))
    done = 0
    try:
        for i in range(steps):
            if step_on_indices is not None:
                start = clock()
                value = step_on_indices(indices[i])
            else:
                start = clock()
                take(images, indices[i], axis=0, out=batch_images)
                take(labels, indices[i], out=batch_labels)
                value = train_step(batch_images, batch_labels)
            try:
                loss = to_float(value)
            except (TypeError, ValueError):
                if _is_real_number(value):  # the plugin's own lazy value failed: its error
                    raise
                raise ContractError(f"{LOSS_RULE}; step {i + 1} returned {_describe_value(value)}") from None
            step_times[i] = clock() - start
            if type(value) is not float and not _is_real_number(value):
                raise ContractError(f"{LOSS_RULE}; step {i + 1} returned {_describe_value(value)}")
            del value
            losses[i] = loss
            done = i + 1
            if not math.isfinite(loss):
                row.status, row.diverged_at_step = DIVERGED, done
                row.error = f"loss became {loss} at step {done}"
                break
            if done == row.parity_step:
                row.params_at_parity = snapshot(clf.parameters())
            if evaluations is not None and evaluations.due(done):
                evaluations.evaluate(done)
            if progress is not None and done % report_every == 0:
                progress(report_every)
    finally:
        _summarise(row, step_times[:done], losses[:done], loss_every)


def _train_in_calls(
    clf: MultiStepClassifier,
    schedule: BatchSchedule,
    row: _Record,
    loss_every: int,
    progress: Progress | None,
    steps_per_call: int,
    evaluations: Evaluations | None = None,
) -> None:
    """The timed loop for ``--steps-per-call K``: each call runs up to K steps.

    The first call is one step (tracing, compilation), so it is reported apart as usual;
    a call also ends at the parity step, so every row is compared after the same step,
    and at every evaluation step (``--eval-every``), so evaluations happen at call
    boundaries after the same steps as in a row of single steps.
    Each step of a call is credited with the call's time divided by its steps. All the
    call's losses become float64 numbers inside the timing, as for single steps.
    """
    steps, indices, clock = schedule.steps, schedule.indices, time.perf_counter
    evaluation_steps = range(evaluations.every, steps, evaluations.every) if evaluations is not None else ()
    cuts = sorted({0, 1, min(row.parity_step or 1, steps), steps, *range(1, steps, steps_per_call), *evaluation_steps})
    step_times = np.empty(steps)
    losses = np.empty(steps)
    train_steps = clf.train_steps_indices
    done = 0
    try:
        for begin, end in itertools.pairwise(cuts):
            start = clock()
            value = train_steps(indices[begin:end])
            try:
                chunk = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                chunk = None
            elapsed = clock() - start
            if chunk is None or not _are_real_numbers(value):
                raise ContractError(
                    f"train_steps_indices must return the k losses as real numbers; got {_describe_value(value)}"
                )
            if chunk.shape != (end - begin,):
                raise ContractError(f"train_steps_indices returned {chunk.shape} losses for {end - begin} steps")
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
                row.params_at_parity = snapshot(clf.parameters())
            if evaluations is not None and evaluations.due(done):
                evaluations.evaluate(done)
            if progress is not None:
                progress(end - begin)
    finally:
        _summarise(row, step_times[:done], losses[:done], loss_every)


def _is_real_number(value: Any) -> bool:
    """Whether a step's return value is a real number: not text, None, complex, or many values."""
    if value is None or isinstance(value, (str, bytes, bytearray, complex)):
        return False
    if isinstance(value, (int, float)):
        return True
    if _text_or_complex_dtype(value):
        return False
    try:
        count = math.prod(int(d) for d in getattr(value, "shape", ()))
    except TypeError:
        count = 1
    return count == 1 and hasattr(value, "__float__")


def _are_real_numbers(value: Any) -> bool:
    """The same rule for the k losses of one call: a sequence or an array of real numbers."""
    if isinstance(value, (list, tuple)):
        return all(_is_real_number(item) for item in value)
    return not (value is None or isinstance(value, (str, bytes, bytearray)) or _text_or_complex_dtype(value))


def _text_or_complex_dtype(value: Any) -> bool:
    """An array or tensor of strings or complex numbers (read from its dtype, framework-agnostic)."""
    dtype = str(getattr(value, "dtype", ""))
    return "complex" in dtype or dtype.startswith(("<U", ">U", "|S", "str", "bytes"))


def _describe_value(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    shape = getattr(value, "shape", None)
    kind = type(value).__name__ + (f" of shape {tuple(shape)}" if shape is not None else "")
    return f"{kind} {text}"


def aligned_empty(shape: tuple[int, ...], dtype: Any, alignment: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``alignment``-byte
    boundary. A framework that shares host memory only when it is aligned (JAX on the CPU)
    would otherwise copy every batch: 167 us against 33 us a step, measured by the JAX
    plugin's author on this machine."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + alignment, dtype=np.uint8)
    offset = (-raw.ctypes.data) % alignment
    return raw[offset : offset + nbytes].view(dtype).reshape(shape)


def snapshot(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The harness's own copies of a classifier's parameters (a live view cannot fake parity)."""
    return {str(name): np.array(value, copy=True) for name, value in params.items()}


def peak_rss_bytes() -> int | None:
    """Peak resident set of this process, from the OS.

    On Linux the high-water mark of this process's own memory map (``VmHWM``): unlike
    ``ru_maxrss``, it does not carry over the parent's resident set from before ``exec``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (OSError, ValueError):  # pragma: no cover - getrusage exists on every POSIX system
        return None
    return int(peak) * (1 if sys.platform == "darwin" else 1024)  # kilobytes on Linux


def _device_memory(clf: Classifier) -> int | None:
    """The classifier's own report of its device's peak memory, if it gives one."""
    report = getattr(clf, "peak_device_memory_bytes", None)
    if not callable(report):
        return None
    try:
        value = report()
    except Exception:  # noqa: BLE001 - a best-effort figure must not fail the row
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return int(value)


def _compiled_work(clf: Classifier, row: _Record) -> None:
    """The compiler's own count of a step's work, if the classifier offers one."""
    report = getattr(clf, "compiled_step_work", None)
    if not callable(report):
        return
    try:
        work = report()
        if work is not None:
            row.compiled_flops_per_step, row.compiled_bytes_per_step = float(work.flops), float(work.bytes)
    except Exception:  # noqa: BLE001 - a best-effort figure must not fail the row
        pass


def _check_abilities(spec: ClassifierSpec, placement: str, steps_per_call: int) -> None:
    """A row asks only for what the spec declares it can do."""
    if placement == "resident" and not spec.supports_resident:
        raise DeviceUnavailable(f"{spec.name} does not support --placement resident")
    if steps_per_call > 1 and not spec.supports_steps_per_call:
        raise DeviceUnavailable(f"{spec.name} does not support --steps-per-call")


def _summarise(row: _Record, step_times: np.ndarray, losses: np.ndarray, loss_every: int) -> None:
    done = len(step_times)
    row.steps_completed = done
    if done == 0:
        return
    row.step_seconds = [float(t) for t in step_times]
    finite = np.isfinite(losses)
    row.final_loss = float(losses[-1]) if finite[-1] else None
    marks = sorted(set(range(loss_every, done + 1, loss_every)) | {1, done})
    row.loss_curve = [[step, float(losses[step - 1])] for step in marks if finite[step - 1]]


def _accuracy(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Share of correct predictions; predictions must be integer class indices in range."""
    if predictions.dtype.kind not in "iu":
        raise ContractError(
            f"predict must return integer class indices, not {predictions.dtype} values"
            + (" (NaN among them)" if predictions.dtype.kind == "f" and np.isnan(predictions).any() else "")
        )
    if predictions.shape != labels.shape:
        raise ContractError(f"predict returned shape {predictions.shape}, expected {labels.shape}")
    if predictions.size and (predictions.min() < 0 or predictions.max() >= num_classes):
        raise ContractError(f"predict returned class indices outside 0..{num_classes - 1}")
    return float(np.mean(predictions.astype(np.int64) == labels))
