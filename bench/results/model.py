"""The measured result, typed: a run document and its rows, each row in three parts.

As torch.utils.benchmark keeps a frozen ``TaskSpec`` apart from its raw ``Measurement``, a
:class:`Row` is made of

- :class:`RowIdentity`: what the plan fixed before the row ran (plugin, device, settings,
  params, batch schedule, the work a step states);
- :class:`Measurement`: what :func:`bench.measure.measure` returned, raw (phases, every
  step's time, losses, accuracy, memory), and nobody edits afterwards; statistics are
  derived from it (:class:`~bench.results.stats.StepStats`);
- :class:`Analysis`: what the run derives once the row is in its document (parity with
  its reference row, the roofline rating).

All three are frozen. Reading ``row.test_accuracy`` finds the field in the part that holds
it. A row is saved flat, as schemas 2 and 3 save it, and every field's type is
declared once, in these classes' annotations: :meth:`Row.from_dict` checks each saved
field against its declaration (and its range, in the field's metadata), naming the field
when it is wrong. Files of schema 1 (nine ``step_seconds_*`` summaries instead of the raw
times) still load: their rows carry the stored steps/s and no raw data.
"""

from __future__ import annotations

import math
import statistics
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

import numpy as np

from bench.results.statistics import Interval, rate_interval
from bench.results.stats import StepStats

SCHEMA_VERSION = 3
"""3: rows gained fields (repeats, per-row environment, noise, own memory, ...) and the
``suspect`` status; a row is still saved flat, as in 2."""
READABLE_VERSIONS = (1, 2, 3)


class Status(str, Enum):
    """How a row ended."""

    OK = "ok"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    """The device or an ability (resident placement, many steps per call) is not there."""
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"
    TIMEOUT = "timeout"
    SUSPECT = "suspect"
    """The harness cannot vouch for the row's figures: its own clock, or the machine's
    measured ceilings, contradict what the row reports (the error says how); see docs/trust.md."""

    def __str__(self) -> str:
        return self.value


class ResultFormatError(ValueError):
    """A document that is not a bench result (the message says where)."""


def _range(low: float | None = None, high: float | None = None, *, open_low: bool = False) -> dict[str, Any]:
    """Field metadata: the values a saved field may take."""
    return {"low": low, "high": high, "open_low": open_low}


OUTPUT_TAIL_CHARS = 4000
"""How much of a worker's own output a row keeps (the end of it)."""
SECONDS = _range(0)
COUNT = _range(0)
FRACTION = _range(0, 1)
NAN_AS_TEXT = {"nan_as_text": True}
"""A parity difference: NaN is a finding (a NaN parameter), saved as the text ``"nan"``."""


@dataclass(frozen=True)
class RowIdentity:
    """What the plan fixed before the row ran: which classifier, where, with what settings."""

    plugin: str
    device: str
    placement: str = "feed"
    steps_per_call: int = field(default=1, metadata=_range(1))
    isolation: str = "process"
    """How the row was isolated: ``process`` (a fresh worker process) or ``none``."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The run settings this row used (batch size, seed, threads, ...)."""
    params: dict[str, str] = field(default_factory=dict)
    """The ``--param`` settings this classifier ran with (its defaults included)."""
    schedule_sha256: str | None = None
    """The digest of the batch schedule this row trained on (rows of a sweep differ)."""
    parity_step: int | None = field(default=None, metadata=COUNT)
    """The step after which parameters are compared (``--parity-step``, at most the steps)."""
    eval_every: int | None = field(default=None, metadata=_range(1))
    """``--eval-every N``: the test set was also evaluated after every N-th step."""
    target_accuracy: float | None = field(default=None, metadata=_range(0, 1, open_low=True))
    """``--target-accuracy``: the test accuracy (a fraction) whose time-to-reach was measured."""
    flops_per_step: float | None = field(default=None, metadata=COUNT)
    """The FLOPs of one step, as the classifier states them for these settings."""
    bytes_per_step: float | None = field(default=None, metadata=COUNT)
    plugin_version: str = ""
    distribution: str = ""

    @property
    def label(self) -> str:
        return f"{self.plugin} ({self.device})"


