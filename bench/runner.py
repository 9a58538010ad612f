"""A whole run: its plan, data and schedules, every row through the executor, one document.

plan (:func:`bench.plan.prepare_run`) -> dataset -> batch schedule -> executor (a worker
process per row, by default) -> measurement -> row (identity + measurement + analysis) ->
result document, handed to ``on_update`` after every row. A plain run plans one row per
plugin and device along one schedule; a sweep plans every combination of its axes, one
schedule per distinct (seed, batch size).

Once a row is measured it is never edited: the runner builds it from the plan's identity
and the executor's measurement, and adds the run's analysis of it (parity, roofline)
as it joins the document.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from bench import roofline
from bench.classifier import ClassifierSpec, SetupConfig
from bench.dataset import Dataset
from bench.dataset.provide import DataSettings, provide_data
from bench.errors import Terminated
from bench.execute import Executor, RowData, RowOutcome, executor_class
from bench.job import RowJob, SchedulePlan
from bench.machine import machine_info
from bench.plan import PlannedRow, RunPlan, ScheduleKey, prepare_run, varying
from bench.plugins import Registry
from bench.results.analysis import ParityReferences, analyse, roofline_rating
from bench.results.model import Measurement, Row, RowIdentity, RunDocument, Status
from bench.results.storage import new_run_id
from bench.schedule import build_schedule, check_schedule
from bench.settings import RunConfig, parse_device


@dataclass
class RunOutcome:
    """The run's document (saved after every row) and whether it was cut short."""

    document: RunDocument
    interrupted: str | None = None
    """``"SIGINT"``, ``"SIGTERM"`` or ``"SIGHUP"`` when the run was cut short."""

    @property
    def rows(self) -> list[Row]:
        return self.document.results


class ProgressBar(Protocol):
    """What the runner needs from a progress display (tqdm fits)."""

    def update(self, steps: int) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[str, int], ProgressBar]
"""``factory(row label, steps)``: a progress display for one row."""


def run(
    plan: RunPlan | RunConfig,
    registry: Registry,
    *,
    axes: Mapping[str, Sequence[Any]] | None = None,
    argv: list[str] | None = None,
    process_started: float | None = None,
    on_update: Callable[[RunDocument], None] | None = None,
    progress: ProgressFactory | None = None,
    notify: Callable[[str], None] | None = None,
    executor: Executor | None = None,
    resume: RunDocument | None = None,
) -> RunOutcome:
    """Run every planned row (every selected plugin on every device, and with ``axes``,
    a sweep, every combination of them); a :class:`RunConfig` is planned first
    (:func:`bench.plan.prepare_run`).

    ``on_update`` receives the document after every row (to save it as it grows, so a
    crash or Ctrl-C loses nothing already measured). ``process_started`` (a
    ``time.time()`` value) lets the timeline show the interpreter's start-up.
    ``notify`` hears a line before every step of the run's own that may take more than
    a second (reading the data, writing its prepared copy, measuring the ceilings).
    ``executor`` replaces the one ``config.executor`` names. ``resume``, a saved document
    of the same plan (:func:`check_resumable`), gives the rows not to measure again: its
    ok rows whose identity a planned row has join the new document first, as they are.
    """
    if isinstance(plan, RunConfig):
        plan = prepare_run(plan, registry, axes=axes)
    document = new_document(plan)
    document.command = argv
    if process_started is not None:
        document.timeline.append(("start-up: interpreter and imports", max(0.0, time.time() - process_started)))
    outcome = RunOutcome(document)
    session: RunSession | None = None
    try:
        session = RunSession(plan, registry, document, executor, notify)
        session.draw_schedules(c for c, problem in plan.combinations if problem is None)
        planned = plan.rows(session.devices_for)
        if resume is not None:
            planned = session.keep_finished(planned, resume)
        outcome.interrupted = session.measure(planned, on_update=on_update, progress=progress)
    except KeyboardInterrupt:
        outcome.interrupted = "SIGINT"
    except Terminated as exc:
        outcome.interrupted = exc.name
    finally:
        if session is not None:
            session.close()
    if outcome.interrupted:
        document.interrupted = outcome.interrupted
        if on_update is not None:
            on_update(document)
    return outcome


