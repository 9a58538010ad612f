"""A whole run: data, its schedules, every selected plugin on every device, one document.

plan (:mod:`bench.plan`) -> dataset -> batch schedule -> executor (a worker process per
row, by default) -> rows -> result document, handed to ``on_update`` after every row. A
plain run plans one row per plugin and device along one schedule; a sweep plans every
combination of its axes, one schedule (and executor) per distinct (seed, batch size).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from bench.plan import PlannedRow, ScheduleKey, plan_rows, varying
from bench.plugins import Registry
from bench.results.model import Row, RunDocument, Status
from bench.results.storage import new_run_id
from bench.schedule import BatchSchedule, build_schedule
from bench.settings import (  # noqa: F401 - re-exported: the runner's settings
    PLACEMENTS,
    RECIPE_KEYS,
    RunConfig,
    max_threads,
    parse_device,
    resolve_params,
    sweep_combinations,
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


ExecutorFactory = Callable[[Dataset, BatchSchedule, Any], Executor]
"""``factory(dataset, schedule, prepared_path)``: the executor for the rows of one schedule."""


def run(
    config: RunConfig,
    registry: Registry,
    *,
    axes: Mapping[str, Sequence[Any]] | None = None,
    argv: list[str] | None = None,
    process_started: float | None = None,
    on_update: Callable[[RunDocument], None] | None = None,
    progress: ProgressFactory | None = None,
    executor_factory: ExecutorFactory | None = None,
) -> RunOutcome:
    """Run every selected plugin on every device, and with ``axes`` (a sweep: setting ->
    values, see :func:`bench.settings.sweep_combinations`) every combination of them.

    ``on_update`` receives the document after every row (to save it as it grows, so a
    crash or Ctrl-C loses nothing already measured). ``process_started`` (a
    ``time.time()`` value) lets the timeline show the interpreter's start-up.
    ``executor_factory(dataset, schedule, prepared_path)`` replaces the executor that
    ``config.isolation`` chooses.
    """
    combinations = combinations_of(config, axes)
    specs = [registry.get(name) for name in config.plugins]
    params = resolve_params(specs, config.params)
    document = new_document(config, argv, axes)
    if process_started is not None:
        document.timeline.append(("start-up: interpreter and imports", max(0.0, time.time() - process_started)))
    outcome = RunOutcome(document)
    resources: RunResources | None = None
    try:
        resources = RunResources(config, registry, document, executor_factory)
        resources.draw_schedules(c for c, problem in combinations if problem is None)
        planned = plan_rows(combinations, specs, params, resources.devices_for)
        outcome.interrupted = run_planned(planned, resources, document, registry, on_update=on_update,
                                          progress=progress)
    except KeyboardInterrupt:
        outcome.interrupted = "SIGINT"
    except Terminated:
        outcome.interrupted = "SIGTERM"
    finally:
        if resources is not None:
            resources.close()
    if outcome.interrupted:
        document.interrupted = outcome.interrupted
        if on_update is not None:
            on_update(document)
    return outcome


def combinations_of(config: RunConfig, axes: Mapping[str, Sequence[Any]] | None) -> list[tuple[RunConfig, str | None]]:
    """A sweep's combinations and why some cannot run; a plain run's one (checked)."""
    if axes:
        return sweep_combinations(config, axes)
    config.check()
    return [(config, None)]


def new_document(config: RunConfig, argv: list[str] | None, axes: Mapping[str, Sequence[Any]] | None = None
                 ) -> RunDocument:
    """An empty document for a run of ``config`` (a sweep's axes recorded as ``config["sweep"]``)."""
    settings = asdict(config)
    if axes:
        settings["sweep"] = {key: list(values) for key, values in axes.items()}
    return RunDocument(
        run_id=new_run_id(config.plugins),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        command=argv,
        machine=machine_info(),
        config=settings,
    )


def run_planned(
    planned: Sequence[PlannedRow],
    resources: RunResources,
    document: RunDocument,
    registry: Registry,
    *,
    on_update: Callable[[RunDocument], None] | None = None,
    progress: ProgressFactory | None = None,
) -> str | None:
    """Measure ``planned`` in order, adding each row to ``document`` (and handing it to
    ``on_update``) as it finishes; return ``"SIGINT"``/``"SIGTERM"`` if the user stopped it.

    A row whose settings cannot go together is recorded ``unavailable`` without running.
    Each row runs in the executor of its schedule (``resources``).
    """
    axes = varying(planned)
    for item in planned:
        if item.unavailable is not None:
            row_outcome = RowOutcome(_unavailable_row(item))
        else:
            row_outcome = _run_row(resources, registry, item, progress, item.label(axes))
        add_row(document, row_outcome)
        if on_update is not None:
            on_update(document)
        if row_outcome.interrupted:
            return row_outcome.interrupted
    return None


def add_row(document: RunDocument, row_outcome: RowOutcome) -> None:
    """Append a finished row: parity against the first ok row of its schedule, roofline
    fraction, frameworks.

    Rows should be added in the plan's order, so that every schedule's reference is its
    first planned row that is ok (an executor that finishes rows out of order can hold
    them back, or add them in order at the end).
    """
    row = row_outcome.row
    document.results.append(row)
    document.machine.setdefault("frameworks", {}).update(row_outcome.environment)
    _add_parity(document.results)
    rate_row(row, document.roofline)


class RunResources:
    """What the rows of a run need, made when first needed: the data (once, or once per
    seed for the synthetic set, which the seed generates), one batch schedule per (seed,
    batch size), one executor per schedule, and the CPU ceilings once per thread count."""

    def __init__(self, config: RunConfig, registry: Registry, document: RunDocument,
                 executor_factory: ExecutorFactory | None = None) -> None:
        self.config, self.registry, self.document = config, registry, document
        self.executor_factory = executor_factory
        self._data_key: Any = ()
        self._data: tuple[Dataset, Any] | None = None
        self._schedules: dict[ScheduleKey, BatchSchedule] = {}
        self._executors: dict[ScheduleKey, Executor] = {}
        self._rooflines: dict[int | None, dict[str, Any]] = {}
        self._train_size: int | None = None

    def dataset(self, config: RunConfig) -> Dataset:
        return self._load(config)[0]

    def executor(self, config: RunConfig) -> Executor:
        """The executor of ``config``'s schedule (its data loaded, its roofline probed)."""
        key = (config.seed, config.batch_size)
        if key not in self._executors:
            from bench.execute.inprocess import InProcessExecutor
            from bench.execute.worker import WorkerExecutor

            dataset, prepared = self._load(config)
            schedule = self.schedule(config)
            executor: Executor
            if self.executor_factory is not None:
                executor = self.executor_factory(dataset, schedule, prepared)
            elif self.config.executor == "ray":
                executor = _ray_executor(config, dataset, schedule, self.document)  # the synthetic set is per seed
            elif self.config.isolation == "process":
                executor = WorkerExecutor(prepared, schedule)
            else:
                executor = InProcessExecutor(self.registry, dataset, schedule)
            self._executors[key] = executor
            self._probe_roofline(config, dataset, schedule)
        return self._executors[key]

    def schedule(self, config: RunConfig) -> BatchSchedule:
        """The batch schedule of ``config``'s (seed, batch size), drawn once."""
        key = (config.seed, config.batch_size)
        if key not in self._schedules:
            size = self._train_size or len(self.dataset(config).train_labels)  # the same for every seed
            start = time.perf_counter()
            self._schedules[key] = build_schedule(size, config.steps, config.batch_size, config.seed, config.sampling)
            self._add_phase("batch schedule", time.perf_counter() - start)
            shas = {schedule.sha256() for schedule in self._schedules.values()}
            self.document.batch_schedule_sha256 = next(iter(shas)) if len(shas) == 1 else None
        return self._schedules[key]

    def draw_schedules(self, configs: Iterable[RunConfig]) -> None:
        """Every schedule the rows of ``configs`` need, before any row runs (so a batch size
        the training set cannot fill is refused up front)."""
        for config in configs:
            self.schedule(config)

    def devices_for(self, spec: ClassifierSpec) -> list[str]:
        """``--devices`` for ``spec``, ``all`` asked of an executor (no framework imported here)."""
        if not any(d.strip().lower() == "all" for d in self.config.devices) or spec.devices is None:
            return devices_for(spec, self.config.devices)
        executor = self.executor(self.config)
        start = time.perf_counter()
        devices = devices_for(spec, self.config.devices, executor)
        self.document.timeline.append((f"{spec.name}: list devices", time.perf_counter() - start))
        return devices

    def _load(self, config: RunConfig) -> tuple[Dataset, Any]:
        """The dataset of ``config`` and its prepared copy; the synthetic set depends on the seed."""
        key = (config.dataset, config.preprocessing, config.seed if config.dataset == "synthetic" else None)
        if self._data is None or key != self._data_key:
            self._data = None  # free the previous seed's synthetic set first
            start = time.perf_counter()
            dataset, prepared, reused = _load_data(config)
            label = ("data: prepared copy (source files unchanged since verified)" if reused
                     else "data: read, verify, preprocess")
            seed = f" (synthetic seed {config.seed})" if config.dataset == "synthetic" else ""
            write_seconds = prepared[1] if prepared else 0.0
            self.document.timeline.append((label + seed, time.perf_counter() - start - write_seconds))
            if write_seconds:
                self.document.timeline.append(("data: write the prepared copy for workers" + seed, write_seconds))
            info = _dataset_info(dataset)
            if self.document.dataset is None:
                self.document.dataset = info
            elif info != self.document.dataset:
                self.document.dataset.setdefault("per_seed", {})[str(config.seed)] = info["source"]
            self._data, self._data_key = (dataset, prepared[0] if prepared else None), key
            self._train_size = len(dataset.train_labels)
        return self._data

    def _probe_roofline(self, config: RunConfig, dataset: Dataset, schedule: BatchSchedule) -> None:
        """This CPU's ceilings with the threads the rows may use (cached per machine and
        settings; measured when missing, old or asked for): the first under ``ceilings``,
        those of other thread counts of a sweep under ``by_threads``."""
        threads = config.threads
        if not self.config.roofline or threads in self._rooflines:
            return
        start = time.perf_counter()
        ceilings = roofline.cpu_ceilings(threads, remeasure=self.config.remeasure_roofline).as_dict()
        self._add_phase("roofline: CPU ceilings" + (" (cached)" if ceilings.get("from_cache") else " measured"),
                        time.perf_counter() - start)
        self._rooflines[threads] = ceilings
        if self.document.roofline is None:
            self.document.roofline = {"ceilings": {"cpu": ceilings}, "threads": threads}
        else:
            self.document.roofline.setdefault("by_threads", {})[str(threads)] = {"cpu": ceilings}

    def close(self) -> None:
        """Release the executors (a Ray connection, a local Ray instance)."""
        for executor in self._executors.values():
            close = getattr(executor, "close", None)
            if callable(close):
                close()

    def _add_phase(self, label: str, seconds: float) -> None:
        """Add to the timeline, or to the phase of that name already there (one line per kind)."""
        timeline = self.document.timeline
        for i, (name, before) in enumerate(timeline):
            if name == label:
                timeline[i] = (label, before + seconds)
                return
        timeline.append((label, seconds))


def _unavailable_row(item: PlannedRow) -> Row:
    """The row of a combination that cannot run: its settings and the reason."""
    return Row(plugin=item.spec.name, device=item.device, status=Status.UNAVAILABLE, error=item.unavailable,
               placement=item.config.placement, steps_per_call=item.config.steps_per_call,
               settings=item.settings, params=dict(item.params), isolation=item.config.isolation)


def _ray_executor(config: RunConfig, dataset: Dataset, schedule: BatchSchedule, document: RunDocument) -> Executor:
    """Rows as Ray tasks; each node reads or downloads CIFAR-10 itself, through the same verified path."""
    from bench.execute.ray import RayExecutor, data_settings, parse_resources

    executor = RayExecutor(dataset, schedule, data_settings(config, config.ray_data_dir), address=config.ray_address,
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
        stats = prep.cifar10_source_stats(config.data_dir)
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
    stats = prep.cifar10_source_stats(config.data_dir) if config.dataset == "cifar10" else None
    copy = prep.prepare(dataset, source_stats=stats)
    dataset.details["prepared_copy"] = str(copy)
    return dataset, (copy, time.perf_counter() - start), False


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
        eval_every=config.eval_every,
        target_accuracy=config.target_accuracy,
    )


def _run_row(
    resources: RunResources,
    registry: Registry,
    item: PlannedRow,
    progress: ProgressFactory | None,
    label: str,
) -> RowOutcome:
    spec, device, config = item.spec, item.device, item.config
    executor = resources.executor(config)
    schedule = resources.schedule(config)
    job = row_job(spec, device, resources.dataset(config), config, dict(item.params))
    bar = progress(label, config.steps) if progress else None
    update: Progress | None = bar.update if bar else None
    try:
        row_outcome = executor.run_row(spec, job, update)
    finally:
        if bar is not None:
            bar.close()
    row = row_outcome.row
    origin = registry.origin(spec.name)
    row.params, row.plugin_version, row.distribution = dict(item.params), origin.version, origin.distribution
    row.settings, row.schedule_sha256 = item.settings, schedule.sha256()
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
    """Compare the newest row's parameters with the first ok row's on the same schedule
    (parameters after the same batches)."""
    row = rows[-1]
    reference = next((r for r in rows if r.ok and r.schedule_sha256 == row.schedule_sha256), None)
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
    devices = section.get("ceilings") or {}
    threads = row.settings.get("threads", section.get("threads"))
    if "threads" in section and threads != section.get("threads"):
        devices = (section.get("by_threads") or {}).get(str(threads)) or {}
    entry = devices.get(row.device)
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