@dataclass(frozen=True)
class Measurement:
    """What measuring one row gave, raw. Times in seconds."""

    status: Status = Status.OK
    error: str | None = None
    steps_completed: int = field(default=0, metadata=COUNT)
    step_seconds: list[float] | None = field(default=None, metadata={**SECONDS, "what": "step times"})
    """Every step's time, the first included (with ``--steps-per-call``, each call's time
    shared equally by its steps)."""
    final_loss: float | None = None
    loss_curve: list[list[float]] = field(default_factory=list, metadata={"width": 2, "what": "[step, loss] pairs"})
    """``[step, loss]`` every ``loss_every`` steps (steps counted from 1), and the last."""
    diverged_at_step: int | None = field(default=None, metadata=COUNT)
    test_accuracy: float | None = field(default=None, metadata=FRACTION)
    load_seconds: float | None = field(default=None, metadata=SECONDS)
    """Creating the classifier object (imports its framework)."""
    setup_seconds: float | None = field(default=None, metadata=SECONDS)
    placement_seconds: float | None = field(default=None, metadata=SECONDS)
    """``resident`` only: copying the training set to the device once."""
    eval_seconds: float | None = field(default=None, metadata=SECONDS)
    """The final evaluation: the classifier's ``predict`` on the test images."""
    parameters_seconds: float | None = field(default=None, metadata=SECONDS)
    """The classifier's ``parameters()``, every call together (the parity and final
    snapshots): work a classifier does there is outside every step's timing."""
    observed_training_seconds: float | None = field(default=None, metadata=SECONDS)
    """``process`` isolation: the training phase as the parent's own clock saw it (from the
    worker's report that training began to its report that it ended)."""
    close_seconds: float | None = field(default=None, metadata=SECONDS)
    wall_seconds: float | None = field(default=None, metadata=SECONDS)
    worker_start_seconds: float | None = field(default=None, metadata=SECONDS)
    """``process`` isolation: starting the worker, importing bench, mapping the data."""
    eval_during_training_seconds: float | None = field(default=None, metadata=SECONDS)
    """The evaluations of ``--eval-every``, all together (outside every step's timing,
    inside the wall clock)."""
    accuracy_curve: list[list[float]] = field(default_factory=list,
                                              metadata={"width": 3, "what": "[step, accuracy, seconds] triples"})
    """``[step, test accuracy, seconds since training began]`` at every evaluation, the
    final one included (``--eval-every``)."""
    steps_to_target: int | None = field(default=None, metadata=COUNT)
    """Steps trained when an evaluation first reached the target accuracy; ``None``: not reached."""
    time_to_target_seconds: float | None = field(default=None, metadata=SECONDS)
    """Wall-clock seconds from the start of training to the end of that evaluation: every
    step, the harness's bookkeeping between steps and the evaluations before it included;
    load, setup and placement not. ``None``: not reached."""
    peak_host_memory_bytes: int | None = field(default=None, metadata=COUNT)
    """Peak resident set of the row's process (with ``--isolation none``, bench's own so far)."""
    peak_own_memory_bytes: int | None = field(default=None, metadata=COUNT)
    """``process`` isolation: the row's own memory, apart from files it maps (the prepared
    dataset, which every row shares, and libraries): the largest ``RssAnon + RssShmem`` of
    the worker (``/proc/self/status``), sampled as each phase begins and once training
    and evaluation are done; Linux only."""
    load_overlapped_seconds: float | None = field(default=None, metadata=SECONDS)
    """``process`` isolation: seconds of this row's worker start and load during which the
    next row's worker, started ahead of its row, was starting too (at most: it may have
    finished its own load sooner), so that its load figure may be the slower for it;
    never during setup, steps or evaluation. ``None``: nothing ran alongside."""
    peak_device_memory_bytes: int | None = field(default=None, metadata=COUNT)
    """Peak memory the framework allocated on the row's device, where it can tell."""
    compiled_flops_per_step: float | None = field(default=None, metadata=COUNT)
    """The compiler's own count of a step's FLOPs (XLA's cost analysis), where offered."""
    compiled_bytes_per_step: float | None = field(default=None, metadata=COUNT)
    environment: dict[str, str] = field(default_factory=dict)
    """Facts of the row's own process: its framework's versions, the precision it uses
    for float32 matrix products, its thread settings (the classifier's spec reports them)."""
    load_average: float | None = field(default=None, metadata=COUNT)
    """How busy the machine was while the row trained (:class:`bench.measure.NoiseProbe`):
    the 1-minute load average, the higher of its readings before and after training."""
    others_cpu_seconds: float | None = field(default=None, metadata=SECONDS)
    """CPU seconds the machine was busy during training besides the row's own process."""
    own_cpu_seconds: float | None = field(default=None, metadata=SECONDS)
    """CPU seconds the row's process (all its threads) took during training."""
    active_threads: int | None = field(default=None, metadata=COUNT)
    """The row's process's threads that ran at least 5 % of the training's wall clock."""
    involuntary_switches: int | None = field(default=None, metadata=COUNT)
    """Times the row's process was switched out against its will during training."""
    noise_window_seconds: float | None = field(default=None, metadata=SECONDS)
    """The wall-clock seconds of training over which the noise figures were taken."""
    cpu_count: int | None = field(default=None, metadata=_range(1))
    """The logical CPUs of the machine the row ran on."""
    node: dict[str, Any] | None = None
    """Where the row ran when not on this machine (an executor's node)."""
    killed_after_row: list[str] = field(default_factory=list, metadata={"what": "process descriptions"})
    """Processes the row left running that bench had to kill after it (``pid 123 (sleep)``,
    or the worker itself when it did not exit after its report)."""
    output_tail: str | None = None
    """The end of what the row's worker wrote to its standard output and error (at most
    :data:`OUTPUT_TAIL_CHARS` characters), shown on failure and with ``--debug``."""
    repeats: int = field(default=1, metadata=_range(1))
    """``--repeat``: the worker processes this row was measured in (rounds interleaved
    across the rows). The other fields are the first process's."""
    process_steps_per_second: list[float] = field(default_factory=list, metadata={**COUNT, "what": "steps/s"})
    """Each process's steady steps/s, in the order they ran (one entry a process)."""
    summary: dict[str, float] = field(default_factory=dict, compare=False, metadata={"derived": True})
    """A schema-1 row's stored figures (it has no raw times); empty otherwise."""

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            object.__setattr__(self, "status", Status(self.status))
        if self.step_seconds and self.steps_completed < len(self.step_seconds):
            object.__setattr__(self, "steps_completed", len(self.step_seconds))

    @cached_property
    def stats(self) -> StepStats | None:
        """The steady steps' statistics, from the raw times (``None`` for schema-1 rows)."""
        return StepStats.of_row(self.step_seconds or [])

    @property
    def steps_per_second(self) -> float | None:
        """Steady state: 1 / median time of the steps after the first (from :attr:`stats`);
        measured in several processes, the median of their steps/s."""
        if len(self.process_steps_per_second) > 1:
            return statistics.median(self.process_steps_per_second)
        if self.stats is not None:
            return self.stats.steps_per_second
        return self.summary.get("steps_per_second")

    @cached_property
    def rate_interval(self) -> Interval | None:
        """The 95 % confidence interval of :attr:`steps_per_second`
        (:func:`~bench.results.statistics.rate_interval`: from the processes' steps/s, or
        from one process's steps), ``None`` for a row without either."""
        if not self.ok:
            return None
        return rate_interval(self.process_steps_per_second, self.step_seconds)

    @property
    def steps_per_second_ci95(self) -> list[float] | None:
        """``[low, high]`` of :attr:`rate_interval`."""
        interval = self.rate_interval
        return None if interval is None else [interval.low, interval.high]

    @property
    def steps_per_second_ci95_basis(self) -> str | None:
        """What :attr:`steps_per_second_ci95` was computed from: ``processes`` or ``steps``."""
        return None if self.rate_interval is None else self.rate_interval.basis

    @property
    def first_step_seconds(self) -> float | None:
        """Tracing, compilation, lazy allocation: the first step alone."""
        return self.step_seconds[0] if self.step_seconds else self.summary.get("first_step_seconds")

    @property
    def train_seconds(self) -> float | None:
        """All training steps, the first included."""
        if not self.step_seconds:
            return self.summary.get("train_seconds")
        try:
            return math.fsum(self.step_seconds)
        except OverflowError:  # times no clock gives, from a hand-made file
            return math.inf

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    def to_dict(self) -> dict[str, Any]:
        """The wire and saved form of the measured fields (derived figures left out)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("derived")}
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "measurement") -> Measurement:
        """A measurement from its wire form, every field checked against its declaration."""
        if not isinstance(data, Mapping):
            raise ResultFormatError(f"{where} is not an object")
        unknown = sorted(set(data) - set(_declared(cls)))
        if unknown:
            raise ResultFormatError(f"{where} has unknown fields: {', '.join(map(str, unknown[:5]))}")
        return cls(**_checked_fields(cls, data, where))


@dataclass(frozen=True)
class ParameterSnapshots:
    """The harness's copies of a row's parameters, for the parity columns (never saved)."""

    at_parity: dict[str, np.ndarray] | None = None
    """After the job's ``parity_step``."""
    final: dict[str, np.ndarray] | None = None
    """After the last step."""