WHERE_IT_RUNS = ("executor", "isolation", "ray_address", "ray_resources", "ray_data_dir", "timeout", "data_dir",
                 "offline", "remeasure_roofline")
"""Settings a resumed run may change: where and how rows run, not what they measure."""


def check_resumable(plan: RunPlan, previous: RunDocument, name: str = "the document") -> None:
    """Refuse (a UsageError) to resume ``previous`` with a plan of other settings."""
    from bench.errors import UsageError

    ours, theirs = new_document(plan).config, previous.config
    differs = sorted(key for key in set(ours) | set(theirs)
                     if key not in WHERE_IT_RUNS and ours.get(key) != theirs.get(key))
    if differs:
        shown = "; ".join(f"{key}: {theirs.get(key)!r} there, {ours.get(key)!r} now" for key in differs[:4])
        raise UsageError(f"--resume: {name} was run with other settings ({shown}); give the same command "
                         f"(only {', '.join('--' + k.replace('_', '-') for k in WHERE_IT_RUNS[:6])} may differ)")


def new_document(plan: RunPlan) -> RunDocument:
    """An empty document for ``plan`` (a sweep's axes recorded as ``config["sweep"]``)."""
    settings = plan.config.to_dict()
    if plan.axes:
        settings["sweep"] = {key: list(values) for key, values in plan.axes.items()}
    return RunDocument(
        run_id=new_run_id(plan.config.plugins),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        command=None,
        machine=machine_info(),
        config=settings,
    )


def combine(first: Measurement, later: Sequence[Measurement]) -> Measurement:
    """One row's measurement from its processes: ``first`` (a combination already, or one
    process's) with ``later`` processes joined. Everything but the steps/s is the first
    process's (its step times, losses, accuracy, phases); the row keeps each process's
    steps/s (``process_steps_per_second``) and counts them (``repeats``). A later process
    that did not end ok makes the row its status, with its error."""
    rates = list(first.process_steps_per_second) or [r for r in (first.steps_per_second,) if r is not None]
    repeats = max(first.repeats, len(rates))
    for measurement in later:
        repeats += 1
        if not measurement.ok:
            return replace(first, status=measurement.status, repeats=repeats, process_steps_per_second=rates,
                           error=f"process {repeats} of the row: {measurement.error}")
        if measurement.steps_per_second is not None:
            rates.append(measurement.steps_per_second)
    return replace(first, repeats=repeats, process_steps_per_second=rates)


def _unavailable(identity: RowIdentity, reason: str) -> RowOutcome:
    """The outcome of a row whose settings cannot go together: recorded, never run."""
    return RowOutcome(Row.failed(identity, Status.UNAVAILABLE, reason).measurement)


def _repeat_label(label: str, round_: int, repeat: int) -> str:
    return label if repeat == 1 else f"{label} [{round_ + 1}/{repeat}]"


def devices_for(spec: ClassifierSpec, requested: list[str], executor: Executor | None = None) -> list[str]:
    """The devices to run ``spec`` on: ``all`` expands to every device it reports (asked
    through ``executor``, so that with worker processes no framework is imported here)."""
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


