"""The worker process: ``python -m bench.execute.child FD PARENT_PID JOB_DIR`` measures one row.

Started by :class:`bench.execute.worker.WorkerExecutor`, never by hand. It maps the
prepared dataset read-only (every page touched once, before the row), rebuilds the batch
schedule from its seed and checks it against the parent's sha256, finds the classifier
among the installed plugins, and measures the row, reporting over the pipe ``FD``. It has
no test labels (the prepared directory holds none): it leaves its predictions in the job
directory for the parent to score (:func:`save_predictions`).

``python -m bench.execute.child FD PARENT_PID JOB_DIR --prestart NAME`` is a worker started
ahead of its row: it loads NAME's framework, then waits for ``go`` on stdin (:func:`prestart`).
A worker leaves with ``os._exit`` right after its last report (:func:`exit_now`).

``python -m bench.execute.child FD PARENT_PID --list-devices NAME`` reports the devices a
classifier can use, so that the parent never imports a framework to ask.

A worker dies with its parent (``PR_SET_PDEATHSIG``): a bench killed by SIGKILL leaves no
worker behind.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from bench.errors import Terminated, describe_exception

if TYPE_CHECKING:
    from bench.measure import Predictions


class Channel:
    """JSON lines to the parent."""

    def __init__(self, fd: int) -> None:
        self._stream: BinaryIO = os.fdopen(fd, "wb", buffering=0)

    def send(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, default=_plain) + "\n"
        try:
            self._stream.write(line.encode())
        except BrokenPipeError:  # the parent is gone: nobody to tell
            os._exit(1)


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def measure_job(directory: Path, channel: Channel) -> int:
    from bench.dataset.prepared import open_prepared
    from bench.job import RowJob
    from bench.measure import Measured, measure
    from bench.plugins import environment_of, installed_registry

    document = json.loads((directory / "job.json").read_text())
    job = RowJob.from_dict(document["job"])
    dataset = open_prepared(document["prepared"], test_labels=False)
    schedule = job.schedule.rebuild(len(dataset.train_labels))
    registry = installed_registry()
    spec = registry.get(job.classifier)
    channel.send("ready")
    environment: dict[str, str] = {}
    saved = False
    memory = OwnMemory()
    stop_group = document.get("stop_group")

    def on_phase(phase: str) -> None:
        nonlocal stop_group
        memory.sample()
        if stop_group is not None and phase != "load":  # setup begins: nothing else may run from now on
            stop_early_worker(int(stop_group))
            stop_group = None
        channel.send("phase", phase=phase)

    def save(measured: Measured) -> None:
        nonlocal saved, environment
        for params, name in ((measured.parameters.at_parity, "parity"), (measured.parameters.final, "final")):
            if params is not None:
                np.savez(directory / f"{name}.npz", **params)  # type: ignore[arg-type]  # names are str
        environment = environment_of(registry, spec)
        saved = True

    def on_measured(measured: Measured) -> None:
        memory.sample()
        save(measured)
        channel.send("measured", row=memory.add_to(measured.measurement.to_dict()), environment=environment,
                     predictions=save_predictions(directory, measured.predictions))

    result = measure(
        job,
        spec,
        dataset,
        schedule,
        progress=lambda steps: channel.send("progress", steps=steps),
        on_phase=on_phase,
        on_measured=on_measured,
        score=False,
    )
    if not saved:
        save(result)
    memory.sample()
    channel.send("done", row=memory.add_to(result.measurement.to_dict()), environment=environment,
                 predictions=save_predictions(directory, result.predictions))
    return 0


def save_predictions(directory: Path, predictions: Predictions) -> dict[str, Any]:
    """Write ``predictions.npy`` (one line per evaluation) for the parent; return its description."""
    from bench.execute.verdict import PREDICTIONS_FILE

    if predictions.lines:  # written whole, then renamed: a worker killed meanwhile leaves the last complete file
        partial = directory / f"{PREDICTIONS_FILE}.partial"
        with open(partial, "wb") as handle:
            np.save(handle, np.stack(predictions.lines), allow_pickle=False)
        os.replace(partial, directory / PREDICTIONS_FILE)
    return {"steps": list(predictions.steps), "seconds": list(predictions.seconds), "final": predictions.final}


def stop_early_worker(group: int, wait: float = 1.0) -> None:
    """Stop the next row's worker, started ahead of its row (its process group), and wait
    until the kernel says it is stopped (at most ``wait`` seconds); the parent lets it go
    on at this row's ``close``. Gone already: nothing to do."""
    import time

    try:
        os.killpg(group, signal.SIGSTOP)
    except (ProcessLookupError, PermissionError):
        return
    end = time.perf_counter() + wait
    while time.perf_counter() < end:
        try:
            state = Path(f"/proc/{group}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("T", "t", "Z", "X"):
            return
        time.sleep(0.0005)


class OwnMemory:
    """The largest of the process's own resident memory seen so far: anonymous pages
    (heap, framework allocations) and shared memory, ``RssAnon + RssShmem`` in
    ``/proc/self/status``, without the file pages it maps (``RssFile``: the prepared
    dataset every row shares, and libraries). The kernel keeps no peak of it, so it is
    sampled where the worker already reports (phase boundaries), never during a step."""

    def __init__(self) -> None:
        self.peak: int | None = None

    def sample(self) -> None:
        now = own_memory_bytes()
        if now is not None and (self.peak is None or now > self.peak):
            self.peak = now

    def add_to(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "peak_own_memory_bytes": self.peak} if self.peak is not None else row


def own_memory_bytes() -> int | None:
    """``RssAnon + RssShmem`` of this process in bytes; ``None`` where ``/proc`` has no such lines."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("RssAnon", "RssShmem"):
            values[key] = int(rest.split()[0]) * 1024  # kB
    return sum(values.values()) if len(values) == 2 else None


def list_devices(name: str, channel: Channel) -> int:
    from bench.plugins import installed_registry

    spec = installed_registry().get(name)
    devices = spec.devices() if spec.devices is not None else ["cpu"]
    channel.send("devices", devices=[str(d) for d in devices])
    return 0


def prestart(name: str, channel: Channel) -> None:
    """A worker started ahead of its row (:class:`bench.execute.worker.WorkerPool`): load
    the classifier's framework now (its ``factory()``, instance dropped), report
    ``preloaded``, then wait on stdin for ``go`` (its ``job.json`` written) and measure.

    A failure here is ignored: the row's own ``load`` phase meets and records it. While the
    parent's current row trains and evaluates, the parent keeps this process stopped
    (SIGSTOP), so nothing of it runs in a timed phase."""
    import time

    start = time.perf_counter()
    try:
        from bench.plugins import installed_registry

        instance = installed_registry().get(name).factory()
        del instance
    except Exception:  # noqa: BLE001 - measured again, and recorded, in the row's load phase
        pass
    channel.send("preloaded", seconds=time.perf_counter() - start)
    if sys.stdin.readline().strip() != "go":  # the parent went away or let the row go
        exit_now(0)


def _prestarted(name: str, directory: Path, channel: Channel) -> int:
    prestart(name, channel)
    return measure_job(directory, channel)


def exit_now(code: int) -> None:
    """Leave at once once every report is written: the files are closed and the pipe's lines
    sent, so the interpreter's own shutdown (about a second for a process that imported
    TensorFlow) is work nobody waits for."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux); exit if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl: rely on the pipe
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _raise_terminated)
    channel: Channel
    if len(argv) == 4 and argv[2] == "--list-devices":
        name = argv[3]
        task = lambda: list_devices(name, channel)  # noqa: E731 - bound once the channel is open
    elif len(argv) == 3:
        directory = Path(argv[2])
        task = lambda: measure_job(directory, channel)  # noqa: E731 - bound once the channel is open
    elif len(argv) == 5 and argv[3] == "--prestart":
        directory, name = Path(argv[2]), argv[4]
        task = lambda: _prestarted(name, directory, channel)  # noqa: E731 - bound once the channel is open
    else:
        print("usage: python -m bench.execute.child FD PARENT_PID (JOB_DIR [--prestart NAME] | --list-devices NAME)",
              file=sys.stderr)
        return 2
    die_with_parent(int(argv[1]))
    channel = Channel(int(argv[0]))
    try:
        return task()
    except (KeyboardInterrupt, Terminated):
        return 130
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which records the row
        channel.send("error", message=describe_exception(exc))
        return 1


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
