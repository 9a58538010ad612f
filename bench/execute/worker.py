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

Nothing of a row outlives it (:mod:`bench.execute.reaper`): the deadline applies until the
worker process has exited, a worker that does not exit within :data:`EXIT_GRACE_SECONDS`
of its final report (a plugin's thread still running) is killed, the worker's process
group is killed after every row, and orphans that left the group (bench is their
subreaper) are killed too; the row lists what had to be killed. The worker's standard
output and error go to a file in the row's directory, never to bench's; the row keeps
the end of it. The parameter snapshots are read with size limits
(:mod:`bench.execute.snapshots`): a bad file fails its row only.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.classifier import ClassifierSpec
from bench.errors import BenchError, UsageError
from bench.execute import Progress, RowData, RowJob, RowOutcome, reaper
from bench.execute.snapshots import SnapshotError, load_snapshot
from bench.execute.verdict import Observed, ReportError, credited, read_predictions
from bench.results.model import OUTPUT_TAIL_CHARS, Measurement, ParameterSnapshots, ResultFormatError, Status

if TYPE_CHECKING:
    from bench.plugins import Registry
    from bench.settings import RunConfig

GRACE_SECONDS = 1.0
"""How long an interrupted worker may take to report before it is killed."""
POLL_SECONDS = 0.1
EXIT_GRACE_SECONDS = 5.0
"""How long a worker may take to exit after its final report before it is killed."""
DEVICES_TIMEOUT_SECONDS = 60.0
"""How long listing a classifier's devices may take (less with a shorter ``--timeout``)."""
MAX_MESSAGE_BYTES = 64 * 2**20
"""The longest line a worker may send; a longer one fails the row."""
SIGNAL_NAMES: dict[int, str] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}
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
    devices_timeout: float = DEVICES_TIMEOUT_SECONDS
    prestart: bool = True
    """Start the next row's worker while this row loads (see :class:`WorkerPool`)."""
    phases: list[tuple[str, float]] = field(default_factory=list)
    """Seconds the parent spent on rows outside their workers' own phases, for the timeline."""
    _pool: WorkerPool | None = field(default=None, init=False, repr=False)

    @classmethod
    def check(cls, config: RunConfig) -> None:
        pass  # --timeout is checked with the other settings

    @classmethod
    def open(cls, config: RunConfig, registry: Registry) -> WorkerExecutor:
        reaper.become_subreaper()
        reaper.sweep_row_directories()
        limit = DEVICES_TIMEOUT_SECONDS if config.timeout is None else min(DEVICES_TIMEOUT_SECONDS, config.timeout)
        return cls(devices_timeout=limit)

    def prepare(self, upcoming: list[str]) -> None:
        """The classifiers of the rows that come next, in order: the first one's worker is
        started during the next row's untimed start (:class:`WorkerPool`)."""
        if self.prestart:
            self.pool().upcoming = list(upcoming)

    def pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self)
        return self._pool

    def run_row(self, job: RowJob, data: RowData, progress: Progress | None = None) -> RowOutcome:
        if data.prepared is None:
            raise UsageError("a worker process needs the prepared copy of the data")
        reaper.become_subreaper()
        pool = self.pool()
        started = time.perf_counter()
        spare = pool.take(job.classifier)
        with reaper.row_directory() as directory:
            worker = _Worker(self, job, data.prepared, spare.directory if spare else Path(directory), progress,
                             data.dataset.test_labels, data.dataset.num_classes)
            outcome = worker.run(spare)
            if spare is not None:
                spare.cleanup()
        inside = (worker.ready_seconds or 0.0) + (outcome.measurement.wall_seconds or 0.0)
        self.phases.append(("worker exit, reading its report and snapshots (parent)",
                            max(0.0, time.perf_counter() - started - inside)))
        return outcome

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def list_devices(self, spec: ClassifierSpec) -> list[str]:
        """Ask a worker: listing a framework's devices imports it, which the parent never does."""
        if spec.devices is None:
            return ["cpu"]
        reaper.become_subreaper()
        before = reaper.children()
        read, write = os.pipe()
        try:
            proc = subprocess.Popen(
                [self.python, "-m", "bench.execute.child", str(write), str(os.getpid()), "--list-devices", spec.name],
                pass_fds=[write],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=self.env,
            )
        finally:
            os.close(write)
        try:
            messages, timed_out = _read_until(read, proc, self.devices_timeout, ("devices", "error"))
        finally:
            os.close(read)
            reaper.kill_leftovers(proc.pid, before | {proc.pid})
            _kill_group(proc)
        for message in messages:
            if message.get("event") == "devices":
                devices = message.get("devices")
                if not isinstance(devices, list):
                    break
                return [str(d) for d in devices]
            if message.get("event") == "error":
                raise BenchError(f"{spec.name}: listing its devices failed: {str(message.get('message'))[:500]}")
        if timed_out:
            raise BenchError(f"{spec.name}: listing its devices did not finish within {self.devices_timeout:g} s")
        raise BenchError(f"{spec.name}: listing its devices failed: {_exit_reason(proc.returncode)}")


