"""``--isolation none``: every row in bench's own process, one after another.

For debugging and profilers. Rows share the process: a framework's process-wide state (a
thread pool, an allocator, imports) carries over from one row to the next, a crashing
plugin ends the run, and the host-memory peak is the whole process's so far.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.classifier import ClassifierSpec
from bench.dataset import Dataset
from bench.errors import UsageError
from bench.execute import Progress, RowJob, RowOutcome
from bench.measure import INTERRUPTED, measure
from bench.plugins import Registry, environment_of
from bench.schedule import BatchSchedule


@dataclass
class InProcessExecutor:
    registry: Registry
    dataset: Dataset
    schedule: BatchSchedule
    isolation: str = "none"

    def run_row(self, spec: ClassifierSpec, job: RowJob, progress: Progress | None = None) -> RowOutcome:
        if job.timeout is not None:
            raise UsageError("--timeout needs --isolation process (a row in bench's own process cannot be stopped)")
        row = measure(
            spec,
            job.device,
            self.dataset,
            self.schedule,
            job.setup,
            loss_every=job.loss_every,
            parity_step=job.parity_step,
            placement=job.placement,
            steps_per_call=job.steps_per_call,
            eval_every=job.eval_every,
            target_accuracy=job.target_accuracy,
            progress=progress,
        )
        row.isolation = self.isolation
        interrupted = None
        if row.status == INTERRUPTED:
            interrupted = "SIGTERM" if "SIGTERM" in (row.error or "") else "SIGINT"
        return RowOutcome(row, environment_of(self.registry, spec), interrupted)

    def list_devices(self, spec: ClassifierSpec) -> list[str]:
        return list(spec.devices()) if spec.devices is not None else ["cpu"]
