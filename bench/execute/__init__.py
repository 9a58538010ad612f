"""Where rows run: executors, chosen by name from one table (:data:`EXECUTORS`).

A row is one classifier on one device, described by a :class:`~bench.job.RowJob`. The
runner hands each job, with the data its rows share (:class:`RowData`), to the run's
executor, which returns a :class:`RowOutcome`: the row's measurement, its parameter
snapshots, the framework facts its process reported, and whether the user interrupted it.

- ``process`` (:class:`~bench.execute.worker.WorkerExecutor`, the default): every row in a
  new interpreter started cleanly (never a fork of a process that imported a framework),
  which memory-maps the prepared dataset read-only. A crash, ``os._exit``, a hang past
  ``--timeout`` or a signal ends that row alone; no row inherits another's threads, memory
  or imports.
- ``inprocess`` (:class:`~bench.execute.inprocess.InProcessExecutor`): rows one after
  another in bench's own process, for debugging and profilers.
- ``ray`` (:class:`~bench.execute.ray.RayExecutor`): each row a Ray task on a node of a
  cluster, which gets its own copy of the data (checked against the run's) and measures
  the row in a fresh worker process there. Needs ``pip install 'bench-harness[ray]'``.

An executor may also measure several rows at once (:class:`ConcurrentExecutor`: Ray, one
row per node): the runner then hands it every row of the plan and takes them back as they
finish, and still adds them to the document in the plan's order.

Each executor class checks its own options (:meth:`ExecutorClass.check`) and is opened
once per run (:meth:`ExecutorClass.open`); the runner knows no executor by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from bench.dataset import Dataset
from bench.dataset.provide import DataSettings
from bench.errors import UsageError
from bench.job import RowJob
from bench.measure import Progress
from bench.results.model import Measurement, ParameterSnapshots

if TYPE_CHECKING:
    from bench.classifier import ClassifierSpec
    from bench.plugins import Registry
    from bench.settings import RunConfig

__all__ = ["EXECUTORS", "ConcurrentExecutor", "Executor", "ExecutorClass", "Progress", "RowData", "RowJob",
           "RowOutcome", "executor_class"]

EXECUTORS: Mapping[str, str] = {
    "process": "bench.execute.worker:WorkerExecutor",
    "inprocess": "bench.execute.inprocess:InProcessExecutor",
    "ray": "bench.execute.ray:RayExecutor",
}
"""Every executor by name: ``--executor NAME``."""


@dataclass(frozen=True)
class RowData:
    """The data that rows of one run (or, for the synthetic set, of one seed) share."""

    dataset: Dataset
    """The parent's copy (the rows' test labels stay with it)."""
    prepared: Path | None = None
    """The prepared copy on disk that worker processes map (``process`` executors)."""
    settings: DataSettings = field(default_factory=DataSettings)
    """How the data was obtained: what a node needs to obtain the same data itself."""


@dataclass(frozen=True)
class RowOutcome:
    """What an executor brings back from one row."""

    measurement: Measurement
    parameters: ParameterSnapshots = field(default_factory=ParameterSnapshots)
    environment: dict[str, str] = field(default_factory=dict)
    interrupted: str | None = None
    """``"SIGINT"``, ``"SIGTERM"`` or ``"SIGHUP"`` when the user stopped the run during this row,
    ``"cluster-lost"`` when the executor lost the machines that run the rows."""


class Executor(Protocol):
    """Runs the rows of one run."""

    isolation: ClassVar[str]
    """What its rows record as ``isolation``: ``process`` or ``none``."""

    def run_row(self, job: RowJob, data: RowData, progress: Progress | None = None) -> RowOutcome:
        """Measure one row; never raises for a plugin's fault (the row records it)."""
        ...

    def list_devices(self, spec: ClassifierSpec) -> list[str]:
        """The devices ``spec`` can use now (``--devices all``)."""
        ...

    def close(self) -> None:
        """Release what the executor holds (a cluster connection)."""
        ...


class ConcurrentExecutor(Executor, Protocol):
    """An executor that measures several rows at once (optional: the runner uses
    :meth:`run_rows` when an executor has it)."""

    def run_rows(
        self, items: Iterable[tuple[int, RowJob, RowData]], notify: Callable[[str], None] | None = None,
        label: Callable[[int], str] | None = None,
    ) -> Iterator[tuple[int, RowOutcome]]:
        """Measure every ``(index, job, data)`` and yield ``(index, outcome)`` as each row
        finishes, in any order. On an interrupt (or a lost cluster) it yields the rows that
        were running with ``interrupted`` set and stops; rows that never started are not
        yielded. ``notify`` hears a line as a row starts (and where) and finishes, naming it
        ``label(index)``."""
        ...


class ExecutorClass(Protocol):
    """An executor's class: its name, its options, how it is opened."""

    name: ClassVar[str]
    isolation: ClassVar[str]
    needs_prepared_copy: ClassVar[bool]
    """Whether its rows map a prepared copy on this machine (``process``)."""
    options: ClassVar[tuple[str, ...]]
    """The :class:`~bench.settings.RunConfig` fields only this executor takes."""

    @classmethod
    def check(cls, config: RunConfig) -> None:
        """Raise a UsageError for options this executor cannot use (before anything runs)."""
        ...

    @classmethod
    def open(cls, config: RunConfig, registry: Registry) -> Executor:
        """The executor for a run of ``config``."""
        ...


def executor_class(name: str) -> ExecutorClass:
    """The executor called ``name`` (imported only now: Ray's stays unimported until asked for)."""
    try:
        module, _, attribute = EXECUTORS[name].partition(":")
    except KeyError:
        raise UsageError(f"unknown --executor {name!r}; choose one of: {', '.join(EXECUTORS)}") from None
    chosen: ExecutorClass = getattr(importlib.import_module(module), attribute)
    return chosen


def check_options(config: RunConfig) -> None:
    """The chosen executor checks its options; options of another executor are refused."""
    chosen = executor_class(config.executor)
    chosen.check(config)
    for name in EXECUTORS:
        if name == config.executor:
            continue
        foreign = [option for option in executor_class(name).options
                   if option not in chosen.options and getattr(config, option) is not None]
        if foreign:
            flags = ", ".join("--" + option.replace("_", "-") for option in foreign)
            raise UsageError(f"{flags} need{'s' if len(foreign) == 1 else ''} --executor {name}")