def _read_until(read: int, proc: subprocess.Popen[bytes], timeout: float,
                events: tuple[str, ...]) -> tuple[list[dict[str, Any]], bool]:
    """Messages from the pipe ``read`` until one of ``events``, the worker's exit (and an
    empty pipe), or ``timeout`` seconds; and whether the time ran out."""
    end = time.monotonic() + timeout
    text = b""
    with selectors.DefaultSelector() as selector:
        selector.register(read, selectors.EVENT_READ)
        while time.monotonic() < end:
            got = False
            if selector.select(POLL_SECONDS):
                chunk = os.read(read, 1 << 16)
                got = bool(chunk)
                text += chunk
                if len(text) > MAX_MESSAGE_BYTES:
                    break
                messages = _parse_lines(text.rsplit(b"\n", 1)[0])
                if any(m.get("event") in events for m in messages):
                    return messages, False
                if not chunk:
                    selector.unregister(read)
            if not got and proc.poll() is not None:
                return _parse_lines(text), False
    return _parse_lines(text), True


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
    killed: list[str] = field(default_factory=list)
    peak_rss: int = 0
    """The largest resident set seen of the worker (for the out-of-memory diagnosis)."""
    killed_by_bench: bool = False
    observed: Observed = field(default_factory=Observed)
    evaluations: Any = None
    """The worker's description of ``predictions.npy`` (steps and seconds of each evaluation)."""

    def run(self, spare: _Spare | None = None) -> RowOutcome:
        pool = self.executor.pool()
        pool.start_next()  # before the children are listed: the next row's worker is no leftover of this one
        self._write_job(pool.spare.proc.pid if pool.spare is not None else None)
        before = reaper.children()
        oom_kills = _oom_kills()
        started = time.perf_counter()
        if spare is not None:
            proc, read = spare.go()
        else:
            read, write = os.pipe()
            try:
                with open(self.directory / OUTPUT_FILE, "wb") as output:
                    proc = subprocess.Popen(
                        [self.executor.python, "-m", "bench.execute.child", str(write), str(os.getpid()),
                         str(self.directory)],
                        pass_fds=[write],
                        stdin=subprocess.DEVNULL,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        env=self.executor.env,
                    )
            finally:
                os.close(write)
            (self.directory / reaper.GROUP_FILE).write_text(str(proc.pid))
        previous = _catch_signals(self._on_signal)
        try:
            outcome = self._follow(proc, read, started)
        finally:
            _restore_signals(previous)
            os.close(read)
            self.killed += reaper.kill_leftovers(proc.pid, before | {proc.pid})
            _kill_group(proc)
            pool.resume()
        outcome = self._finish(outcome, proc, oom_kills)
        overlap = pool.overlap_seconds()
        if overlap is not None:
            outcome = replace(outcome, measurement=replace(outcome.measurement, load_overlapped_seconds=overlap))
        return outcome

    def _finish(self, outcome: RowOutcome, proc: subprocess.Popen[bytes], oom_kills: int | None) -> RowOutcome:
        """The row with what bench had to kill, the worker's output, and an out-of-memory diagnosis."""
        measurement = replace(outcome.measurement, killed_after_row=list(self.killed),
                              output_tail=_tail(self.directory / OUTPUT_FILE))
        error = measurement.error or ""
        if proc.returncode == -signal.SIGKILL and "worker died: SIGKILL" in error and not self.killed_by_bench:
            evidence = _oom_evidence(oom_kills, self.peak_rss)
            if evidence:
                measurement = replace(measurement, error=error.replace(
                    "worker died: SIGKILL", f"worker died: SIGKILL, most likely out of memory ({evidence})", 1))
        return replace(outcome, measurement=measurement)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.signal_received is None:
            self.signal_received = signum

    def _write_job(self, stop_group: int | None = None) -> None:
        job = {"job": self.job.to_dict(), "prepared": str(self.prepared), "stop_group": stop_group}
        (self.directory / "job.json").write_text(json.dumps(job))

    def _follow(self, proc: subprocess.Popen[bytes], read: int, started: float) -> RowOutcome:
        deadline = None if self.job.timeout is None else started + self.job.timeout
        done_at: float | None = None
        buffer = b""
        pending: list[bytes] = []  # chunks of a line not yet complete (joined once: no quadratic copying)
        pending_bytes = 0
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
                        pending.append(chunk)
                        pending_bytes += len(chunk)
                        if b"\n" in chunk or not chunk:  # a line is complete: handle what came
                            buffer = self._handle(buffer + b"".join(pending), started)
                            pending, pending_bytes = [], 0
                        if len(buffer) + pending_bytes > MAX_MESSAGE_BYTES:
                            self._kill(proc)
                            return self._outcome(Status.FAILED, f"worker: a message longer than "
                                                 f"{MAX_MESSAGE_BYTES // 2**20} MiB during {self.phase}")
                else:
                    time.sleep(POLL_SECONDS / 10)
                self.peak_rss = max(self.peak_rss, _peak_rss(proc.pid))
                # Exited, and nothing left to read (a grandchild may still hold the pipe open).
                if not got and proc.poll() is not None:
                    break
                if self.signal_received is not None:
                    return self._interrupted(proc, read, buffer + b"".join(pending), started)
                now = time.perf_counter()
                if self.done is not None and done_at is None:
                    done_at = now
                if done_at is not None and now > done_at + EXIT_GRACE_SECONDS:
                    self._kill(proc, f"the worker (pid {proc.pid}): it did not exit within "
                               f"{EXIT_GRACE_SECONDS:g} s of its report")
                    break
                if deadline is not None and now > deadline:
                    if self.done is not None:
                        self._kill(proc, f"the worker (pid {proc.pid}): it had not exited by the timeout")
                        break
                    self._kill(proc)
                    return self._outcome(Status.TIMEOUT, f"timed out after {self.job.timeout:g} s during {self.phase}"
                                         + self._step_note())
        proc.wait()
        if self.done is not None:
            return self._outcome()
        if self.error is not None:
            return self._outcome(Status.FAILED, f"worker: {self.error}")
        return self._outcome(Status.FAILED, f"{_exit_reason(proc.returncode)} during {self.phase}{self._step_note()}")

    def _kill(self, proc: subprocess.Popen[bytes], note: str | None = None) -> None:
        """Kill the worker's group (bench's doing: not a death to diagnose); ``note`` it in the row."""
        self.killed_by_bench = True
        if note is not None and proc.poll() is None:
            self.killed.append(note)
        _kill_group(proc)

    def _interrupted(self, proc: subprocess.Popen[bytes], read: int, buffer: bytes, started: float) -> RowOutcome:
        name = SIGNAL_NAMES.get(self.signal_received or signal.SIGINT, "SIGINT")
        self.killed_by_bench = True
        try:
            proc.send_signal(signal.SIGINT if name == "SIGINT" else signal.SIGTERM)
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
        self._kill(proc)
        outcome = self._outcome(Status.INTERRUPTED, f"interrupted ({name}) during {self.phase}{self._step_note()}")
        if name == "SIGHUP" and outcome.measurement.error:  # the worker was sent SIGTERM; the user sent SIGHUP
            outcome = replace(outcome, measurement=replace(
                outcome.measurement, error=outcome.measurement.error.replace("(SIGTERM)", "(SIGHUP)")))
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
                self.executor.pool().on_phase(self.phase)
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
            except (ResultFormatError, SnapshotError, ReportError, ValueError, OSError) as exc:
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
        if not path.exists() and not path.is_symlink():
            return None
        if path.is_symlink() or not path.is_file():
            raise SnapshotError(f"{path.name} is not a regular file")
        return load_snapshot(path)