DERIVED = ("steps_per_second", "first_step_seconds", "train_seconds")
"""Figures a row saves for readers, derived from ``step_seconds``."""
DERIVED_INTERVAL = ("steps_per_second_ci95", "steps_per_second_ci95_basis")
"""The interval a row saves for readers; derived again when read (its inputs are saved)."""


@dataclass(frozen=True)
class Analysis:
    """What the run derives once a row is in its document."""

    parity_max_abs_diff: float | None = field(default=None, metadata=NAN_AS_TEXT)
    """Largest absolute parameter difference from the row's parity reference after
    ``parity_step`` (NaN when a parameter is NaN)."""
    final_max_abs_diff: float | None = field(default=None, metadata=NAN_AS_TEXT)
    roofline_fraction: float | None = field(default=None, metadata=COUNT)
    """Steps/s over the attainable steps/s of this row's work on its device's ceilings."""
    attainable_steps_per_second: float | None = field(default=None, metadata=COUNT)
    """1 / max(FLOPs / peak FLOP/s, bytes / bandwidth) for a step of this row."""
    roofline_bound: str | None = None
    """``compute`` or ``memory``: the ceiling that limits a step of this work."""
    roofline_reason: str | None = None
    """Why the row has no fraction, when it has none."""
    parity_reference: int | None = field(default=None, metadata=COUNT)
    """The position in the document of the row the parity columns compare this row with
    (its own when it is the reference); ``None``: not compared (older files lack it)."""


