"""``--isolation process``: each row in a fresh worker process (the parent's side).

The parent writes the row's job into a temporary directory and starts
``python -m bench.execute.child FD PID DIR`` in a new session (so a terminal's Ctrl-C reaches
the parent only). The worker memory-maps the prepared dataset, rebuilds the schedule and
checks its sha256, measures the row, and reports over the pipe ``FD``, one JSON object a
line: ``ready``, each ``phase``, ``progress``, ``measured`` (after evaluation, before
``close``), ``done``. Parameter snapshots travel as ``.npy`` files in the directory, and so
do the test-set predictions: the worker has no test labels, the parent scores them and
checks the reported times against its own clock (:mod:`bench.execute.verdict`).

The parent polls the pipe ten times a second, so it notices the timeout, a dead worker or
a signal within 0.1 s. On Ctrl-C or SIGTERM it passes the signal on, waits up to
:data:`GRACE_SECONDS` for the worker's own report, then kills the worker's process group:
the run stops within 2 s even when a plugin hangs in C code or ignores signals.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.classifier import ClassifierSpec
from bench.errors import BenchError, UsageError
from bench.execute import Progress, RowData, RowJob, RowOutcome
from bench.execute.verdict import Observed, ReportError, credited, read_predictions
from bench.results.model import Measurement, ParameterSnapshots, ResultFormatError, Status

if TYPE_CHECKING:
    from bench.plugins import Registry
    from bench.settings import RunConfig

GRACE_SECONDS = 1.0
"""How long an interrupted worker may take to report before it is killed."""
POLL_SECONDS = 0.1
PARAMETER_FILES = ("parity", "final")
"""The snapshots a worker leaves in its directory: ``parity.npz`` and ``final.npz``."""


@dataclass
class WorkerExecutor:
    """``--executor process``: rows in worker processes over a prepared dataset (see
    :mod:`bench.dataset.prepared`)."""

    name: ClassVar[str] = "process"
    isolation: ClassVar[str] = "process"
    needs_prepared_copy: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = ("timeout",)
    python: str = sys.executable
    env: dict[str, str] | None = None

    @classmethod
    def check(cls, config: RunConfig) -> None:
        pass  # --timeout is checked with the other settings

    @classmethod
    def open(cls, config: RunConfig, registry: Registry) -> WorkerExecutor:
        return cls()

    def run_row(self, job: RowJob, data: RowData, progress: Progress | None = None) -> RowOutcome:
        if data.prepared is None:
            raise UsageError("a worker process needs the prepared copy of the data")
        with tempfile.TemporaryDirectory(prefix="bench-row-") as directory:
            return _Worker(self, job, data.prepared, Path(directory), progress, data.dataset.test_labels,
                           data.dataset.num_classes).run()

    def close(self) -> None:
        pass

    def list_devices(self, spec: ClassifierSpec) -> list[str]:
        """Ask a worker: listing a framework's devices imports it, which the parent never does."""
        if spec.devices is None:
            return ["cpu"]
        read, write = os.pipe()
        try:
            proc = subprocess.Popen(
                [self.python, "-m", "bench.execute.child", str(write), str(os.getpid()), "--list-devices", spec.name],
                pass_fds=[write],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.env,
            )
        finally:
            os.close(write)
        with os.fdopen(read, "rb") as pipe:
            try:
                text = pipe.read()
            finally:
                _kill_group(proc)
        for message in _parse_lines(text):
            if message.get("event") == "devices":
                return [str(d) for d in message.get("devices", [])]
            if message.get("event") == "error":
                raise BenchError(f"{spec.name}: listing its devices failed: {message.get('message')}")
        raise BenchError(f"{spec.name}: listing its devices failed: {_exit_reason(proc.returncode)}")