class WorkerPool:
    """At most one worker started ahead of its row, and what keeps it out of timed phases.

    While row N's worker starts and loads its framework (nothing timed for steps/s), the
    worker of row N+1 starts too: a fresh interpreter that imports bench and loads its
    classifier's framework, then waits for its job (``--prestart``, see
    :func:`bench.execute.child.prestart`). From row N's ``setup`` (before its first step)
    until its ``close``, the spare's whole process group is stopped (SIGSTOP): row N's
    worker stops it itself, and waits until it is stopped, before its setup begins (its
    ``job.json`` names the group), and the parent lets it go on at row N's ``close``; so
    nothing of it runs while row N's steps and evaluation are timed. The seconds it ran at the
    same time as row N's own start and load are reported as an overlapped phase, apart
    from the timeline's total, and row N+1's own worker start counts only what was left.
    """

    GATED = ("setup", "placement", "training", "evaluation")
    """Row phases during which the spare is stopped."""

    def __init__(self, executor: WorkerExecutor) -> None:
        self.executor = executor
        self.upcoming: list[str] = []
        self.spare: _Spare | None = None
        self._overlap: float | None = None
        """Seconds the spare ran alongside the current row before that row's setup."""

    def start_next(self) -> None:
        """Start the worker of the next row (once its classifier is known)."""
        self._overlap = None
        if self.spare is not None or not self.upcoming:
            return
        name = self.upcoming.pop(0)
        try:
            self.spare = _Spare.start(self.executor, name)
        except OSError:  # no pre-start: the row starts its own worker as before
            self.spare = None

    def overlap_seconds(self) -> float | None:
        """Seconds the spare ran alongside the current row's start and load (``None``: no spare)."""
        if self._overlap is None and self.spare is not None:
            self._overlap = self.spare.ran_seconds()
        return self._overlap

    def take(self, classifier: str) -> _Spare | None:
        """The spare for a row of ``classifier``, if one is alive and waiting for it."""
        spare, self.spare = self.spare, None
        if spare is None:
            return None
        spare.resume()
        if spare.classifier != classifier or spare.proc.poll() is not None:
            spare.discard()
            return None
        self.executor.phases.append(
            ("next rows' workers started and their frameworks loaded early (overlapped)", spare.ran_seconds()))
        return spare

    def on_phase(self, phase: str) -> None:
        if self.spare is None:
            return
        if phase in self.GATED:
            if self._overlap is None:
                self._overlap = self.spare.ran_seconds()
            self.spare.pause()
        else:
            self.spare.resume()

    def resume(self) -> None:
        if self.spare is not None:
            self.spare.resume()

    def close(self) -> None:
        if self.spare is not None:
            self.spare.discard()
            self.spare = None


