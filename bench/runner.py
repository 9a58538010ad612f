"""A whole run: data, one schedule, every selected plugin on every device, one document.

dataset -> batch schedule -> plugin (measure) -> rows -> result document.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from bench import result, roofline
from bench.classifier import ClassifierSpec, SetupConfig
from bench.dataset import PREPROCESSINGS, Dataset, load_dataset
from bench.errors import Terminated, UsageError
from bench.execute import ISOLATIONS, Executor, RowJob
from bench.machine import machine_info
from bench.measure import OK, Progress, RowResult, max_abs_diff
from bench.plugins import Registry
from bench.schedule import SAMPLINGS, BatchSchedule, build_schedule

PLACEMENTS = ("feed", "resident")


@dataclass
class RunConfig:
    """What a run does. The defaults are the reference recipe."""

    plugins: list[str]
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    steps: int = 1000
    batch_size: int = 100
    learning_rate: float = 0.005
    seed: int = 0
    sampling: str = "replacement"
    dataset: str = "cifar10"
    preprocessing: str = "reference"
    data_dir: str | None = None
    offline: bool = False
    threads: int | None = None
    loss_every: int = 10
    parity_step: int = 10
    params: dict[str, str] = field(default_factory=dict)
    placement: str = "feed"
    """``feed``: each batch is gathered on the host and handed over (the reference's way);
    ``resident``: the training set is placed on the device once, steps pass indices."""
    steps_per_call: int = 1
    """``resident`` only: steps a classifier may run in one call (a compiled loop)."""
    roofline: bool = True
    """Probe this CPU's limit for a step (bench.roofline) and rate CPU rows against it."""
    isolation: str = "process"
    """``process``: every row in a fresh worker process; ``none``: all in this process."""
    timeout: float | None = None
    """Seconds a row may take (``process`` isolation); past it the row is killed."""

    def check(self) -> None:
        """Raise UsageError for values no run can use."""
        if not self.plugins:
            raise UsageError("no plugins selected; pass --plugins NAME[,NAME...]")
        if self.steps < 1:
            raise UsageError(f"--steps must be at least 1, not {self.steps}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {self.batch_size}")
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise UsageError(f"--learning-rate must be a positive number, not {self.learning_rate}")
        if self.threads is not None and not 1 <= self.threads <= max_threads():
            raise UsageError(f"--threads must be between 1 and {max_threads()} (4 x this machine's cores), "
                             f"not {self.threads}")
        if self.isolation not in ISOLATIONS:
            raise UsageError(f"unknown --isolation {self.isolation!r}; choose one of: {', '.join(ISOLATIONS)}")
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise UsageError(f"--timeout must be a positive number of seconds, not {self.timeout}")
        if self.timeout is not None and self.isolation != "process":
            raise UsageError("--timeout needs --isolation process (a row in bench's own process cannot be stopped)")
        if self.loss_every < 1:
            raise UsageError(f"--loss-every must be at least 1, not {self.loss_every}")
        if self.sampling not in SAMPLINGS:
            raise UsageError(f"unknown --sampling {self.sampling!r}; choose one of: {', '.join(SAMPLINGS)}")
        if self.preprocessing not in PREPROCESSINGS:
            raise UsageError(
                f"unknown --preprocessing {self.preprocessing!r}; choose one of: {', '.join(PREPROCESSINGS)}"
            )
        if self.steps_per_call < 1:
            raise UsageError(f"--steps-per-call must be at least 1, not {self.steps_per_call}")
        if self.steps_per_call > 1 and self.placement != "resident":
            raise UsageError("--steps-per-call needs --placement resident (a call gets indices, not batches)")
        if self.placement not in PLACEMENTS:
            raise UsageError(f"unknown --placement {self.placement!r}; choose one of: {', '.join(PLACEMENTS)}")
        for device in self.devices:
            if device.strip().lower() != "all":
                parse_device(device)


def max_threads() -> int:
    """The most threads a row may ask for: 4 x the logical CPUs."""
    import os

    return 4 * (os.cpu_count() or 1)


RECIPE_KEYS = ("steps", "batch_size", "learning_rate")


def with_plugin_defaults(config: RunConfig, spec: ClassifierSpec, given: set[str]) -> RunConfig:
    """Fill the settings the user did not give (``given``) from ``spec.defaults``.

    A model may be meant for another recipe than the reference (a larger batch, more
    steps): its defaults apply unless the flag was given. ``--param`` values given by the
    user win over the model's default params (see :func:`row_params`).
    """
    updates = {key: spec.defaults[key] for key in RECIPE_KEYS if key in spec.defaults and key not in given}
    return replace(config, **updates) if updates else config


def row_params(spec: ClassifierSpec, config: RunConfig) -> dict[str, str]:
    """The ``--param`` settings one classifier gets: its own defaults, then the user's."""
    defaults = dict(spec.defaults.get("params") or {})  # type: ignore[call-overload]
    return {**{str(k): str(v) for k, v in defaults.items()}, **config.params}


def devices_for(spec: ClassifierSpec, requested: list[str], executor: Executor | None = None) -> list[str]:
    """The devices to run ``spec`` on: ``all`` expands to every device it reports (asked
    through ``executor``, so that with isolation no framework is imported here)."""
    devices: list[str] = []
    for text in requested:
        if text.strip().lower() == "all":
            if executor is not None:
                found = executor.list_devices(spec)
            else:
                found = spec.devices() if spec.devices is not None else ["cpu"]
        else:
            found = [parse_device(text)]
        devices += [d for d in found if d not in devices]
    return devices


def parse_device(text: str) -> str:
    """Normalise ``cpu``, ``gpu`` and ``gpu:N``; anything else is a UsageError."""
    name = text.strip().lower()
    if name in ("cpu", "cpu:0"):
        return "cpu"
    if name == "gpu":
        return "gpu:0"
    if name.startswith("gpu:") and name[4:].isdigit():
        return f"gpu:{int(name[4:])}"
    raise UsageError(f"unknown device {text!r}; use cpu, gpu, gpu:N or all")


@dataclass
class RunOutcome:
    """The saved document and the live rows of a run."""

    document: dict[str, Any]
    rows: list[RowResult]
    interrupted: str | None = None
    """``"SIGINT"`` or ``"SIGTERM"`` when the run was cut short."""


ProgressFactory = Callable[[str, int], "ProgressBar"]


class ProgressBar(Protocol):
    """What the runner needs from a progress display (tqdm fits)."""

    def update(self, steps: int) -> None: ...

    def close(self) -> None: ...


def run(
    config: RunConfig,
    registry: Registry,
    *,
    argv: list[str] | None = None,
    process_started: float | None = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
    progress: ProgressFactory | None = None,
) -> RunOutcome:
    """Run every selected plugin on every device along one schedule.

    ``on_update`` receives the document after every row (to save it as it grows, so a
    crash or Ctrl-C loses nothing already measured). ``process_started`` (a
    ``time.time()`` value) lets the timeline show the interpreter's start-up.
    """
    config.check()
    specs = [registry.get(name) for name in config.plugins]
    timeline: list[list[Any]] = []
    if process_started is not None:
        timeline.append(["start-up: interpreter and imports", max(0.0, time.time() - process_started)])
    rows: list[RowResult] = []
    document = _document(config, argv, registry)
    document["timeline"] = timeline
    frameworks: dict[str, str] = document["machine"]["frameworks"]
    outcome = RunOutcome(document, rows)

    def publish() -> None:
        document["results"] = [result.row_to_dict(r) for r in rows]
        if on_update is not None:
            on_update(document)

    try:
        dataset, executor = _prepare(config, registry, document, timeline)
        schedule = executor.schedule  # type: ignore[attr-defined]
        if config.roofline:
            start = time.perf_counter()
            document["roofline"] = roofline.probe(dataset.train_images, schedule, dataset.num_classes)
            timeline.append(["roofline probe", time.perf_counter() - start])
        for spec in specs:
            start = time.perf_counter()
            devices = devices_for(spec, config.devices, executor)
            if spec.devices is not None and "all" in (d.strip().lower() for d in config.devices):
                timeline.append([f"{spec.name}: list devices", time.perf_counter() - start])
            for device in devices:
                row_outcome = _run_row(executor, spec, device, dataset, config, progress)
                row = row_outcome.row
                rows.append(row)
                frameworks.update(row_outcome.environment)
                _add_parity(rows)
                _add_roofline_fraction(row, document.get("roofline"))
                _add_row_timeline(timeline, row)
                publish()
                if row_outcome.interrupted:
                    outcome.interrupted = row_outcome.interrupted
                    break
            if outcome.interrupted:
                break
    except KeyboardInterrupt:
        outcome.interrupted = "SIGINT"
    except Terminated:
        outcome.interrupted = "SIGTERM"
    if outcome.interrupted:
        document["interrupted"] = outcome.interrupted
        publish()
    return outcome


def _prepare(
    config: RunConfig, registry: Registry, document: dict[str, Any], timeline: list[list[Any]]
) -> tuple[Dataset, Executor]:
    """Load the data and the schedule, and make the executor the rows run in."""
    from bench.execute.inprocess import InProcessExecutor
    from bench.execute.worker import WorkerExecutor

    start = time.perf_counter()
    dataset, prepared, reused = _load_data(config)
    label = "data: prepared copy (source files unchanged since verified)" if reused else "data: read, verify, preprocess"
    timeline.append([label, time.perf_counter() - start - (prepared[1] if prepared else 0.0)])
    if prepared and prepared[1]:
        timeline.append(["data: write the prepared copy for workers", prepared[1]])
    document["dataset"] = _dataset_info(dataset)
    start = time.perf_counter()
    schedule = build_schedule(len(dataset.train_labels), config.steps, config.batch_size, config.seed, config.sampling)
    document["batch_schedule_sha256"] = schedule.sha256()
    timeline.append(["batch schedule", time.perf_counter() - start])
    executor: Executor
    if config.isolation == "process":
        assert prepared is not None
        executor = WorkerExecutor(prepared[0], schedule)
    else:
        executor = InProcessExecutor(registry, dataset, schedule)
    return dataset, executor


def _load_data(config: RunConfig) -> tuple[Dataset, tuple[Any, float] | None, bool]:
    """The dataset; with process isolation also its prepared copy and the seconds spent writing it.

    When a prepared copy of unchanged CIFAR-10 files is in the cache, the files are not
    read again (they were verified when the copy was made).
    """
    from bench.dataset import prepared as prep

    if config.isolation == "process" and config.dataset == "cifar10":
        stats = _source_stats(config)
        if stats is not None:
            found = prep.find_prepared("cifar10", config.preprocessing, stats)
            if found is not None:
                dataset = prep.open_prepared(found, populate=config.roofline)  # the probe gathers rows
                dataset.details["prepared_copy"] = str(found)
                return dataset, (found, 0.0), True
    dataset = load_dataset(
        config.dataset,
        data_dir=config.data_dir,
        offline=config.offline,
        preprocessing=config.preprocessing,
        seed=config.seed,
    )
    if config.isolation != "process":
        return dataset, None, False
    start = time.perf_counter()
    stats = _source_stats(config) if config.dataset == "cifar10" else None
    copy = prep.prepare(dataset, source_stats=stats)
    dataset.details["prepared_copy"] = str(copy)
    return dataset, (copy, time.perf_counter() - start), False


def _source_stats(config: RunConfig) -> dict[str, list[int]] | None:
    """Size and modification time of the CIFAR-10 files the run reads, if they are there."""
    from bench.dataset import resolve_data_dir
    from bench.dataset.cifar10 import find_layout
    from bench.dataset.prepared import source_stats

    layout = find_layout(resolve_data_dir(config.data_dir))
    if layout is None:
        return None
    try:
        return source_stats(layout.path, layout.files)
    except OSError:
        return None


def _run_row(
    executor: Executor,
    spec: ClassifierSpec,
    device: str,
    dataset: Dataset,
    config: RunConfig,
    progress: ProgressFactory | None,
) -> Any:
    setup = SetupConfig(
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        input_dim=dataset.input_dim,
        num_classes=dataset.num_classes,
        device=device,
        seed=config.seed,
        threads=config.threads,
        params=row_params(spec, config),
    )
    job = RowJob(
        classifier=spec.name,
        device=device,
        setup=setup,
        placement=config.placement,
        steps_per_call=config.steps_per_call,
        loss_every=config.loss_every,
        parity_step=config.parity_step,
        timeout=config.timeout,
    )
    bar = progress(f"{spec.name} ({device})", config.steps) if progress else None
    update: Progress | None = bar.update if bar else None
    try:
        row_outcome = executor.run_row(spec, job, update)
        row_outcome.row.params = dict(setup.params)
        return row_outcome
    finally:
        if bar is not None:
            bar.close()


def _add_parity(rows: list[RowResult]) -> None:
    """Compare the newest row's parameters with the first ok row's."""
    reference = next((r for r in rows if r.status == OK), None)
    row = rows[-1]
    if reference is None or row.status != OK:
        return
    row.parity_max_abs_diff = max_abs_diff(reference.params_at_parity, row.params_at_parity)
    row.final_max_abs_diff = max_abs_diff(reference.params_final, row.params_final)


def _add_roofline_fraction(row: RowResult, limit: dict[str, Any] | None) -> None:
    """CPU rows of the linear model only: the roofline is that model's limit."""
    if limit and row.device == "cpu" and row.steps_per_second and _is_linear(row.params_final, limit):
        row.roofline_fraction = row.steps_per_second / limit["steps_per_second"]


def _is_linear(params: dict[str, Any] | None, limit: dict[str, Any]) -> bool:
    """Whether the parameters are one weight matrix and one bias vector of the probed shape."""
    shape = limit.get("shape") or {}
    if not params or len(params) != 2:
        return False
    shapes = sorted(tuple(getattr(p, "shape", ())) for p in params.values())
    return shapes == sorted([(shape.get("input_dim"), shape.get("num_classes")), (shape.get("num_classes"),)])


def _add_row_timeline(timeline: list[list[Any]], row: RowResult) -> None:
    label = f"{row.plugin} ({row.device})"
    steady = None
    if row.train_seconds is not None and row.first_step_seconds is not None:
        steady = row.train_seconds - row.first_step_seconds
    parts = [
        ("worker start, bench import, data mapping", row.worker_start_seconds),
        ("load", row.load_seconds),
        ("setup", row.setup_seconds),
        ("place dataset on device", row.placement_seconds),
        ("first step", row.first_step_seconds),
        ("other steps", steady),
        ("evaluation", row.eval_seconds),
        ("close", row.close_seconds),
    ]
    accounted = 0.0
    for name, seconds in parts:
        if seconds is not None:
            timeline.append([f"{label}: {name}", seconds])
            accounted += seconds
    if row.wall_seconds is not None:
        measured = accounted - (row.worker_start_seconds or 0.0)
        timeline.append([f"{label}: harness bookkeeping, parameter snapshots", max(0.0, row.wall_seconds - measured)])


def _document(config: RunConfig, argv: list[str] | None, registry: Registry) -> dict[str, Any]:
    return {
        "schema_version": result.SCHEMA_VERSION,
        "run_id": result.new_run_id(config.plugins),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": argv,
        "machine": machine_info(),
        "config": asdict(config),
        "dataset": None,
        "batch_schedule_sha256": None,
        "results": [],
    }


def _dataset_info(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "source": dataset.source,
        "preprocessing": dataset.preprocessing,
        "train_images": int(dataset.train_images.shape[0]),
        "test_images": int(dataset.test_images.shape[0]),
        "input_dim": dataset.input_dim,
        "num_classes": dataset.num_classes,
        "details": dataset.details,
    }
