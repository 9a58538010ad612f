"""``--executor ray``: rows measured on the machines of a Ray cluster (the parent's side).

Each row is one Ray task that asks for what measuring it alone needs: all the CPUs of the
smallest live node that can run it, one GPU for a ``gpu:N`` row, the custom resources of
``--ray-resources`` that apply to its plugin and device (a GPU model, a pool of nodes), and
one unit of :data:`SLOT`. Every node that may run rows is started with
``--resources '{"bench_slot": 1}'``, so a node times at most one row at a time. On its node
the task checks bench's version, gets the data itself, checks data and schedule against
the run's and measures the row in a fresh worker process
(:mod:`bench.execute.ray.node`), then sends back the row, its parameter snapshots, the
node's machine facts and CPU ceilings, recorded as the row's ``node`` field.

The task is a Ray streaming generator: it reports ``started`` (with its node) as soon as
it holds its resources, the row's progress, then ``done`` or ``error``. The runner hands
every row of a run to :meth:`RayExecutor.run_rows`, which submits them all and yields each
as it finishes, so as many rows run at once as the cluster has free slots;
:meth:`RayExecutor.submit` and :meth:`RayExecutor.as_completed` are the parts it is made
of, and :meth:`RayExecutor.run_row` runs one row alone.

Failures are rows, and the run goes on: a Ray worker that dies, a cancelled task, a
request no node can satisfy, a row waiting for a node that left (the live nodes are
checked every :data:`NODES_SECONDS`), or one that waited :attr:`RayExecutor.wait_seconds`
for free resources while none of the run's rows was running. A row whose node died under
it is measured again from its start on another node (:data:`NODE_RETRIES`). A lost head
ends the run: the outstanding rows are yielded ``interrupted`` (``cluster-lost``) and Ray
never starts a local instance in its place. Ctrl-C or SIGTERM cancels every outstanding
task (``ray.cancel(force=True)``, which also ends the row's worker process) and keeps the
rows already finished.

Ray is imported only when an executor connects (and, on the nodes, by the tasks of
:mod:`bench.execute.ray.task`); :mod:`bench.execute.ray.resources` needs no Ray at all.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from bench.classifier import ClassifierSpec
from bench.errors import BenchError, Terminated, UsageError, describe_exception
from bench.execute import Progress, RowData, RowJob, RowOutcome
from bench.execute.ray import task as ray_task
from bench.execute.ray.node import DataSettings, content_digest
from bench.execute.ray.resources import (
    SLOT,
    ResourceRules,
    check_slots,
    describe_nodes,
    describe_request,
    fits,
    is_loopback,
    parse_resource_rules,
    parse_resources,
    reachable,
    task_resources,
)
from bench.execute.worker import _catch_signals, _restore_signals
from bench.results.model import Measurement, ParameterSnapshots, Status

if TYPE_CHECKING:
    from bench.plugins import Registry
    from bench.settings import RunConfig

FAILED, INTERRUPTED = Status.FAILED, Status.INTERRUPTED

__all__ = ["SLOT", "RayExecutor", "RowHandle", "parse_resources"]

WAIT_SECONDS = 600.0
POLL_SECONDS = 0.1
NODE_RETRIES = 1
"""How many times a row whose node died under it is measured again from its start."""
NODES_SECONDS = 2.0
"""How often waiting rows re-check that a live node can still run them."""
CLIENT_REFUSED = (
    "ray:// addresses (Ray Client) are not supported: a row streams its progress back through a Ray "
    "generator, which Ray Client cannot carry; run bench on a machine of the cluster (e.g. `ray job submit "
    "-- bench sweep ...`, see docs/ray.md) and give the GCS address (host:6379), or leave --ray-address out"
)
_INSTALL = "pip install 'bench-harness[ray]'"


@dataclass
class RowHandle:
    """One submitted row: its Ray task and what it has reported so far."""

    job: RowJob
    index: int
    options: dict[str, Any]
    progress: Progress | None = None
    ref: Any = None
    """The task's ``ObjectRefGenerator`` (``None`` when it was never submitted)."""
    submitted: float = field(default_factory=time.monotonic)
    submitted_at: float = field(default_factory=time.time)
    started: float | None = None
    """``time.monotonic()`` when the task reported it holds its resources on a node."""
    node: dict[str, Any] | None = None
    steps: int = 0
    waited: float = 0.0
    """Seconds it waited unstarted while none of the run's rows was running."""
    outcome: RowOutcome | None = None
    cancelled: bool = False
    request: dict[str, Any] | None = None
    retried: list[str] = field(default_factory=list)
    """The nodes that died under this row (it was submitted again after each)."""
    _yielded: bool = False

    @property
    def running(self) -> bool:
        return self.started is not None and self.outcome is None

    @property
    def where(self) -> str:
        if not self.node:
            return ""
        from bench.report.table import node_label

        return f" on node {node_label(self.node)}"