@dataclass
class _Spare:
    """A worker started ahead of its row, waiting on stdin for ``go``."""

    classifier: str
    proc: subprocess.Popen[bytes]
    read: int
    temporary: tempfile.TemporaryDirectory[str]
    started: float
    paused_since: float | None = None
    paused_seconds: float = 0.0

    @classmethod
    def start(cls, executor: WorkerExecutor, classifier: str) -> _Spare:
        temporary = reaper.row_directory()
        read, write = os.pipe()
        try:
            with open(Path(temporary.name) / OUTPUT_FILE, "wb") as output:
                proc = subprocess.Popen(
                    [executor.python, "-m", "bench.execute.child", str(write), str(os.getpid()), temporary.name,
                     "--prestart", classifier],
                    pass_fds=[write],
                    stdin=subprocess.PIPE,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=executor.env,
                )
        except OSError:
            os.close(read)
            temporary.cleanup()
            raise
        finally:
            os.close(write)
        (Path(temporary.name) / reaper.GROUP_FILE).write_text(str(proc.pid))
        return cls(classifier, proc, read, temporary, time.perf_counter())

    @property
    def directory(self) -> Path:
        return Path(self.temporary.name)

    def pause(self) -> None:
        if self.paused_since is None and self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGSTOP)
            self.paused_since = time.perf_counter()

    def resume(self) -> None:
        if self.paused_since is not None:
            _signal_group(self.proc, signal.SIGCONT)
            self.paused_seconds += time.perf_counter() - self.paused_since
            self.paused_since = None

    def ran_seconds(self) -> float:
        """Seconds it was running (not stopped) since it started."""
        return max(0.0, time.perf_counter() - self.started - self.paused_seconds)

    def go(self) -> tuple[subprocess.Popen[bytes], int]:
        """Its job is written: let it measure the row. The process and its pipe's read end."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        except OSError:  # it died waiting: the row records how
            pass
        return self.proc, self.read

    def discard(self) -> None:
        self.resume()
        _kill_group(self.proc)
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        os.close(self.read)
        self.cleanup()

    def cleanup(self) -> None:
        self.temporary.cleanup()


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


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
    """Kill the worker and anything left in its process group (its own session), and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if proc.poll() is None:
            proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        pass