@dataclass
class _Worker:
    """One worker process and what it has said so far."""

    executor: WorkerExecutor
    job: RowJob
    prepared: Path
    directory: Path
    progress: Progress | None
    labels: np.ndarray
    """The test labels, which only the parent holds: it scores the worker's predictions."""
    num_classes: int
    phase: str = "worker start"
    steps: int = 0
    measured: dict[str, Any] | None = None
    done: dict[str, Any] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    ready_seconds: float | None = None
    signal_received: int | None = None
    observed: Observed = field(default_factory=Observed)
    evaluations: Any = None
    """The worker's description of ``predictions.npy`` (steps and seconds of each evaluation)."""

    def run(self) -> RowOutcome:
        self._write_job()
        read, write = os.pipe()
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(
                [self.executor.python, "-m", "bench.execute.child", str(write), str(os.getpid()), str(self.directory)],
                pass_fds=[write],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.executor.env,
            )
        finally:
            os.close(write)
        previous = _catch_signals(self._on_signal)
        try:
            outcome = self._follow(proc, read, started)
        finally:
            _restore_signals(previous)
            os.close(read)
            _kill_group(proc)
        return outcome

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.signal_received is None:
            self.signal_received = signum

    def _write_job(self) -> None:
        job = {"job": self.job.to_dict(), "prepared": str(self.prepared)}
        (self.directory / "job.json").write_text(json.dumps(job))

    def _follow(self, proc: subprocess.Popen[bytes], read: int, started: float) -> RowOutcome:
        deadline = None if self.job.timeout is None else started + self.job.timeout
        buffer = b""
        open_pipe = True
        with selectors.DefaultSelector() as selector:
            selector.register(read, selectors.EVENT_READ)
            while True:
                got = False
                if open_pipe:
                    if selector.select(POLL_SECONDS):
                        chunk = os.read(read, 1 << 16)
                        got = bool(chunk)
                        open_pipe = got
                        buffer = self._handle(buffer + chunk, started)
                else:
                    time.sleep(POLL_SECONDS / 10)
                # Exited, and nothing left to read (a grandchild may still hold the pipe open).
                if not got and proc.poll() is not None:
                    break
                if self.signal_received is not None:
                    return self._interrupted(proc, read, buffer, started)
                if deadline is not None and time.perf_counter() > deadline and self.done is None:
                    _kill_group(proc)
                    return self._outcome(Status.TIMEOUT, f"timed out after {self.job.timeout:g} s during {self.phase}"
                                         + self._step_note())
        proc.wait()
        if self.done is not None:
            return self._outcome()
        if self.error is not None:
            return self._outcome(Status.FAILED, f"worker: {self.error}")
        return self._outcome(Status.FAILED, f"{_exit_reason(proc.returncode)} during {self.phase}{self._step_note()}")

    def _interrupted(self, proc: subprocess.Popen[bytes], read: int, buffer: bytes, started: float) -> RowOutcome:
        name = "SIGTERM" if self.signal_received == signal.SIGTERM else "SIGINT"
        try:
            proc.send_signal(signal.SIGTERM if name == "SIGTERM" else signal.SIGINT)
        except ProcessLookupError:
            pass
        end = time.perf_counter() + GRACE_SECONDS
        with selectors.DefaultSelector() as selector:
            selector.register(read, selectors.EVENT_READ)
            while self.done is None and time.perf_counter() < end:
                if not selector.select(max(0.0, end - time.perf_counter())):
                    continue
                chunk = os.read(read, 1 << 16)
                if not chunk:
                    break
                buffer = self._handle(buffer + chunk, started)
        _kill_group(proc)
        outcome = self._outcome(Status.INTERRUPTED, f"interrupted ({name}) during {self.phase}{self._step_note()}")
        return replace(outcome, interrupted=name)

    def _handle(self, buffer: bytes, started: float) -> bytes:
        *lines, rest = buffer.split(b"\n")
        for message in _parse_lines(b"\n".join(lines)):
            event = message.get("event")
            if event == "ready":
                self.ready_seconds = time.perf_counter() - started
            elif event == "phase":
                self.phase = str(message.get("phase"))
                self.observed.phase(self.phase, time.perf_counter())
            elif event == "progress":
                steps = int(message.get("steps", 0))
                self.steps += steps
                if self.progress is not None:
                    self.progress(steps)
            elif event == "measured":
                self.observed.measured(time.perf_counter())
                self.measured = message.get("row")
                self.evaluations = message.get("predictions")
                self.environment.update(message.get("environment") or {})
            elif event == "done":
                self.done = message.get("row")
                self.evaluations = message.get("predictions", self.evaluations)
                self.environment.update(message.get("environment") or {})
            elif event == "error":
                self.error = str(message.get("message"))
        return rest

    def _step_note(self) -> str:
        return f" (step {self.steps} of {self.job.schedule.steps})" if self.phase == "training" else ""

    def _outcome(self, status: Status | None = None, error: str | None = None) -> RowOutcome:
        """The row: the worker's final report, else what it measured before close, else what we know."""
        data = self.done or self.measured
        parameters = ParameterSnapshots()
        if data is not None:
            try:
                measurement = self._credited(Measurement.from_dict(data, "the worker's measurement"))
                parameters = ParameterSnapshots(*(self._parameters(name) for name in PARAMETER_FILES))
            except (ResultFormatError, ReportError, ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
                measurement = Measurement(status=Status.FAILED, steps_completed=self.steps,
                                          error=f"worker: its report cannot be read: {exc}")
            else:
                if self.done is None and status is not None and measurement.ok:
                    # Training and evaluation finished; only close was cut short (a row the
                    # parent found suspect or failed keeps that verdict and its reason).
                    if status == Status.INTERRUPTED:
                        measurement = replace(measurement, error=f"measured; {error} (close did not finish)")
                    else:
                        measurement = replace(measurement, status=status,
                                              error=f"{error} (training and evaluation had finished)")
        else:
            measurement = Measurement(status=status or Status.FAILED, error=error, steps_completed=self.steps)
        measurement = replace(measurement, worker_start_seconds=self.ready_seconds)
        return RowOutcome(measurement, parameters, dict(self.environment))

    def _credited(self, measurement: Measurement) -> Measurement:
        """The worker's measurement scored by the parent and checked against its clock
        (:mod:`bench.execute.verdict`); the parent's observation of training recorded."""
        predictions = read_predictions(self.directory, self.evaluations, len(self.labels), self.num_classes)
        # The parent's own facts replace whatever the worker said of them (a forged ``node``
        # would skip the roofline check).
        measurement = replace(measurement, observed_training_seconds=self.observed.span("training"), node=None,
                              environment=dict(self.environment))
        return credited(measurement, predictions, self.labels, self.job, self.observed)

    def _parameters(self, name: str) -> dict[str, np.ndarray] | None:
        path = self.directory / f"{name}.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}


def _parse_lines(text: bytes) -> list[dict[str, Any]]:
    messages = []
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def _exit_reason(returncode: int | None) -> str:
    """``worker died: SIGSEGV`` or ``worker exited with code 7``."""
    if returncode is None:
        return "worker did not exit"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"worker died: {name}"
    if returncode == 0:
        return "worker exited without a result"
    return f"worker exited with code {returncode}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the worker and anything it started (its own session), and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        pass


Handlers = dict[int, Any]


def _catch_signals(handler: Any) -> Handlers:
    """While a worker runs, Ctrl-C and SIGTERM only set a flag that the poll loop reads."""
    previous: Handlers = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: signals stay as they are
            pass
    return previous


def _restore_signals(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