PARTS: tuple[tuple[str, type], ...] = (("identity", RowIdentity), ("measurement", Measurement), ("analysis", Analysis))

SAVED_ORDER = (
    "plugin", "device", "status", "error", "test_accuracy", "final_loss", "steps_completed", "step_seconds",
    "steps_per_second", "steps_per_second_ci95", "steps_per_second_ci95_basis", "repeats", "process_steps_per_second",
    "first_step_seconds", "train_seconds", "load_seconds", "setup_seconds", "placement",
    "steps_per_call", "placement_seconds", "eval_seconds", "parameters_seconds", "close_seconds", "wall_seconds",
    "worker_start_seconds", "observed_training_seconds", "isolation", "diverged_at_step", "loss_curve",
    "parity_step", "parity_max_abs_diff", "final_max_abs_diff",
    "parity_reference",
    "roofline_fraction", "attainable_steps_per_second", "roofline_bound", "roofline_reason",
    "compiled_flops_per_step", "compiled_bytes_per_step", "peak_host_memory_bytes", "peak_device_memory_bytes",
    "peak_own_memory_bytes", "load_overlapped_seconds", "flops_per_step", "bytes_per_step", "eval_every",
    "eval_during_training_seconds", "accuracy_curve",
    "target_accuracy", "steps_to_target", "time_to_target_seconds", "schedule_sha256", "settings", "params",
    "plugin_version", "distribution", "environment", "load_average", "others_cpu_seconds", "own_cpu_seconds",
    "active_threads", "involuntary_switches", "noise_window_seconds", "cpu_count", "node", "killed_after_row",
    "output_tail",
)
"""A saved row's keys, in the order they are written (schema 2's, then the fields added in 3)."""
_SCHEMA1_SUMMARY = {f"step_seconds_{s}" for s in ("median", "p10", "p90", "q1", "q3", "min", "max", "mean", "stddev")}