class RayExecutor:
    """``--executor ray``: rows as Ray tasks on the nodes of a cluster."""

    name: ClassVar[str] = "ray"
    isolation: ClassVar[str] = "process"
    """Every row still runs in a fresh worker process, on its node."""
    needs_prepared_copy: ClassVar[bool] = False
    """Each node prepares its own copy (checked against the run's digest)."""
    options: ClassVar[tuple[str, ...]] = ("timeout", "ray_address", "ray_resources", "ray_data_dir")

    def __init__(
        self,
        *,
        address: str | None = None,
        resources: Mapping[str, float] | ResourceRules | None = None,
        data_dir: str | None = None,
        wait_seconds: float = WAIT_SECONDS,
        slot: str = SLOT,
        roofline: bool = False,
    ) -> None:
        """``address`` is a Ray cluster's GCS address (``host:6379``); ``None`` attaches to
        ``$RAY_ADDRESS`` or starts a local Ray instance on 127.0.0.1 with one :data:`SLOT`.
        ``data_dir`` is where the *nodes* look for CIFAR-10 (``--ray-data-dir``); the
        parent's ``--data-dir`` is a path on this machine and is not passed on. ``resources``
        are the custom resources of every row, or rules per plugin and device
        (:func:`~bench.execute.ray.resources.parse_resource_rules`). With ``roofline`` each
        node also returns its own CPU ceilings (measured there once, then cached) with its rows."""
        self.address = address
        self.resources = resources if isinstance(resources, ResourceRules) else ResourceRules.every_row(resources)
        self.roofline = roofline
        self.data_dir = data_dir
        self.wait_seconds = wait_seconds
        self.slot = slot
        self.started_local = False
        self.phases: list[tuple[str, float]] = []
        """Set-up phases for the run's timeline (connecting, hashing the data)."""
        self._ray: Any = None
        self._gcs: str | None = None
        self._nodes: tuple[float, list[dict[str, Any]]] | None = None
        self._on_start: Any = None
        self._on_retry: Any = None
        self.node_retries = NODE_RETRIES
        self._owns_connection = False
        self._handles: list[RowHandle] = []
        self._digests: dict[DataSettings, str] = {}

    @classmethod
    def check(cls, config: RunConfig) -> None:
        """Refuse before any data is read: Ray missing, or options that cannot work."""
        if not _ray_installed():
            raise BenchError(f"--executor ray needs Ray, which is not installed: {_INSTALL}")
        parse_resource_rules(config.ray_resources)  # a UsageError names what is wrong
        if config.ray_address is not None and not config.ray_address.strip():
            raise UsageError("--ray-address must name a cluster (host:port), not ''")
        address = config.ray_address or os.environ.get("RAY_ADDRESS") or ""
        if address.strip().startswith("ray://"):
            raise UsageError(CLIENT_REFUSED)

    @classmethod
    def open(cls, config: RunConfig, registry: Registry) -> RayExecutor:
        executor = cls(address=config.ray_address, resources=parse_resource_rules(config.ray_resources),
                       data_dir=config.ray_data_dir, roofline=config.roofline)
        start = time.perf_counter()
        executor.connect()
        executor.phases.append(("ray: connect", time.perf_counter() - start))
        return executor

    def digest(self, data: RowData) -> str:
        """The sha256 every node's data must hash to (computed once per dataset)."""
        settings: DataSettings = data.settings  # the same settings give the same data
        key = settings if settings.dataset == "synthetic" else replace(settings, seed=0)  # CIFAR-10: any seed
        if key not in self._digests:
            start = time.perf_counter()
            self._digests[key] = content_digest(data.dataset)
            self.phases.append(("data: digest for the nodes' check", time.perf_counter() - start))
        return self._digests[key]

    # connection ---------------------------------------------------------------------

    def connect(self) -> None:
        """Attach to the cluster (or start the local instance); check that rows can run."""
        if self._ray is not None:
            return
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        if address is not None and address.strip().startswith("ray://"):
            raise UsageError(CLIENT_REFUSED)
        ray = _import_ray(local=address is None or is_loopback(address))
        quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if ray.is_initialized():
                pass  # the caller's own connection: use it, leave it open
            elif address is not None:
                reachable(address)  # Ray itself retries an unreachable address for minutes
                ray.init(address=address, **quiet)
                self._owns_connection = True
            else:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                ray.init(address="local", resources={self.slot: 1}, include_dashboard=False, **quiet)
                self._owns_connection = self.started_local = True
        except BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError from Ray
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise BenchError(f"could not connect to {where}: {_first_line(exc)}") from None
        self._ray = ray
        try:
            self._gcs = ray.get_runtime_context().gcs_address
        except Exception:  # noqa: BLE001 - only used to notice a lost cluster
            self._gcs = address
        try:
            check_slots(self.nodes(), self.slot, f"the Ray cluster at {address}" if address else "the Ray cluster")
        except BenchError:
            self.close()
            raise

    def nodes(self, fresh_for: float = 0.0) -> list[dict[str, Any]]:
        """The cluster's live nodes (``ray.nodes()``; one asked less than ``fresh_for``
        seconds ago is reused)."""
        assert self._ray is not None
        now = time.monotonic()
        if self._nodes is None or now - self._nodes[0] > fresh_for:
            self._nodes = (now, [node for node in self._ray.nodes() if node.get("Alive")])
        return self._nodes[1]

    def cluster_alive(self) -> bool:
        """Whether the cluster's head still answers (a quick check, no Ray call that retries)."""
        if not self._gcs or self.started_local:
            return True
        try:
            reachable(self._gcs, seconds=2.0)
        except BenchError:
            return False
        return True

    def close(self) -> None:
        """Cancel every outstanding row and disconnect (stopping a local instance started here)."""
        if self._ray is None:
            return
        if self.cluster_alive():
            self.cancel()
        if self._owns_connection:
            self._ray.shutdown()
        self._ray = None
        self._owns_connection = False

    def __enter__(self) -> RayExecutor:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # rows ---------------------------------------------------------------------------

    def submit(self, job: RowJob, data: RowData, progress: Progress | None = None) -> RowHandle:
        """Start a row's task now; it runs when a node has its resources free."""
        self.connect()
        nodes = self.nodes(fresh_for=1.0)
        options = task_resources(job, self.resources.for_job(job), self.slot, nodes)
        handle = RowHandle(job, len(self._handles), options, progress)
        self._handles.append(handle)
        if not any(fits(node.get("Resources", {}), options) for node in nodes):
            handle.outcome = self._failed(
                handle, FAILED,
                f"no node of the Ray cluster has what this row asks for ({describe_request(options)}); "
                f"nodes: {describe_nodes(nodes)}",
            )
            return handle
        settings: DataSettings = data.settings
        request = {
            "job": job.to_dict(),
            "data": {**asdict(settings), "data_dir": self.data_dir},
            "data_sha256": self.digest(data),
            "bench": _bench_version(),
            "roofline": self.roofline,
        }
        handle.request = request
        handle.ref = _remote(self._ray, "row").options(**options).remote(request)
        handle.submitted, handle.submitted_at = time.monotonic(), time.time()
        return handle

    def as_completed(self, handles: Iterable[RowHandle] | None = None) -> Iterator[RowHandle]:
        """Yield each handle (``handles``, default: every one submitted) as its row finishes,
        with ``handle.outcome`` set.

        On Ctrl-C or SIGTERM it cancels every outstanding task, yields the rows that were
        running as ``interrupted``, and raises KeyboardInterrupt (or
        :class:`bench.errors.Terminated`); rows that never started are dropped
        (``handle.cancelled``).
        """
        chosen = list(self._handles if handles is None else handles)
        for handle in chosen:
            if handle.outcome is not None and not handle._yielded:
                handle._yielded = True
                yield handle
        live = [h for h in chosen if h.outcome is None and h.ref is not None]
        received: list[int] = []
        previous = _catch_signals(lambda signum, frame: received.append(signum))
        handled = False
        try:
            last = checked = time.monotonic()
            while live:
                if received:
                    handled = True
                    yield from self._interrupt(live, received[0])
                    raise KeyboardInterrupt() if received[0] == signal.SIGINT else Terminated(
                        "SIGHUP" if received[0] == signal.SIGHUP else "SIGTERM")
                try:
                    ready, _ = self._ray.wait([h.ref for h in live], num_returns=1, timeout=POLL_SECONDS)
                except Exception:  # noqa: BLE001 - the connection to the cluster is gone
                    ready = []
                    checked = 0.0
                failed = False
                for handle in [h for h in live if any(h.ref is r for r in ready)]:
                    self._drain(handle)
                    failed = failed or (handle.outcome is not None and handle.outcome.measurement.status == FAILED)
                now = time.monotonic()
                if failed or now - checked >= NODES_SECONDS:
                    checked = now
                    if not self.cluster_alive():
                        yield from self._lost(live)
                        return
                    self._recheck_nodes(live)
                self._count_waits(live, now - last)
                last = now
                for handle in [h for h in live if h.outcome is not None]:
                    live.remove(handle)
                    handle._yielded = True
                    yield handle
        finally:
            _restore_signals(previous)
            if received and not handled:  # the consumer stopped early: deliver the signal now
                os.kill(os.getpid(), received[0])

    def cancel(self, handles: Iterable[RowHandle] | None = None) -> None:
        """Cancel the outstanding tasks (force: their Ray workers, and so rows, are killed)."""
        for handle in list(self._handles if handles is None else handles):
            if handle.outcome is None and handle.ref is not None and not handle.cancelled:
                handle.cancelled = True
                try:
                    self._ray.cancel(handle.ref, force=True)
                except Exception:  # noqa: BLE001 - already finished, or the cluster is gone
                    pass

    def run_row(self, job: RowJob, data: RowData, progress: Progress | None = None) -> RowOutcome:
        """One row alone: submit it and wait for it (an interrupt gives an interrupted row)."""
        handle = self.submit(job, data, progress)
        try:
            for done in self.as_completed([handle]):
                assert done.outcome is not None
                return done.outcome
        except (KeyboardInterrupt, Terminated) as exc:
            if handle.outcome is not None:
                return handle.outcome
            name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
            outcome = self._failed(handle, INTERRUPTED, f"interrupted ({name}) before it started on a node")
            return replace(outcome, interrupted=name)
        raise AssertionError("as_completed ended without the row")  # pragma: no cover

    def run_rows(
        self, items: Iterable[tuple[int, RowJob, RowData]], notify: Any = None,
        label: Callable[[int], str] | None = None,
    ) -> Iterator[tuple[int, RowOutcome]]:
        """Submit every row at once and yield ``(index, outcome)`` as each finishes: as many
        rows run at once as the cluster has free slots (one per node). ``notify`` hears a line
        as each row starts (with its node) and finishes (with the rows done so far), naming
        it by ``label(index)`` (default: ``row INDEX+1``)."""
        name = label or (lambda index: f"row {index + 1}")
        index_of: dict[int, int] = {}
        handles: list[RowHandle] = []
        for index, job, data in items:
            handle = self.submit(job, data)
            index_of[handle.index] = index
            handles.append(handle)
        total, done = len(handles), 0

        def started(handle: RowHandle) -> None:
            if notify is not None:
                running = sum(1 for h in handles if h.running)
                notify(f"{name(index_of[handle.index])} started{handle.where} ({done} of {total} done, "
                       f"{running} running)")

        def retried(handle: RowHandle) -> None:
            if notify is not None:
                notify(f"{name(index_of[handle.index])}: its node {handle.retried[-1]} died; measuring it again "
                       f"from the start")

        self._on_start, self._on_retry = started, retried
        try:
            for handle in self.as_completed(handles):
                assert handle.outcome is not None
                done += 1
                self._record_node_data(handle)
                if notify is not None:
                    notify(f"{name(index_of[handle.index])} {handle.outcome.measurement.status}{handle.where} "
                           f"({done} of {total} done)")
                yield index_of[handle.index], handle.outcome
        finally:
            self._on_start = self._on_retry = None

    def _record_node_data(self, handle: RowHandle) -> None:
        """The node's own data preparation, for the run's timeline (one line per node)."""
        data = (handle.node or {}).get("data") or {}
        if "seconds" in data:
            from bench.report.table import node_label

            how = "prepared copy reused" if data.get("reused_prepared_copy") else "read, verify, preprocess"
            self.phases.append((f"data on node {node_label(handle.node or {})}: {how}, check",
                                float(data["seconds"]) + float(data.get("seconds_check", 0.0))))

    def list_devices(self, spec: ClassifierSpec) -> list[str]:
        """The devices ``spec`` reports on a node (one with a GPU, if the cluster has one).

        The task takes a slot too: importing a framework never disturbs a timed row. A GPU
        row on Ray gets one GPU, so a GPU-capable plugin reports ``gpu:0`` there.
        """
        if spec.devices is None:
            return ["cpu"]
        self.connect()
        gpu = any(n.get("Resources", {}).get("GPU", 0) >= 1 and n.get("Resources", {}).get(self.slot, 0) >= 1
                  for n in self.nodes())
        custom = self.resources.for_names(spec.name)
        options = {"num_cpus": 1, "num_gpus": 1 if gpu else 0, "resources": {self.slot: 1.0, **custom}}
        ref = _remote(self._ray, "devices").options(**options).remote(spec.name)
        try:
            return list(self._ray.get(ref, timeout=self.wait_seconds))
        except Exception as exc:  # noqa: BLE001 - GetTimeoutError, RayTaskError, worker or node death
            self._ray.cancel(ref, force=True)
            raise BenchError(f"{spec.name}: listing its devices on the Ray cluster failed: {_describe_ray_error(exc)}"
                             ) from None

    # internals ----------------------------------------------------------------------

    def _drain(self, handle: RowHandle) -> None:
        """Read every message the task has sent so far."""
        while handle.outcome is None:
            try:
                ref = next(handle.ref)
                message = self._ray.get(ref)
            except StopIteration:
                handle.outcome = self._failed(handle, FAILED, f"the Ray task ended without a result{handle.where}")
                return
            except Exception as exc:  # noqa: BLE001 - every Ray failure becomes the row's error
                if _node_died(exc) and len(handle.retried) < self.node_retries and not handle.cancelled:
                    self._resubmit(handle)
                    return
                handle.outcome = self._failed(handle, FAILED, f"{_describe_ray_error(exc)}{handle.where}")
                return
            self._receive(handle, message)
            if handle.outcome is not None:
                return
            ready, _ = self._ray.wait([handle.ref], timeout=0)
            if not ready:
                return

    def _resubmit(self, handle: RowHandle) -> None:
        """Measure the row again from its start on another node (its node died under it:
        nothing of the lost attempt is kept, so this is safe)."""
        from bench.report.table import node_label

        handle.retried.append(node_label(handle.node))
        if self._on_retry is not None:
            self._on_retry(handle)
        handle.started, handle.node, handle.steps, handle.waited = None, None, 0, 0.0
        handle.ref = _remote(self._ray, "row").options(**handle.options).remote(handle.request)

    def _receive(self, handle: RowHandle, message: Mapping[str, Any]) -> None:
        event = message.get("event")
        if event == "started":
            handle.started = time.monotonic()
            handle.node = dict(message.get("node") or {})
            if self._on_start is not None:
                self._on_start(handle)
        elif event == "progress":
            steps = int(message.get("steps", 0))
            handle.steps += steps
            if handle.progress is not None:
                handle.progress(steps)
        elif event == "done":
            handle.node = {**(handle.node or {}), **(message.get("node") or {}), "data": message.get("data"),
                           "submitted_at": handle.submitted_at, "received_at": time.time()}
            if handle.retried:
                handle.node["retried_after_node_died"] = list(handle.retried)
            if message.get("ceilings"):
                handle.node["ceilings"] = {"cpu": message["ceilings"]}
            handle.outcome = self._finished(handle, message)
        elif event == "error":
            handle.node = {**(handle.node or {}), **(message.get("node") or {})}
            handle.outcome = self._failed(handle, FAILED, f"{message.get('message')}{handle.where}")

    def _finished(self, handle: RowHandle, message: Mapping[str, Any]) -> RowOutcome:
        measurement = Measurement.from_dict(message["row"], "the node's measurement")
        parameters = ParameterSnapshots(message.get("params_at_parity"), message.get("params_final"))
        return RowOutcome(replace(measurement, node=handle.node), parameters, dict(message.get("environment") or {}),
                          message.get("interrupted"))

    def _failed(self, handle: RowHandle, status: Status, error: str) -> RowOutcome:
        return RowOutcome(Measurement(status=status, error=error, steps_completed=handle.steps, node=handle.node))

    def _count_waits(self, live: list[RowHandle], seconds: float) -> None:
        """Charge waiting time to unstarted rows while none of this run's rows is running."""
        if any(h.running for h in self._handles):
            return
        for handle in live:
            if handle.started is None and handle.outcome is None:
                handle.waited += seconds
                if handle.waited > self.wait_seconds:
                    self.cancel([handle])
                    handle.outcome = self._failed(
                        handle, FAILED,
                        f"no node had the resources free ({describe_request(handle.options)}) for "
                        f"{self.wait_seconds:g} s while none of this run's rows was running "
                        f"(held by other work on the cluster, or its node left)",
                    )

    def _recheck_nodes(self, live: list[RowHandle]) -> None:
        """Fail the waiting rows that no live node can run any more (their node died)."""
        waiting = [h for h in live if h.started is None and h.outcome is None]
        if not waiting:
            return
        nodes = self.nodes()
        for handle in waiting:
            if not any(fits(node.get("Resources", {}), handle.options) for node in nodes):
                self.cancel([handle])
                handle.outcome = self._failed(
                    handle, FAILED,
                    f"no live node of the Ray cluster can run this row any more ({describe_request(handle.options)}; "
                    f"nodes: {describe_nodes(nodes)}): the node(s) that could have left",
                )

    def _lost(self, live: list[RowHandle]) -> Iterator[RowHandle]:
        """The cluster's head is gone: every outstanding row is yielded ``interrupted``
        (``cluster-lost``; a resumed run measures it again); finished rows stay as they are."""
        for handle in live:
            handle.cancelled = True
            if handle.outcome is not None and handle.outcome.measurement.status == FAILED and not handle._yielded:
                handle.outcome = None  # failed because the cluster went away
            if handle.outcome is None:
                note = f" (step {handle.steps} of {handle.job.schedule.steps})" if handle.steps else ""
                text = f"the Ray cluster was lost{handle.where}{note}" if handle.running else (
                    "the Ray cluster was lost before the row started")
                handle.outcome = replace(self._failed(handle, INTERRUPTED, text), interrupted="cluster-lost")
            if not handle._yielded:
                handle._yielded = True
                yield handle

    def _interrupt(self, live: list[RowHandle], signum: int) -> Iterator[RowHandle]:
        name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
        self.cancel(live)
        for handle in live:
            if handle.running:
                note = f" (step {handle.steps} of {handle.job.schedule.steps})" if handle.steps else ""
                outcome = self._failed(handle, INTERRUPTED, f"interrupted ({name}){handle.where}{note}")
                handle.outcome = replace(outcome, interrupted=name)
                handle._yielded = True
                yield handle


