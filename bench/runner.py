"""A whole run: data, one schedule, every selected plugin on every device, one document.

dataset -> batch schedule -> executor (a worker process per row, by default) -> rows ->
result document, handed to ``on_update`` after every row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from bench import roofline
from bench.classifier import ClassifierSpec, SetupConfig
from bench.dataset import Dataset, load_dataset
from bench.errors import Terminated
from bench.execute import Executor, Progress, RowJob, RowOutcome
from bench.machine import machine_info
from bench.measure import max_abs_diff
from bench.plugins import Registry
from bench.results.model import Row, RunDocument
from bench.results.storage import new_run_id
from bench.schedule import BatchSchedule, build_schedule
from bench.settings import (  # noqa: F401 - re-exported: the runner's settings
    PLACEMENTS,
    RECIPE_KEYS,
    RunConfig,
    max_threads,
    parse_device,
    resolve_params,
    with_plugin_defaults,
)


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


@dataclass
class RunOutcome:
    """The run's document (saved after every row) and whether it was cut short."""

    document: RunDocument
    interrupted: str | None = None
    """``"SIGINT"`` or ``"SIGTERM"`` when the run was cut short."""

    @property
    def rows(self) -> list[Row]:
        return self.document.results


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
    on_update: Callable[[RunDocument], None] | None = None,
    progress: ProgressFactory | None = None,
    executor_factory: Callable[[Dataset, BatchSchedule, Any], Executor] | None = None,
) -> RunOutcome:
    """Run every selected plugin on every device along one schedule.

    ``on_update`` receives the document after every row (to save it as it grows, so a
    crash or Ctrl-C loses nothing already measured). ``process_started`` (a
    ``time.time()`` value) lets the timeline show the interpreter's start-up.
    ``executor_factory(dataset, schedule, prepared_path)`` replaces the executor that
    ``config.isolation`` chooses.
    """
    config.check()
    specs = [registry.get(name) for name in config.plugins]
    params = resolve_params(specs, config.params)
    document = RunDocument(
        run_id=new_run_id(config.plugins),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        command=argv,
        machine=machine_info(),
        config=asdict(config),
    )
    timeline = document.timeline
    if process_started is not None:
        timeline.append(("start-up: interpreter and imports", max(0.0, time.time() - process_started)))
    outcome = RunOutcome(document)

    def publish() -> None:
        if on_update is not None:
            on_update(document)

    executor: Executor | None = None
    try:
        dataset, _, executor = _prepare(config, registry, document, executor_factory)
        if config.roofline:
            start = time.perf_counter()
            document.roofline = _roofline_section(config)
            cached = document.roofline["ceilings"]["cpu"].get("from_cache")
            timeline.append(("roofline: CPU ceilings" + (" (cached)" if cached else " measured"),
                             time.perf_counter() - start))
        for spec in specs:
            start = time.perf_counter()
            devices = devices_for(spec, config.devices, executor)
            if spec.devices is not None and "all" in (d.strip().lower() for d in config.devices):
                timeline.append((f"{spec.name}: list devices", time.perf_counter() - start))
            for device in devices:
                row_outcome = _run_row(executor, registry, spec, device, dataset, config, params[spec.name], progress)
                add_row(document, row_outcome)
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
    finally:
        close = getattr(executor, "close", None)
        if callable(close):
            close()
    if outcome.interrupted:
        document.interrupted = outcome.interrupted
        publish()
    return outcome


def _roofline_section(config: RunConfig) -> dict[str, Any]:
    """The machine's ceilings the rows are rated against: this CPU's, with the run's threads
    (cached per machine and settings; measured when missing, old or asked for)."""
    ceilings = roofline.cpu_ceilings(config.threads, remeasure=config.remeasure_roofline)
    return {"ceilings": {"cpu": ceilings.as_dict()}}


def add_row(document: RunDocument, row_outcome: RowOutcome) -> None:
    """Append a finished row: parity against the first ok row, roofline fraction, frameworks."""
    row = row_outcome.row
    document.results.append(row)
    document.machine.setdefault("frameworks", {}).update(row_outcome.environment)
    _add_parity(document.results)
    rate_row(row, document.roofline)


def _prepare(
    config: RunConfig,
    registry: Registry,
    document: RunDocument,
    executor_factory: Callable[[Dataset, BatchSchedule, Any], Executor] | None,
) -> tuple[Dataset, BatchSchedule, Executor]:
    """Load the data and the schedule, and make the executor the rows run in."""
    from bench.execute.inprocess import InProcessExecutor
    from bench.execute.worker import WorkerExecutor

    start = time.perf_counter()
    dataset, prepared, reused = _load_data(config)
    label = "data: prepared copy (source files unchanged since verified)" if reused else "data: read, verify, preprocess"
    write_seconds = prepared[1] if prepared else 0.0
    document.timeline.append((label, time.perf_counter() - start - write_seconds))
    if write_seconds:
        document.timeline.append(("data: write the prepared copy for workers", write_seconds))
    document.dataset = _dataset_info(dataset)
    start = time.perf_counter()
    schedule = build_schedule(len(dataset.train_labels), config.steps, config.batch_size, config.seed, config.sampling)
    document.batch_schedule_sha256 = schedule.sha256()
    document.timeline.append(("batch schedule", time.perf_counter() - start))
    executor: Executor
    if executor_factory is not None:
        executor = executor_factory(dataset, schedule, prepared[0] if prepared else None)
    elif config.executor == "ray":
        executor = _ray_executor(config, dataset, schedule, document)
    elif config.isolation == "process":
        assert prepared is not None
        executor = WorkerExecutor(prepared[0], schedule)
    else:
        executor = InProcessExecutor(registry, dataset, schedule)
    return dataset, schedule, executor


