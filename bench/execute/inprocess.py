"""``--executor inprocess``: every row in bench's own process, one after another.

For debugging and profilers. Rows share the process: a framework's process-wide state (a
thread pool, an allocator, imports) carries over from one row to the next, a crashing
plugin ends the run, and the host-memory peak is the whole process's so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bench.classifier import ClassifierSpec
from bench.errors import UsageError
from bench.execute import Progress, RowData, RowJob, RowOutcome
from bench.measure import INTERRUPTED, measure
from bench.plugins import Registry, environment_of

if TYPE_CHECKING:
    from bench.settings import RunConfig

TIMEOUT_REFUSED = "--timeout needs --executor process (a row in bench's own process cannot be stopped)"


@dataclass
class InProcessExecutor:
    registry: Registry
    name: ClassVar[str] = "inprocess"
    isolation: ClassVar[str] = "none"
    needs_prepared_copy: ClassVar[bool] = False
    options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check(cls, config: RunConfig) -> None:
        if config.timeout is not None:
            raise UsageError(TIMEOUT_REFUSED)

    @classmethod
    def open(cls, config: RunConfig, registry: Registry) -> InProcessExecutor:
        return cls(registry)

    def run_row(self, job: RowJob, data: RowData, progress: Progress | None = None) -> RowOutcome:
        if job.timeout is not None:
            raise UsageError(TIMEOUT_REFUSED)
        spec = self.registry.get(job.classifier)
        schedule = job.schedule.rebuild(len(data.dataset.train_labels))
        measured = measure(job, spec, data.dataset, schedule, progress=progress)
        interrupted = None
        if measured.measurement.status == INTERRUPTED:
            error = measured.measurement.error or ""
            interrupted = next((name for name in ("SIGTERM", "SIGHUP") if f"({name})" in error), "SIGINT")
        return RowOutcome(measured.measurement, measured.parameters, environment_of(self.registry, spec), interrupted)

    def list_devices(self, spec: ClassifierSpec) -> list[str]:
        return list(spec.devices()) if spec.devices is not None else ["cpu"]

    def close(self) -> None:
        pass
