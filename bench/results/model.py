"""The measured result, typed: a run document, its rows, and their step statistics.

Raw data is kept and statistics are derived in one place (as pytest-benchmark's ``Stats``
and torch.utils.benchmark's ``Measurement`` do): a row stores every step's time
(``step_seconds``), and :class:`StepStats` derives the median, quartiles, outliers and
steps/s from it, for the tables, the export and the comparison alike.

A document is parsed and checked once, by :meth:`RunDocument.from_dict`; everything that
reads a run (report, plot, export, compare) then reads typed attributes. Files of
schema 1 (which stored nine ``step_seconds_*`` summaries instead of the raw times) still
load: their rows carry the stored steps/s and no raw data.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)


class Status(str, Enum):
    """How a row ended."""

    OK = "ok"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    """The device or an ability (resident placement, many steps per call) is not there."""
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value


class ResultFormatError(ValueError):
    """A document that is not a bench result (the message says where)."""


@dataclass(frozen=True)
class StepStats:
    """Statistics of a row's steady steps (every step after the first), in seconds.

    The quartiles, outlier counts and Tukey fences are pytest-benchmark's definitions, so
    an export is exactly what pytest-benchmark would have computed from the same times.
    """

    data: tuple[float, ...]

    @classmethod
    def of_row(cls, step_seconds: Sequence[float]) -> StepStats | None:
        """The steady steps of a row's times: all but the first (tracing, compilation)."""
        if not step_seconds:
            return None
        return cls(tuple(step_seconds[1:] if len(step_seconds) > 1 else step_seconds))

    @cached_property
    def sorted(self) -> list[float]:
        return sorted(self.data)

    @property
    def rounds(self) -> int:
        return len(self.data)

    @property
    def total(self) -> float:
        try:
            return math.fsum(self.data)
        except OverflowError:  # times no clock gives, from a hand-made file
            return math.inf

    @property
    def min(self) -> float:
        return self.sorted[0]

    @property
    def max(self) -> float:
        return self.sorted[-1]

    @cached_property
    def mean(self) -> float:
        return statistics.mean(self.data)

    @cached_property
    def stddev(self) -> float:
        return statistics.stdev(self.data) if len(self.data) > 1 else 0.0

    @cached_property
    def median(self) -> float:
        return statistics.median(self.data)

    def percentile(self, q: float) -> float:
        """Linear interpolation between closest ranks (numpy's default)."""
        return float(np.percentile(self.sorted, q))

    @cached_property
    def q1(self) -> float:
        return self._quartiles[0]

    @cached_property
    def q3(self) -> float:
        return self._quartiles[1]

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @cached_property
    def _quartiles(self) -> tuple[float, float]:
        """Wikipedia's methods 3 (odd n) and 2 (even n), as pytest-benchmark."""
        data, n = self.sorted, len(self.sorted)
        if n == 1:
            return data[0], data[0]
        if n % 2:
            k, r = n // 4, n % 4
            if r == 1:
                return 0.25 * data[k - 1] + 0.75 * data[k], 0.75 * data[3 * k] + 0.25 * data[3 * k + 1]
            return 0.75 * data[k] + 0.25 * data[k + 1], 0.25 * data[3 * k + 1] + 0.75 * data[3 * k + 2]
        return statistics.median(data[: n // 2]), statistics.median(data[n // 2 :])

    @property
    def iqr_outliers(self) -> int:
        low, high = self.q1 - 1.5 * self.iqr, self.q3 + 1.5 * self.iqr
        return sum(1 for v in self.data if v < low or v > high)

    @property
    def stddev_outliers(self) -> int:
        low, high = self.mean - self.stddev, self.mean + self.stddev
        return sum(1 for v in self.data if v < low or v > high)

    @property
    def ld15iqr(self) -> float:
        """Lowest datum within 1.5 IQR below Q1."""
        if len(self.data) == 1:
            return self.data[0]
        return self.sorted[bisect_left(self.sorted, self.q1 - 1.5 * self.iqr)]

    @property
    def hd15iqr(self) -> float:
        """Highest datum within 1.5 IQR above Q3."""
        if len(self.data) == 1:
            return self.data[0]
        return self.sorted[bisect_right(self.sorted, self.q3 + 1.5 * self.iqr) - 1]

    @property
    def steps_per_second(self) -> float | None:
        """The steady-state rate: 1 / the median step time."""
        return 1.0 / self.median if self.median > 0 else None

    def as_pytest_benchmark(self) -> dict[str, Any]:
        """pytest-benchmark's ``Stats.as_dict()``, plus ``iterations``."""
        return {
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "stddev": self.stddev,
            "rounds": self.rounds,
            "median": self.median,
            "iqr": self.iqr,
            "q1": self.q1,
            "q3": self.q3,
            "iqr_outliers": self.iqr_outliers,
            "stddev_outliers": self.stddev_outliers,
            "outliers": f"{self.stddev_outliers};{self.iqr_outliers}",
            "ld15iqr": self.ld15iqr,
            "hd15iqr": self.hd15iqr,
            "ops": self.rounds / self.total if self.total else 0,
            "total": self.total,
            "iterations": 1,
        }


# The fields a stored row has, with the types a reader can rely on.
_FLOAT, _INT, _TEXT = (float,), (int,), (str,)


@dataclass
class Row:
    """What one classifier on one device measured. Times in seconds."""

    plugin: str
    device: str
    status: Status = Status.OK
    error: str | None = None
    test_accuracy: float | None = None
    final_loss: float | None = None
    steps_completed: int = 0
    step_seconds: list[float] | None = None
    """Every step's time, the first included (with ``--steps-per-call``, each call's time
    shared equally by its steps)."""
    steps_per_second: float | None = None
    """Steady state: 1 / median time of the steps after the first (from :attr:`stats`)."""
    first_step_seconds: float | None = None
    """Tracing, compilation, lazy allocation: the first step alone."""
    train_seconds: float | None = None
    """All training steps, the first included."""
    load_seconds: float | None = None
    """Creating the classifier object (imports its framework)."""
    setup_seconds: float | None = None
    placement: str = "feed"
    steps_per_call: int = 1
    placement_seconds: float | None = None
    """``resident`` only: copying the training set to the device once."""
    eval_seconds: float | None = None
    close_seconds: float | None = None
    wall_seconds: float | None = None
    worker_start_seconds: float | None = None
    """``process`` isolation: starting the worker, importing bench, mapping the data."""
    isolation: str = "process"
    diverged_at_step: int | None = None
    loss_curve: list[list[float]] = field(default_factory=list)
    """``[step, loss]`` every ``loss_every`` steps (steps counted from 1), and the last."""
    parity_step: int | None = None
    parity_max_abs_diff: float | None = None
    """Largest absolute parameter difference from the first ok row after ``parity_step``
    (NaN when a parameter is NaN)."""
    final_max_abs_diff: float | None = None
    roofline_fraction: float | None = None
    """Steps/s over the attainable steps/s of this row's work on its device's ceilings."""
    attainable_steps_per_second: float | None = None
    """1 / max(FLOPs / peak FLOP/s, bytes / bandwidth) for a step of this row."""
    roofline_bound: str | None = None
    """``compute`` or ``memory``: the ceiling that limits a step of this work."""
    roofline_reason: str | None = None
    """Why the row has no fraction, when it has none."""
    compiled_flops_per_step: float | None = None
    """The compiler's own count of a step's FLOPs (XLA's cost analysis), where offered."""
    compiled_bytes_per_step: float | None = None
    peak_host_memory_bytes: int | None = None
    """Peak resident set of the row's process (with ``--isolation none``, bench's own so far)."""
    peak_device_memory_bytes: int | None = None
    """Peak memory the framework allocated on the row's device, where it can tell."""
    flops_per_step: float | None = None
    bytes_per_step: float | None = None
    eval_every: int | None = None
    """``--eval-every N``: the test set was also evaluated after every N-th step."""
    eval_during_training_seconds: float | None = None
    """Those evaluations' time, all together (outside every step's timing, inside the wall clock)."""
    accuracy_curve: list[list[float]] = field(default_factory=list)
    """``[step, test accuracy, seconds since training began]`` at every evaluation, the
    final one included (``--eval-every``)."""
    target_accuracy: float | None = None
    """``--target-accuracy``: the test accuracy (a fraction) whose time-to-reach was measured."""
    steps_to_target: int | None = None
    """Steps trained when an evaluation first reached ``target_accuracy``; ``None``: not reached."""
    time_to_target_seconds: float | None = None
    """Wall-clock seconds from the start of training to the end of that evaluation: every
    step, the harness's bookkeeping between steps and the evaluations before it included;
    load, setup and placement not. ``None``: not reached."""
    schedule_sha256: str | None = None
    """The digest of the batch schedule this row trained on (rows of a sweep differ)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The run settings this row used (batch size, seed, threads, ...)."""
    params: dict[str, str] = field(default_factory=dict)
    """The ``--param`` settings this classifier ran with (its defaults included)."""
    plugin_version: str = ""
    distribution: str = ""
    node: dict[str, Any] | None = None
    """Where the row ran when not on this machine (an executor's node)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields of a newer writer that this version does not know, kept as read."""
    # Kept in memory for the parity columns; never saved.
    params_at_parity: dict[str, np.ndarray] | None = field(default=None, repr=False)
    params_final: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @cached_property
    def stats(self) -> StepStats | None:
        """The steady steps' statistics, from the raw times (``None`` for schema-1 rows)."""
        return StepStats.of_row(self.step_seconds or [])

    def summarise(self) -> None:
        """Fill the derived fields (steps/s, first step, total) from ``step_seconds``."""
        self.__dict__.pop("stats", None)
        times = self.step_seconds or []
        self.steps_completed = max(self.steps_completed, len(times)) if times else self.steps_completed
        if not times:
            return
        self.first_step_seconds = times[0]
        self.train_seconds = sum(times)
        stats = self.stats
        self.steps_per_second = stats.steps_per_second if stats else None

    @property
    def label(self) -> str:
        return f"{self.plugin} ({self.device})"

    @property
    def target_reached(self) -> bool | None:
        """Whether the row reached ``target_accuracy``; ``None`` when it had none."""
        return None if self.target_accuracy is None else self.steps_to_target is not None

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    def to_dict(self) -> dict[str, Any]:
        """The saved form (parameter snapshots left out; a NaN parity difference as ``"nan"``)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_SAVED}
        data["status"] = self.status.value
        for key in PARITY_FIELDS:
            value = data.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = str(value)
        data.update(data.pop("extra") or {})
        if data.get("node") is None:
            data.pop("node")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "row") -> Row:
        """Parse a saved row (schema 1 or 2); a ResultFormatError names the bad field."""
        if not isinstance(data, Mapping):
            raise ResultFormatError(f"{where} is not an object")
        for key in ("plugin", "status"):
            if not isinstance(data.get(key), str):
                raise ResultFormatError(f"{where} lacks plugin/status")
        known = {f.name for f in fields(cls)} - _NOT_SAVED
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in _SCHEMA1_SUMMARY:
                continue  # derived from step_seconds now; schema-1 rows keep their steps/s
            if key not in known:
                extra[key] = value
                continue
            values[key] = _checked(key, value, f"{where}.{key}")
        try:
            values["status"] = Status(data["status"])
        except ValueError:
            raise ResultFormatError(f"{where}.status {data['status']!r} is not a known status") from None
        values.setdefault("device", "?")
        row = cls(**values, extra=extra)
        if row.step_seconds:
            row.summarise()
        return row


PARITY_FIELDS = ("parity_max_abs_diff", "final_max_abs_diff")
_NOT_SAVED = {"params_at_parity", "params_final"}
_SCHEMA1_SUMMARY = {f"step_seconds_{s}" for s in ("median", "p10", "p90", "q1", "q3", "min", "max", "mean", "stddev")}
_NUMBERS = {
    "test_accuracy", "final_loss", "steps_per_second", "first_step_seconds", "train_seconds", "load_seconds",
    "setup_seconds", "placement_seconds", "eval_seconds", "close_seconds", "wall_seconds", "worker_start_seconds",
    "roofline_fraction", "flops_per_step", "bytes_per_step", "attainable_steps_per_second",
    "compiled_flops_per_step", "compiled_bytes_per_step", "eval_during_training_seconds", "target_accuracy",
    "time_to_target_seconds",
}
_INTEGERS = {"steps_completed", "steps_per_call", "diverged_at_step", "parity_step", "peak_host_memory_bytes",
             "peak_device_memory_bytes", "eval_every", "steps_to_target"}
_TEXTS = {"device", "error", "placement", "isolation", "plugin_version", "distribution", "plugin", "roofline_bound",
          "roofline_reason", "schedule_sha256"}
_OBJECTS = {"settings", "params", "node"}


def _checked(key: str, value: Any, where: str) -> Any:
    """``value`` if it has the type field ``key`` holds, else a ResultFormatError."""
    if value is None:
        return None
    if key in _NUMBERS:
        if not is_number(value):
            raise ResultFormatError(f"{where} is not a finite number")
        return float(value)
    if key in PARITY_FIELDS:
        if value in ("nan", "inf"):
            return float(value)
        if not is_number(value):
            raise ResultFormatError(f"{where} is not a number")
        return float(value)
    if key in _INTEGERS:
        if not is_number(value) or float(value) != int(value):
            raise ResultFormatError(f"{where} is not an integer")
        return int(value)
    if key in _TEXTS:
        if not isinstance(value, str):
            raise ResultFormatError(f"{where} is not a string")
        return value
    if key in _OBJECTS:
        if not isinstance(value, dict):
            raise ResultFormatError(f"{where} is not an object")
        return value
    if key == "step_seconds":
        if not isinstance(value, list) or not all(is_number(v) and v >= 0 for v in value):
            raise ResultFormatError(f"{where} is not a list of step times")
        return [float(v) for v in value]
    if key == "loss_curve":
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(is_number(x) for x in p) for p in value
        ):
            raise ResultFormatError(f"{where} is not a list of [step, loss] pairs")
        return value
    if key == "accuracy_curve":
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 3 and all(is_number(x) for x in p) for p in value
        ):
            raise ResultFormatError(f"{where} is not a list of [step, accuracy, seconds] triples")
        return value
    return value


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool) that fits a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


@dataclass
class RunDocument:
    """One run: its identity, machine, settings, data, schedule and rows."""

    run_id: str
    created: str
    command: list[str] | None
    machine: dict[str, Any]
    config: dict[str, Any]
    dataset: dict[str, Any] | None = None
    batch_schedule_sha256: str | None = None
    roofline: dict[str, Any] | None = None
    timeline: list[tuple[str, float]] = field(default_factory=list)
    """Run-level phases ``(label, seconds)``; each row's phases are derived from the row."""
    results: list[Row] = field(default_factory=list)
    interrupted: str | None = None
    """``"SIGINT"`` or ``"SIGTERM"`` when the run was cut short."""
    schema_version: int = SCHEMA_VERSION

    @property
    def parity_step(self) -> int:
        value = self.config.get("parity_step")
        return value if isinstance(value, int) and not isinstance(value, bool) else 10

    RUN_THREADS: ClassVar[Any] = object()
    """``ceilings(threads=RUN_THREADS)``: the threads the run's ceilings were measured with."""

    def ceilings(self, threads: Any = RUN_THREADS) -> dict[str, dict[str, Any]]:
        """``device -> ceilings entry`` of the roofline section for ``threads`` (default:
        the threads the run's first ceilings were measured with, ``roofline.threads``).

        The one reader of the section's layout: ``ceilings`` by device for the run's
        threads, and ``by_threads[str(threads)]`` by device for the other thread counts of a
        sweep. Entries that are not objects are left out; no section, no entries.
        """
        section = self.roofline
        if not isinstance(section, dict):
            return {}
        devices = section.get("ceilings")
        if threads is not self.RUN_THREADS and "threads" in section and threads != section.get("threads"):
            by_threads = section.get("by_threads")
            devices = by_threads.get(str(threads)) if isinstance(by_threads, dict) else None
        if not isinstance(devices, dict):
            return {}
        return {str(device): entry for device, entry in devices.items() if isinstance(entry, dict)}

    def ceilings_for(self, device: str, threads: Any = RUN_THREADS) -> dict[str, Any] | None:
        """The ceilings entry of ``device`` for ``threads`` (see :meth:`ceilings`), or ``None``."""
        return self.ceilings(threads).get(device)

    def header(self) -> dict[str, Any]:
        """Everything but the rows, in the saved key order."""
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "created": self.created,
            "command": self.command,
            "interrupted": self.interrupted,
            "machine": self.machine,
            "config": self.config,
            "dataset": self.dataset,
            "batch_schedule_sha256": self.batch_schedule_sha256,
            "roofline": self.roofline,
            "timeline": [[label, seconds] for label, seconds in self.timeline],
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.header(), "results": [row.to_dict() for row in self.results]}

    @classmethod
    def from_dict(cls, data: Any) -> RunDocument:
        """Parse and check a saved run once; a ResultFormatError says what is wrong."""
        if not isinstance(data, dict):
            raise ResultFormatError("top level is not an object")
        missing = [key for key in ("schema_version", "machine", "config", "batch_schedule_sha256", "results")
                   if key not in data]
        if missing:
            raise ResultFormatError(f"missing {', '.join(missing)}")
        version = data["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int) or version not in READABLE_VERSIONS:
            raise ResultFormatError(
                f"schema_version {str(version)[:40]}, this bench reads {', '.join(map(str, READABLE_VERSIONS))}"
            )
        if not isinstance(data["config"], dict) or not isinstance(data["machine"], dict):
            raise ResultFormatError("config or machine is not an object")
        parity_step = data["config"].get("parity_step")
        if parity_step is not None and (isinstance(parity_step, bool) or not isinstance(parity_step, int)):
            raise ResultFormatError("config.parity_step is not an integer")
        for key in ("dataset", "roofline"):
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise ResultFormatError(f"{key} is not an object")
        if not isinstance(data["results"], list):
            raise ResultFormatError("results is not a list")
        rows = [Row.from_dict(row, f"results[{i}]") for i, row in enumerate(data["results"])]
        timeline = data.get("timeline") or []
        if not isinstance(timeline, list):
            raise ResultFormatError("timeline is not a list")
        phases = []
        for i, entry in enumerate(timeline):
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and is_number(entry[1])):
                raise ResultFormatError(f"timeline[{i}] is not a [label, seconds] pair")
            phases.append((entry[0], float(entry[1])))
        interrupted = data.get("interrupted")
        command = data.get("command")
        return cls(
            run_id=str(data.get("run_id") or "run"),
            created=str(data.get("created") or ""),
            command=[str(part) for part in command] if isinstance(command, list) else None,
            machine=data["machine"],
            config=data["config"],
            dataset=data.get("dataset"),
            batch_schedule_sha256=data["batch_schedule_sha256"] if isinstance(data["batch_schedule_sha256"], str)
            else None,
            roofline=data.get("roofline"),
            timeline=phases,
            results=rows,
            interrupted=interrupted if isinstance(interrupted, str) else None,
            schema_version=version,
        )