def _ray_executor(config: RunConfig, dataset: Dataset, schedule: BatchSchedule, document: RunDocument) -> Executor:
    """Rows as Ray tasks; each node reads or downloads CIFAR-10 itself, through the same verified path."""
    from bench.execute.ray import RayExecutor, data_settings, parse_resources

    executor = RayExecutor(dataset, schedule, data_settings(config), address=config.ray_address,
                           resources=parse_resources(config.ray_resources))
    document.timeline.append(("data: digest for the nodes' check", executor.digest_seconds))
    start = time.perf_counter()
    executor.connect()
    document.timeline.append(("ray: connect", time.perf_counter() - start))
    return executor


def _load_data(config: RunConfig) -> tuple[Dataset, tuple[Any, float] | None, bool]:
    """The dataset; with process isolation also its prepared copy and the seconds spent writing it.

    When a prepared copy of unchanged CIFAR-10 files is in the cache, the files are not
    read again (they were verified when the copy was made).
    """
    from bench.dataset import prepared as prep

    if config.isolation == "process" and config.executor == "local" and config.dataset == "cifar10":
        stats = _source_stats(config)
        if stats is not None:
            found = prep.find_prepared("cifar10", config.preprocessing, stats)
            if found is not None:
                dataset = prep.open_prepared(found, populate=False)  # this process trains nothing
                dataset.details["prepared_copy"] = str(found)
                return dataset, (found, 0.0), True
    dataset = load_dataset(
        config.dataset,
        data_dir=config.data_dir,
        offline=config.offline,
        preprocessing=config.preprocessing,
        seed=config.seed,
    )
    if config.isolation != "process" or config.executor == "ray":  # nodes prepare their own copies
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


def row_job(spec: ClassifierSpec, device: str, dataset: Dataset, config: RunConfig, params: dict[str, str]) -> RowJob:
    """The job for one row of ``config``."""
    setup = SetupConfig(
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        input_dim=dataset.input_dim,
        num_classes=dataset.num_classes,
        device=device,
        seed=config.seed,
        threads=config.threads,
        params=dict(params),
    )
    return RowJob(
        classifier=spec.name,
        device=device,
        setup=setup,
        placement=config.placement,
        steps_per_call=config.steps_per_call,
        loss_every=config.loss_every,
        parity_step=config.parity_step,
        timeout=config.timeout,
    )


def _run_row(
    executor: Executor,
    registry: Registry,
    spec: ClassifierSpec,
    device: str,
    dataset: Dataset,
    config: RunConfig,
    params: dict[str, str],
    progress: ProgressFactory | None,
) -> RowOutcome:
    job = row_job(spec, device, dataset, config, params)
    bar = progress(f"{spec.name} ({device})", config.steps) if progress else None
    update: Progress | None = bar.update if bar else None
    try:
        row_outcome = executor.run_row(spec, job, update)
    finally:
        if bar is not None:
            bar.close()
    row = row_outcome.row
    origin = registry.origin(spec.name)
    row.params, row.plugin_version, row.distribution = dict(params), origin.version, origin.distribution
    work = _work(spec, job.setup)
    if work is not None:
        row.flops_per_step, row.bytes_per_step = work
    return row_outcome


def _work(spec: ClassifierSpec, setup: SetupConfig) -> tuple[float, float] | None:
    """The FLOPs and bytes of a step the spec states, if it does (a failure states nothing)."""
    if spec.work is None:
        return None
    try:
        work = spec.work(setup)
        return float(work.flops), float(work.bytes)
    except Exception:  # noqa: BLE001 - an optional figure must not fail the row
        return None


def _add_parity(rows: list[Row]) -> None:
    """Compare the newest row's parameters with the first ok row's."""
    reference = next((r for r in rows if r.ok), None)
    row = rows[-1]
    if reference is None or not row.ok:
        return
    row.parity_max_abs_diff = max_abs_diff(reference.params_at_parity, row.params_at_parity)
    row.final_max_abs_diff = max_abs_diff(reference.params_final, row.params_final)


def rate_row(row: Row, section: dict[str, Any] | None) -> None:
    """The row's fraction of what its device's ceilings allow a step of its work (or why not)."""
    from bench.classifier import StepWork
    from bench.roofline.ceilings import Ceilings

    if not section:
        return
    if row.node is not None:  # measured on another machine than these ceilings
        row.roofline_reason = "ran on another node than the ceilings were measured on"
        return
    entry = (section.get("ceilings") or {}).get(row.device)
    ceilings = Ceilings.from_dict(entry) if entry else None
    work = None if row.flops_per_step is None or row.bytes_per_step is None else StepWork(
        row.flops_per_step, row.bytes_per_step)
    rating = roofline.rate(row.steps_per_second if row.ok else None, work, ceilings)
    row.roofline_fraction = rating.fraction
    row.attainable_steps_per_second = rating.attainable_steps_per_second
    row.roofline_bound = rating.limited_by
    row.roofline_reason = rating.reason


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