@dataclass(frozen=True)
class Row:
    """One classifier on one device: its identity, its measurement, the run's analysis of it."""

    identity: RowIdentity
    measurement: Measurement = field(default_factory=Measurement)
    analysis: Analysis = field(default_factory=Analysis)
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields of a newer writer that this version does not know, kept as read."""

    def __getattr__(self, name: str) -> Any:
        """``row.x``: the field or figure ``x`` of whichever part holds it."""
        part = _PART_OF.get(name)
        if part is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(object.__getattribute__(self, part), name)

    @classmethod
    def of(cls, **values: Any) -> Row:
        """A row from flat fields (``Row.of(plugin="numpy", device="cpu", test_accuracy=0.3)``);
        derived figures (``steps_per_second``, ...) given without step times are kept as stored."""
        parts: dict[str, dict[str, Any]] = {name: {} for name, _ in PARTS}
        extra = values.pop("extra", None) or {}
        summary = {key: values.pop(key) for key in DERIVED if values.get(key) is not None}
        if summary and not values.get("step_seconds"):
            parts["measurement"]["summary"] = summary  # stored figures, as a schema-1 row has
        for key, value in values.items():
            part = _FIELD_PART.get(key)
            if part is None:
                raise TypeError(f"a row has no field {key!r}")
            parts[part][key] = value
        return cls(RowIdentity(**parts["identity"]), Measurement(**parts["measurement"]),
                   Analysis(**parts["analysis"]), dict(extra))

    @classmethod
    def failed(cls, identity: RowIdentity, status: Status, error: str, **measured: Any) -> Row:
        """A row that was not (fully) measured: failed, unavailable, timed out, interrupted."""
        return cls(identity, Measurement(status=status, error=error, **measured))

    def with_analysis(self, analysis: Analysis) -> Row:
        return replace(self, analysis=analysis)

    @property
    def target_reached(self) -> bool | None:
        """Whether the row reached ``target_accuracy``; ``None`` when it had none."""
        return None if self.identity.target_accuracy is None else self.measurement.steps_to_target is not None

    def to_dict(self) -> dict[str, Any]:
        """The saved form: flat, in :data:`SAVED_ORDER` (a NaN parity difference as ``"nan"``)."""
        flat: dict[str, Any] = {}
        for name, _ in PARTS:
            part = object.__getattribute__(self, name)
            for f in fields(part):
                if not f.metadata.get("derived"):
                    flat[f.name] = getattr(part, f.name)
        for name in (*DERIVED, *DERIVED_INTERVAL):
            flat[name] = getattr(self.measurement, name)
        flat["status"] = self.measurement.status.value
        for f in fields(Analysis):
            value = flat[f.name]
            if f.metadata.get("nan_as_text") and isinstance(value, float) and not math.isfinite(value):
                flat[f.name] = str(value)
        data = {key: flat[key] for key in SAVED_ORDER if key in flat}
        for key in ("node", "killed_after_row", "output_tail"):  # saved only when there is something
            if not data.get(key):
                data.pop(key, None)
        data.update(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "row") -> Row:
        """Parse a saved row (schema 1 or 2); a ResultFormatError names the bad field."""
        if not isinstance(data, Mapping):
            raise ResultFormatError(f"{where} is not an object")
        for key in ("plugin", "status"):
            if not isinstance(data.get(key), str):
                raise ResultFormatError(f"{where} lacks plugin/status")
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        summary: dict[str, float] = {}
        for key, value in data.items():
            if key in _SCHEMA1_SUMMARY or key in DERIVED_INTERVAL:
                continue  # derived from step_seconds now; schema-1 rows keep their steps/s
            if key in DERIVED:
                checked = _check_value(float | None, value, f"{where}.{key}", SECONDS)
                if checked is not None:
                    summary[key] = checked
            elif key in _FIELD_PART:
                values[key] = value
            else:
                extra[key] = value
        values.setdefault("device", "?")
        parts: dict[str, Any] = {}
        for name, kind in PARTS:
            own = {k: v for k, v in values.items() if _FIELD_PART[k] == name}
            parts[name] = kind(**_checked_fields(kind, own, where))
        measurement = parts["measurement"]
        if not measurement.step_seconds and summary:
            measurement = replace(measurement, summary=summary)
        return cls(parts["identity"], measurement, parts["analysis"], extra)


PARITY_FIELDS = ("parity_max_abs_diff", "final_max_abs_diff")


_DECLARED: dict[type, dict[str, tuple[Any, Mapping[str, Any]]]] = {}


def _declared(kind: type) -> dict[str, tuple[Any, Mapping[str, Any]]]:
    """A dataclass's saved fields: name -> (type, metadata), read from its annotations."""
    if kind not in _DECLARED:
        hints = get_type_hints(kind)
        _DECLARED[kind] = {f.name: (hints[f.name], f.metadata) for f in fields(kind) if not f.metadata.get("derived")}
    return _DECLARED[kind]


