"""Where rows run: each in a fresh worker process (the default), or in bench's own process.

A row is one classifier on one device. The runner describes it as a :class:`RowJob` and
hands it to an executor, which returns a :class:`RowOutcome`: the measured row, the
framework facts its process reported, and whether the user interrupted it.

- :class:`~bench.execute.worker.WorkerExecutor` (``--isolation process``): every row in a
  new interpreter started cleanly (never a fork of a process that imported a framework),
  which memory-maps the prepared dataset read-only. A crash, ``os._exit``, a hang past
  ``--timeout`` or a signal ends that row alone; no row inherits another's threads, memory
  or imports.
- :class:`~bench.execute.inprocess.InProcessExecutor` (``--isolation none``): rows one
  after another in this process, for debugging and profilers.
- :class:`~bench.execute.ray.RayExecutor` (``--executor ray``): each row a Ray task on a
  node of a cluster, which gets its own copy of the data (checked against the run's) and
  measures the row in a fresh worker process there (:mod:`bench.execute.node`); rows can
  be submitted together and come back as they finish. Needs ``pip install 'bench[ray]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bench.classifier import ClassifierSpec, SetupConfig
from bench.results.model import Row

ISOLATIONS = ("process", "none")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RowJob:
    """Everything a row needs besides the dataset and the schedule."""

    classifier: str
    device: str
    setup: SetupConfig
    placement: str = "feed"
    steps_per_call: int = 1
    loss_every: int = 10
    parity_step: int = 10
    timeout: float | None = None
    """Seconds the whole row may take (worker start included); ``None``: no limit."""
    eval_every: int | None = None
    """Evaluate on the test set every this many steps (between steps); ``None``: only at the end."""
    target_accuracy: float | None = None
    """Record the steps and seconds to this test accuracy (a fraction; needs ``eval_every``)."""


@dataclass
class RowOutcome:
    """What an executor brings back from one row."""

    row: Row
    environment: dict[str, str] = field(default_factory=dict)
    interrupted: str | None = None
    """``"SIGINT"`` or ``"SIGTERM"`` when the user stopped the run during this row."""


class Executor(Protocol):
    """Runs rows of one run (one dataset, one schedule)."""

    isolation: str

    def run_row(self, spec: ClassifierSpec, job: RowJob, progress: Progress | None = None) -> RowOutcome:
        """Measure one row; never raises for a plugin's fault (the row records it)."""
        ...

    def list_devices(self, spec: ClassifierSpec) -> list[str]:
        """The devices ``spec`` can use now (``--devices all``)."""
        ...