class RunSession:
    """What the rows of a run share, made when first needed: the executor (one per run),
    the data (once, or once per seed for the synthetic set, which the seed generates), one
    batch schedule per (seed, batch size), the CPU ceilings once per thread count, and the
    parity references."""

    def __init__(self, plan: RunPlan, registry: Registry, document: RunDocument,
                 executor: Executor | None = None, notify: Callable[[str], None] | None = None) -> None:
        self.plan, self.config, self.registry, self.document = plan, plan.config, registry, document
        self._executor = executor
        self._kind: Any = executor if executor is not None else executor_class(plan.config.executor)
        """The executor given, or the class of the one ``--executor`` names (opened when first needed)."""
        self._notify = notify
        self._data_key: Any = ()
        self._data: RowData | None = None
        self._schedules: dict[ScheduleKey, SchedulePlan] = {}
        self._schedule_digests: set[str] = set()
        self._planned_schedules = 0
        self._rooflines: dict[int | None, dict[str, Any]] = {}
        self._train_size: int | None = None
        self._parity = ParityReferences()

    # the rows ---------------------------------------------------------------------------

    def measure(
        self,
        planned: Sequence[PlannedRow],
        *,
        on_update: Callable[[RunDocument], None] | None = None,
        progress: ProgressFactory | None = None,
    ) -> str | None:
        """Measure ``planned`` in order, adding each row to the document (and handing it
        to ``on_update``) as it finishes; return ``"SIGINT"``/``"SIGTERM"``/``"SIGHUP"`` if the user
        stopped it. A row whose settings cannot go together is recorded ``unavailable``
        without running.

        With ``--repeat N``, N rounds each measure every row once more, in plan order (A B
        C A B C ...: a drift of the machine touches every row alike); after every process
        the row in the document becomes its processes so far (:func:`combine`). Parity is
        the first round's; a row that failed is not measured again.
        An executor that measures several rows at once (``run_rows``: a cluster) gets
        them all at once."""
        if planned and self._concurrent():
            return self._measure_concurrently(planned, on_update=on_update)
        axes = varying(planned)
        repeat = self.config.repeat
        positions: dict[int, int] = {}
        last_of_schedule = {item.schedule_key: i for i, item in enumerate(planned) if item.unavailable is None}
        after = _next_runnable(planned)
        first = next((item.spec.name for item in planned if item.unavailable is None), None)
        for round_ in range(repeat):
            for index, item in enumerate(planned):
                label = _repeat_label(item.label(axes), round_, repeat)
                upcoming = after[index] if after[index] is not None or round_ == repeat - 1 else first
                if round_ == 0:
                    positions[index] = len(self.document.results)
                    row_outcome = self._first_process(item, label, progress, upcoming)
                    if last_of_schedule.get(item.schedule_key) == index:  # no later row compares with its reference
                        self._parity.release(self.document.results[-1].schedule_sha256)
                elif self.document.results[positions[index]].ok:
                    row_outcome = self._another_process(item, positions[index], label, progress, upcoming)
                else:
                    continue  # failed or unavailable: not measured again
                if on_update is not None:
                    on_update(self.document)
                if row_outcome.interrupted:
                    return row_outcome.interrupted
        return None

    def _first_process(self, item: PlannedRow, label: str, progress: ProgressFactory | None,
                       upcoming: str | None = None) -> RowOutcome:
        """Measure ``item`` once (or record it unavailable) and add its row to the document."""
        identity = self.identity(item)
        if item.unavailable is not None:
            row_outcome = _unavailable(identity, item.unavailable)
        else:
            row_outcome = self._run_row(item, label, progress, upcoming)
        self.add_first(identity, row_outcome)
        return row_outcome

    def add_first(self, identity: RowIdentity, outcome: RowOutcome) -> None:
        """A row's first process joins the document as the row (:meth:`add`); an ok one
        counted as its first process (:func:`combine`)."""
        measurement = outcome.measurement
        self.add(Row(identity, combine(measurement, []) if measurement.ok else measurement), outcome)

    def _another_process(self, item: PlannedRow, at: int, label: str, progress: ProgressFactory | None,
                         upcoming: str | None = None) -> RowOutcome:
        """Measure ``item`` in one more process; the row at ``at`` becomes a new row with it."""
        row_outcome = self._run_row(item, label, progress, upcoming)
        self.add_later(at, [row_outcome])
        return row_outcome

    def add_later(self, at: int, outcomes: Sequence[RowOutcome]) -> bool:
        """Later processes join the row at ``at`` (:func:`combine`, then :meth:`reanalyse`);
        interrupted ones are left out, and a row that is not ok takes none. Whether it changed."""
        row = self.document.results[at]
        kept = [outcome.measurement for outcome in outcomes if not outcome.interrupted]
        if not row.ok or not kept:
            return False
        self.document.results[at] = self.reanalyse(replace(row, measurement=combine(row.measurement, kept)))
        return True

    def reanalyse(self, row: Row) -> Row:
        """A row whose steps/s changed (another process joined it): its roofline rating
        again, its parity kept (the first process's)."""
        return row.with_analysis(replace(row.analysis, **roofline_rating(row, self.document)))

    def keep_finished(self, planned: Sequence[PlannedRow], previous: RunDocument) -> list[PlannedRow]:
        """The rows of ``planned`` that ``previous`` has no ok row of; its ok rows that are
        planned join the document now, as they were measured (a schedule whose parity
        reference is kept gives its new rows no parity figures: snapshots are not saved)."""
        def key(identity: RowIdentity) -> str:
            return json.dumps(dataclasses.asdict(identity), sort_keys=True, default=str)

        done = {key(row.identity): row for row in previous.results if row.ok}
        remaining = []
        for item in planned:
            kept = done.pop(key(self.identity(item)), None) if item.unavailable is None else None
            if kept is None:
                remaining.append(item)
                continue
            self.document.results.append(kept)
            self._parity.without.add(kept.schedule_sha256)
            self.document.machine.setdefault("frameworks", {}).update(previous.machine.get("frameworks") or {})
        if self._notify is not None:
            self._notify(f"resuming: {len(planned) - len(remaining)} finished row(s) kept, "
                         f"{len(remaining)} to measure")
        return remaining

    def _concurrent(self) -> bool:
        """Whether the run's executor measures several rows at once (``run_rows``)."""
        return callable(getattr(self._kind, "run_rows", None))

    def _measure_concurrently(
        self, planned: Sequence[PlannedRow], *, on_update: Callable[[RunDocument], None] | None = None
    ) -> str | None:
        """:meth:`measure` through an executor's ``run_rows``: every process of every row
        handed over at once (with ``--repeat N``, round by round: A B C A B C ...), each
        row's first process held back until the rows planned before it have joined, so that
        rows join (and the document is saved) in the plan's order. A later process joins its
        row when both have finished (:func:`combine`); one of a row that failed, or one that
        was interrupted, is dropped."""
        identities: dict[int, RowIdentity] = {}
        held: dict[int, RowOutcome] = {}
        later: dict[int, list[RowOutcome]] = {}
        """Processes after the first, per row, waiting for their row to join."""
        positions: dict[int, int] = {}
        """Where each joined row is in the document."""
        joined = 0
        interrupted: str | None = None
        count, repeat = len(planned), self.config.repeat

        def items() -> Iterator[tuple[int, RowJob, RowData]]:
            for round_ in range(repeat):
                for index, item in enumerate(planned):
                    if round_ == 0:
                        identities[index] = self.identity(item)  # while this row's data is at hand
                        if item.unavailable is not None:
                            held[index] = _unavailable(identities[index], item.unavailable)
                            continue
                        self._probe_roofline(item.config)
                    elif item.unavailable is not None:
                        continue
                    yield round_ * count + index, self.job(item), self.data(item.config)

        def label(key: int) -> str:
            round_, index = divmod(key, count)
            return _repeat_label(f"row {index + 1}", round_, repeat)

        def fold(index: int) -> None:
            """Join the later processes that have finished to the row at ``index``, if it has joined."""
            if index not in positions or not later.get(index):
                return
            if self.add_later(positions[index], later.pop(index)) and on_update is not None:
                on_update(self.document)

        def join(final: bool = False) -> None:
            nonlocal joined
            while joined < count and (joined in held or final):
                if joined in held:
                    self.add_first(identities[joined], held.pop(joined))
                    positions[joined] = len(self.document.results) - 1
                    if on_update is not None:
                        on_update(self.document)
                    fold(joined)
                joined += 1

        executor: Any = self.executor()
        try:
            for key, outcome in executor.run_rows(items(), self._notify, label):
                round_, index = divmod(key, count)
                if round_ == 0:
                    held[index] = outcome
                else:
                    later.setdefault(index, []).append(outcome)
                interrupted = interrupted or outcome.interrupted
                join()
                fold(index)
                self._record_executor_phases()
        finally:
            self._record_executor_phases()
            join(final=True)  # rows planned after a row that never ran (an interrupt)
        return interrupted

    def add(self, row: Row, outcome: RowOutcome) -> None:
        """A measured row joins the document, with the run's analysis of it and its own
        process's framework facts (``environment``: each row keeps its own, none is merged
        into another's). Rows join in the plan's order, so that each schedule's parity
        reference is its first planned row that is ok."""
        if outcome.environment:
            row = replace(row, measurement=replace(row.measurement, environment=dict(outcome.environment)))
        self.document.results.append(analyse(row, outcome.parameters, self._parity, self.document))

    def identity(self, item: PlannedRow) -> RowIdentity:
        """What the plan fixes about a row before it runs."""
        config = item.config
        origin = self.registry.origin(item.spec.name)
        digest = self.schedule(config).sha256 if item.unavailable is None else None
        work = _work(item.spec, self.setup(item)) if item.unavailable is None else None
        return RowIdentity(
            plugin=item.spec.name,
            device=item.device,
            placement=config.placement,
            steps_per_call=config.steps_per_call,
            isolation=self._kind.isolation,
            settings=item.settings,
            params=dict(item.params),
            schedule_sha256=digest,
            parity_step=min(config.parity_step, config.steps) if item.unavailable is None else None,
            eval_every=config.eval_every,
            target_accuracy=config.target_accuracy,
            flops_per_step=work[0] if work else None,
            bytes_per_step=work[1] if work else None,
            plugin_version=origin.version,
            distribution=origin.distribution,
        )

    def setup(self, item: PlannedRow) -> SetupConfig:
        """What the classifier of ``item`` is built with."""
        config, dataset = item.config, self.data(item.config).dataset
        return SetupConfig(
            learning_rate=config.learning_rate,
            batch_size=config.batch_size,
            input_dim=dataset.input_dim,
            num_classes=dataset.num_classes,
            device=item.device,
            seed=config.seed,
            threads=config.threads,
            params=dict(item.params),
        )

    def job(self, item: PlannedRow) -> RowJob:
        """The job an executor measures for ``item``."""
        config = item.config
        return RowJob(
            classifier=item.spec.name,
            device=item.device,
            setup=self.setup(item),
            schedule=self.schedule(config),
            placement=config.placement,
            steps_per_call=config.steps_per_call,
            loss_every=config.loss_every,
            parity_step=config.parity_step,
            timeout=config.timeout,
            eval_every=config.eval_every,
            target_accuracy=config.target_accuracy,
        )

    def _run_row(self, item: PlannedRow, label: str, progress: ProgressFactory | None,
                 upcoming: str | None = None) -> RowOutcome:
        executor = self.executor()
        prepare = getattr(executor, "prepare", None)  # an executor may start the next row's worker early
        if prepare is not None:
            prepare([upcoming] if upcoming else [])
        data = self.data(item.config)
        self._probe_roofline(item.config)
        job = self.job(item)
        bar = progress(label, item.config.steps) if progress is not None else None
        try:
            outcome = executor.run_row(job, data, bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
            self._record_executor_phases()
        return outcome

    # what the rows share ------------------------------------------------------------------

    def executor(self) -> Executor:
        """The run's executor, opened when first needed."""
        if self._executor is None:
            self._executor = self._kind.open(self.config, self.registry)
            self._record_executor_phases()
        return self._executor

    def _record_executor_phases(self) -> None:
        phases = getattr(self._executor, "phases", None)
        if phases:
            for label, seconds in phases:
                self._add_phase(label, seconds)
            phases.clear()

    def schedule(self, config: RunConfig) -> SchedulePlan:
        """The batch schedule of ``config``'s (seed, batch size), drawn once, when its first
        row needs it: the parent keeps only what rebuilds it and its digest (a few dozen
        bytes, whatever its steps), since every executor rebuilds the indices where the row
        runs and checks them against it."""
        key = (config.seed, config.batch_size)
        if key not in self._schedules:
            size = self._train_size or len(self.data(config).dataset.train_labels)  # the same for every seed
            start = time.perf_counter()
            drawn = build_schedule(size, config.steps, config.batch_size, config.seed, config.sampling)
            plan = self._schedules[key] = SchedulePlan.of(drawn)
            del drawn
            self._schedule_digests.add(plan.sha256)
            self._add_phase("batch schedule", time.perf_counter() - start)
            single = len(self._schedule_digests) == 1 and self._planned_schedules <= 1
            self.document.batch_schedule_sha256 = plan.sha256 if single else None
        return self._schedules[key]

    def draw_schedules(self, configs: Iterable[RunConfig]) -> None:
        """Check, before any row runs, that every schedule the rows of ``configs`` need can
        be drawn (a batch size the training set cannot fill is refused up front); each is
        drawn when its first row runs, so the first row of a long sweep does not wait for
        the others' schedules."""
        keys: dict[ScheduleKey, RunConfig] = {}
        for config in configs:
            keys.setdefault((config.seed, config.batch_size), config)
        self._planned_schedules = len(keys)
        for config in keys.values():
            size = self._train_size or len(self.data(config).dataset.train_labels)  # the same for every seed
            check_schedule(size, config.steps, config.batch_size, config.sampling)

    def devices_for(self, spec: ClassifierSpec) -> list[str]:
        """``--devices`` for ``spec``, ``all`` asked of the executor (no framework imported here)."""
        if not any(d.strip().lower() == "all" for d in self.config.devices) or spec.devices is None:
            return devices_for(spec, self.config.devices)
        executor = self.executor()
        start = time.perf_counter()
        devices = devices_for(spec, self.config.devices, executor)
        self.document.timeline.append((f"{spec.name}: list devices", time.perf_counter() - start))
        return devices

    def data(self, config: RunConfig) -> RowData:
        """The data of ``config``'s rows; the synthetic set depends on the seed."""
        key = (config.dataset, config.preprocessing, config.seed if config.dataset == "synthetic" else None)
        if self._data is None or key != self._data_key:
            self._data = None  # free the previous seed's synthetic set first
            prepared = getattr(self._kind, "needs_prepared_copy", False)
            settings = DataSettings(config.dataset, config.preprocessing, config.seed, config.data_dir, config.offline)
            provided = provide_data(settings, prepare=prepared, notify=self._notify)
            if provided.note and self._notify is not None:
                self._notify(provided.note)
            dataset, write_seconds = provided.dataset, provided.write_seconds
            label = ("data: prepared copy (source files unchanged since verified)" if provided.reused
                     else "data: read, verify, preprocess")
            seed = f" (synthetic seed {config.seed})" if config.dataset == "synthetic" else ""
            self.document.timeline.append((label + seed, provided.seconds - write_seconds))
            if write_seconds:
                self.document.timeline.append(("data: write the prepared copy for workers" + seed, write_seconds))
            info = _dataset_info(dataset)
            if self.document.dataset is None:
                self.document.dataset = info
            elif info != self.document.dataset:
                self.document.dataset.setdefault("per_seed", {})[str(config.seed)] = info["source"]
            self._data, self._data_key = RowData(dataset, provided.prepared, settings), key
            self._train_size = len(dataset.train_labels)
        return self._data

    def _probe_roofline(self, config: RunConfig) -> None:
        """This CPU's ceilings with the threads the rows may use (cached per machine and
        settings; measured when missing, old or asked for): the first under ``ceilings``,
        those of other thread counts of a sweep under ``by_threads``."""
        threads = config.threads
        if not self.config.roofline or threads in self._rooflines:
            return
        start = time.perf_counter()
        ceilings = roofline.cpu_ceilings(threads, remeasure=self.config.remeasure_roofline,
                                         progress=self._notify).as_dict()
        self._add_phase("roofline: CPU ceilings" + (" (cached)" if ceilings.get("from_cache") else " measured"),
                        time.perf_counter() - start)
        self._rooflines[threads] = ceilings
        if self.document.roofline is None:
            self.document.roofline = {"ceilings": {"cpu": ceilings}, "threads": threads}
        else:
            self.document.roofline.setdefault("by_threads", {})[str(threads)] = {"cpu": ceilings}

    def close(self) -> None:
        """Release the executor (a Ray connection, a local Ray instance)."""
        if self._executor is not None:
            self._executor.close()

    def _add_phase(self, label: str, seconds: float) -> None:
        """Add to the timeline, or to the phase of that name already there (one line per kind)."""
        timeline = self.document.timeline
        for i, (name, before) in enumerate(timeline):
            if name == label:
                timeline[i] = (label, before + seconds)
                return
        timeline.append((label, seconds))


def _next_runnable(planned: Sequence[PlannedRow]) -> list[str | None]:
    """For each row, the classifier of the next row after it that runs (``None``: none)."""
    after: list[str | None] = [None] * len(planned)
    following: str | None = None
    for i in range(len(planned) - 1, -1, -1):
        after[i] = following
        if planned[i].unavailable is None:
            following = planned[i].spec.name
    return after


def _work(spec: ClassifierSpec, setup: SetupConfig) -> tuple[float, float] | None:
    """The FLOPs and bytes of a step the spec states, if it does (a failure states nothing)."""
    if spec.work is None:
        return None
    try:
        work = spec.work(setup)
        return float(work.flops), float(work.bytes)
    except Exception:  # noqa: BLE001 - an optional figure must not fail the row
        return None


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