def _checked_fields(kind: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    declared = _declared(kind)
    return {key: _check_value(declared[key][0], value, f"{where}.{key}", declared[key][1])
            for key, value in data.items() if key in declared}


def _check_value(hint: Any, value: Any, where: str, meta: Mapping[str, Any]) -> Any:
    """``value`` as the declared type ``hint`` holds it, else a ResultFormatError naming ``where``."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _check_value(inner, value, where, meta)
    if hint is Status:
        try:
            return Status(value)
        except ValueError:
            raise ResultFormatError(f"{where} {str(value)[:40]!r} is not a known status") from None
    if hint is str:
        if not isinstance(value, str):
            raise ResultFormatError(f"{where} is not a string")
        return value
    if hint is float:
        if meta.get("nan_as_text") and value in ("nan", "inf"):
            return float(value)
        if not is_number(value):
            raise ResultFormatError(f"{where} is not a finite number")
        return _in_range(float(value), where, meta)
    if hint is int:
        if not is_number(value) or float(value) != int(value):
            raise ResultFormatError(f"{where} is not an integer")
        return _in_range(int(value), where, meta)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ResultFormatError(f"{where} is not an object")
        if args == (str, str) and not all(isinstance(v, str) for v in value.values()):
            raise ResultFormatError(f"{where} is not an object of strings")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ResultFormatError(f"{where} is not a list")
        width, what = meta.get("width"), meta.get("what", "values")
        if width is not None:
            if not all(isinstance(p, list) and len(p) == width and all(is_number(x) for x in p) for p in value):
                raise ResultFormatError(f"{where} is not a list of {what}")
            return value
        try:
            return [_check_value(args[0], item, f"{where}[{i}]", meta) for i, item in enumerate(value)]
        except ResultFormatError:
            raise ResultFormatError(f"{where} is not a list of {what}") from None
    return value


def _in_range(value: float, where: str, meta: Mapping[str, Any]) -> Any:
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value < low or (meta.get("open_low") and value == low)):
        raise ResultFormatError(f"{where} {value:g} is out of range")
    if high is not None and value > high:
        raise ResultFormatError(f"{where} {value:g} is out of range")
    return value


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool) that fits a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


_FIELD_PART = {f.name: name for name, kind in PARTS for f in fields(kind) if not f.metadata.get("derived")}
"""Which part of a row holds each saved field."""
_PART_OF = {
    **_FIELD_PART,
    **{name: "measurement" for name in ("stats", "ok", "rate_interval", *DERIVED, *DERIVED_INTERVAL)},
    "label": "identity",
}
"""Which part answers ``row.x`` for each field and figure."""


MAX_COUNT = 2**53
"""Counts beyond this are no longer exact in a file's numbers."""
_COUNT_OF = _range(0, MAX_COUNT)
_POSITIVE = _range(1, MAX_COUNT)
_TEXT: tuple[Any, Mapping[str, Any]] = (str | None, {})
_TEXTS = (list[str] | None, {"what": "strings"})
_OBJECT: tuple[Any, Mapping[str, Any]] = (dict[str, Any] | None, {})
_INT = (int | None, _COUNT_OF)
HEADER_FIELDS: dict[str, dict[str, tuple[Any, Mapping[str, Any]]]] = {
    "machine": {
        "hostname": _TEXT, "cpu": _TEXT, "cpu_flags": _TEXTS, "cpu_count_logical": _INT, "cpu_count_physical": _INT,
        "cpu_affinity": _INT, "memory_gb": (float | None, _range(0)), "os": _TEXT, "python": _TEXT,
        "python_implementation": _TEXT, "numpy": _TEXT, "blas": (list[dict[str, Any]] | None, {"what": "objects"}),
        "environment": _OBJECT, "bench": _TEXT, "git_commit": _TEXT, "git_branch": _TEXT,
        "gpus": (list[dict[str, Any]] | None, {"what": "objects"}), "frameworks": _OBJECT,
    },
    "config": {
        "plugins": _TEXTS, "devices": _TEXTS, "steps": (int | None, _POSITIVE),
        "batch_size": (int | None, _POSITIVE), "learning_rate": (float | None, _range(0)),
        "seed": _INT, "sampling": _TEXT, "dataset": _TEXT, "preprocessing": _TEXT, "data_dir": _TEXT,
        "threads": (int | None, _POSITIVE), "placement": _TEXT, "steps_per_call": (int | None, _POSITIVE),
        "executor": _TEXT, "timeout": (float | None, _range(0)), "params": _OBJECT,
        "loss_every": (int | None, _POSITIVE), "parity_step": _INT, "eval_every": (int | None, _POSITIVE),
        "target_accuracy": (float | None, _range(0, 1)), "isolation": _TEXT, "sweep": _OBJECT,
    },
    "dataset": {
        "name": _TEXT, "source": _TEXT, "preprocessing": _TEXT, "train_images": _INT, "test_images": _INT,
        "input_dim": _INT, "num_classes": _INT, "details": _OBJECT,
    },
    "roofline": {"ceilings": _OBJECT, "threads": (int | None, _POSITIVE), "by_threads": _OBJECT},
}
"""The document's sections and the type (and range) of each field a reader uses; other
fields are kept as they are."""


def _check_section(name: str, value: Any) -> dict[str, Any]:
    """A header section checked against :data:`HEADER_FIELDS`; a ResultFormatError names the field."""
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise ResultFormatError(f"{name} is not an object")
    for key, (hint, meta) in HEADER_FIELDS[name].items():
        if key in value:
            _check_value(hint, value[key], f"{name}.{key}", meta)
    return value


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
    """``"SIGINT"``, ``"SIGTERM"`` or ``"SIGHUP"`` when the run was cut short."""
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
        for key in ("machine", "config"):
            _check_section(key, data[key])
        for key in ("dataset", "roofline"):
            if data.get(key) is not None:
                _check_section(key, data[key])
        for key in ("run_id", "created", "interrupted"):
            _check_value(str | None, data.get(key), key, {})
        _check_value(list[str] | None, data.get("command"), "command", {"what": "strings"})
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
