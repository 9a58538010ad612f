"""A row's job: everything measuring one row needs besides the data, in one wire form.

The runner makes a :class:`RowJob` for every planned row; each executor hands it on as it
is (in bench's own process), as ``job.json`` (a worker process) or inside a Ray task's
request (a cluster node), always as :meth:`RowJob.to_dict` and :meth:`RowJob.from_dict`,
and :func:`bench.measure.measure` takes it whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bench.classifier import SetupConfig
from bench.schedule import BatchSchedule, build_schedule


@dataclass(frozen=True)
class SchedulePlan:
    """What rebuilds a batch schedule, and the digest the rebuilt one must have."""

    steps: int
    batch_size: int
    seed: int
    sampling: str
    sha256: str

    @classmethod
    def of(cls, schedule: BatchSchedule) -> SchedulePlan:
        return cls(schedule.steps, schedule.batch_size, schedule.seed, schedule.sampling, schedule.sha256())

    def rebuild(self, num_examples: int) -> BatchSchedule:
        """The schedule, drawn again over ``num_examples`` images; a RuntimeError if it differs."""
        schedule = build_schedule(num_examples, self.steps, self.batch_size, self.seed, self.sampling)
        if schedule.sha256() != self.sha256:
            raise RuntimeError("the rebuilt batch schedule differs from the parent's (sha256 mismatch)")
        return schedule


@dataclass(frozen=True)
class RowJob:
    """One row to measure: a classifier on a device, its settings and its schedule."""

    classifier: str
    device: str
    setup: SetupConfig
    schedule: SchedulePlan
    placement: str = "feed"
    steps_per_call: int = 1
    loss_every: int = 10
    parity_step: int = 10
    """The step after which a parameter snapshot is taken (at most the schedule's steps)."""
    timeout: float | None = None
    """Seconds the whole row may take (worker start included); ``None``: no limit."""
    eval_every: int | None = None
    """Evaluate on the test set every this many steps (between steps); ``None``: only at the end."""
    target_accuracy: float | None = None
    """Record the steps and seconds to this test accuracy (a fraction; needs ``eval_every``)."""

    def to_dict(self) -> dict[str, Any]:
        """The wire form (plain JSON values)."""
        data = asdict(self)
        data["setup"]["params"] = dict(self.setup.params)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RowJob:
        return cls(**{**data, "setup": SetupConfig(**data["setup"]), "schedule": SchedulePlan(**data["schedule"])})