Handlers = dict[int, Any]


def _catch_signals(handler: Any) -> Handlers:
    """While a worker runs, Ctrl-C, SIGTERM and SIGHUP only set a flag that the poll loop reads."""
    previous: Handlers = {}
    for signum in SIGNAL_NAMES:
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: signals stay as they are
            pass
    return previous


def _restore_signals(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


OUTPUT_FILE = "output.txt"
"""The worker's standard output and error, in the row's directory."""


def _tail(path: Path, limit: int = OUTPUT_TAIL_CHARS) -> str | None:
    """The end of the worker's output (at most ``limit`` characters), or None if it wrote nothing."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - 4 * limit)
            handle.seek(start)
            text = handle.read().decode("utf-8", "backslashreplace")
    except OSError:
        return None
    cut = start > 0 or len(text) > limit
    text = text[-limit:].strip()
    if not text:
        return None
    return ("..." if cut else "") + text


def _peak_rss(pid: int) -> int:
    """The peak resident set of ``pid`` so far (bytes; 0 where /proc cannot tell)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cgroup_file(name: str) -> Path | None:
    """``name`` in this process's cgroup (v2) directory, if there is one."""
    try:
        line = Path("/proc/self/cgroup").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    if not line.startswith("0::"):
        return None
    path = Path("/sys/fs/cgroup") / line[3:].lstrip("/") / name
    return path if path.is_file() else None


def _oom_kills() -> int | None:
    """The ``oom_kill`` count of this cgroup's ``memory.events``, if readable."""
    path = _cgroup_file("memory.events")
    try:
        for line in path.read_text().splitlines() if path else []:
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        pass
    return None


def memory_limit() -> int | None:
    """The memory a worker may use: the cgroup's ``memory.max``, else the machine's RAM."""
    path = _cgroup_file("memory.max")
    try:
        text = path.read_text().strip() if path else "max"
        if text != "max":
            return int(text)
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        return None


NEAR_LIMIT = 0.9
"""A peak resident set above this fraction of the limit counts as evidence of memory exhaustion."""


def _oom_evidence(oom_kills_before: int | None, peak_rss: int, limit: int | None = None) -> str | None:
    """Why a SIGKILL was most likely the out-of-memory killer, or None without evidence."""
    after = _oom_kills()
    if oom_kills_before is not None and after is not None and after > oom_kills_before:
        return "the cgroup's memory.events counted an oom_kill"
    limit = memory_limit() if limit is None else limit
    if limit and peak_rss >= NEAR_LIMIT * limit:
        return f"its resident memory reached {peak_rss / 2**30:.1f} GiB of the {limit / 2**30:.1f} GiB limit"
    return None