@functools.cache
def _bench_version() -> dict[str, str | None]:
    """This bench's version and git commit, which every node must match."""
    import bench
    from bench.machine import git_commit

    return {"version": bench.__version__, "git_commit": git_commit()}


# Ray itself -------------------------------------------------------------------------------


def _import_ray(local: bool) -> Any:
    """Import Ray; for a cluster on this machine's loopback, keep Ray on 127.0.0.1.

    Ray rewrites 127.0.0.1 to the machine's network address (and then cannot reach a
    cluster bound to loopback, or binds a new one to every interface) unless it treats
    the machine as single-node, which ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` asks for.
    """
    imported = "ray" in sys.modules
    os.environ["RAY_ENABLE_AUTO_CONNECT"] = "0"  # a lost cluster must not start a new local instance here
    if local:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise BenchError(f"--executor ray needs Ray, which is not installed: {_INSTALL}") from None
    hook = getattr(getattr(ray, "_private", None), "auto_init_hook", None)
    if hook is not None and hasattr(hook, "enable_auto_connect"):
        hook.enable_auto_connect = False
    if local and imported:
        constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
        if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
            constants.ENABLE_RAY_CLUSTER = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] not in ("0", "false", "False")
    return ray


_REMOTES: dict[str, Any] = {}


def _remote(ray: Any, kind: str) -> Any:
    if kind not in _REMOTES:
        function = ray_task.row_task if kind == "row" else ray_task.devices_task
        _REMOTES[kind] = ray.remote(max_retries=0)(function)
    return _REMOTES[kind]


