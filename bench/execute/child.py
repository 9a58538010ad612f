"""The worker process: ``python -m bench.execute.child FD PARENT_PID JOB_DIR`` measures one row.

Started by :class:`bench.execute.worker.WorkerExecutor`, never by hand. It maps the
prepared dataset read-only (every page touched once, before the row), rebuilds the batch
schedule from its seed and checks it against the parent's sha256, finds the classifier
among the installed plugins, and measures the row, reporting over the pipe ``FD``. It has
no test labels (the prepared directory holds none): it leaves its predictions in the job
directory for the parent to score (:func:`save_predictions`).

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

    def save(measured: Measured) -> None:
        nonlocal saved, environment
        for params, name in ((measured.parameters.at_parity, "parity"), (measured.parameters.final, "final")):
            if params is not None:
                np.savez(directory / f"{name}.npz", **params)  # type: ignore[arg-type]  # names are str
        environment = environment_of(registry, spec)
        saved = True

    def on_measured(measured: Measured) -> None:
        save(measured)
        channel.send("measured", row=measured.measurement.to_dict(), environment=environment,
                     predictions=save_predictions(directory, measured.predictions))

    result = measure(
        job,
        spec,
        dataset,
        schedule,
        progress=lambda steps: channel.send("progress", steps=steps),
        on_phase=lambda phase: channel.send("phase", phase=phase),
        on_measured=on_measured,
        score=False,
    )
    if not saved:
        save(result)
    channel.send("done", row=result.measurement.to_dict(), environment=environment,
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


def list_devices(name: str, channel: Channel) -> int:
    from bench.plugins import installed_registry

    spec = installed_registry().get(name)
    devices = spec.devices() if spec.devices is not None else ["cpu"]
    channel.send("devices", devices=[str(d) for d in devices])
    return 0


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
    else:
        print("usage: python -m bench.execute.child FD PARENT_PID (JOB_DIR | --list-devices NAME)", file=sys.stderr)
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
    sys.exit(main(sys.argv[1:]))