def _node_died(exc: BaseException) -> bool:
    import ray.exceptions as rex

    return isinstance(exc, rex.NodeDiedError)


def _describe_ray_error(exc: BaseException) -> str:
    """One line for a Ray failure: the task's own exception, or what happened to it."""
    import ray.exceptions as rex

    if isinstance(exc, rex.RayTaskError) and getattr(exc, "cause", None) is not None:
        return describe_exception(exc.cause)
    known = (
        (rex.TaskCancelledError, "the Ray task was cancelled"),
        (rex.WorkerCrashedError, "the Ray worker running the row died"),
        (rex.NodeDiedError, "the node running the row died"),
        (rex.OutOfMemoryError, "Ray killed the row's worker: its node ran out of memory"),
        (rex.LocalRayletDiedError, "this machine's Ray raylet died"),
        (rex.OwnerDiedError, "the Ray task's owner died"),
        (rex.ObjectLostError, "the row's result was lost (its node left the cluster)"),
        (rex.GetTimeoutError, "no node answered in time"),
    )
    for kind, text in known:
        if isinstance(exc, kind):
            return f"ray: {text} ({type(exc).__name__})"
    return f"ray: {type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


def _ray_installed() -> bool:
    """Whether ``import ray`` can work, without importing it."""
    import importlib.util

    if sys.modules.get("ray") is not None:
        return True
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False
