"""--executor ray on a real two-node Ray cluster, bound to 127.0.0.1 only (synthetic data).

Both nodes run on this machine (``ray.cluster_utils.Cluster``, one CPU and one ``bench_slot``
each); the cluster is started once for the module and always stopped. Skipped when Ray
is not installed (``pip install -e ".[ray]"``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bench.classifier import SetupConfig
from bench.dataset import load_dataset
from bench.dataset.prepared import prepare
from bench.errors import BenchError
from bench.execute import RowData
from bench.execute.ray.node import DataSettings
from bench.execute.worker import WorkerExecutor
from bench.job import RowJob, SchedulePlan
from bench.measure import FAILED, INTERRUPTED, OK
from bench.results.analysis import max_abs_diff
from bench.schedule import build_schedule

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")

LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1", "::1")
CLOSED = "http://127.0.0.1:9"
ENVIRONMENT = {
    # Ray keeps 127.0.0.1 as the node address instead of rewriting it to the machine's.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    # Ray's head probes cloud metadata addresses over HTTP at start; send that to a closed
    # loopback port, so that nothing here ever reaches another address.
    **{name: CLOSED for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")},
    **{name: "127.0.0.1,localhost" for name in ("no_proxy", "NO_PROXY")},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head and one worker node on 127.0.0.1, each with 1 CPU and one bench_slot."""
    patch = pytest.MonkeyPatch()
    temp = tempfile.mkdtemp(prefix="bray-")  # short: Ray's socket paths live under it
    # RAY_TMPDIR: Ray's files of "the current cluster" go under this test's own directory too.
    for name, value in {**ENVIRONMENT, "BENCH_CACHE_DIR": os.path.join(temp, "cache"), "RAY_TMPDIR": temp}.items():
        patch.setenv(name, value)
    import ray
    from ray.cluster_utils import Cluster

    made = None
    try:
        made = Cluster(
            initialize_head=True,
            head_node_args={"node_ip_address": "127.0.0.1", "num_cpus": 1, "resources": {"bench_slot": 1},
                            "include_dashboard": False, "temp_dir": os.path.join(temp, "ray")},
        )
        made.add_node(node_ip_address="127.0.0.1", num_cpus=1, resources={"bench_slot": 1})
        ray.init(address=made.address, log_to_driver=False)
        yield made
    finally:
        ray.shutdown()
        if made is not None:
            made.shutdown()
        patch.undo()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", seed=0)


@dataclass
class Rows:
    """An executor on the test cluster with the run's data and a schedule of ``steps`` steps."""

    executor: Any
    data: RowData
    schedule: Any

    def job(self, **setup: Any) -> RowJob:
        dataset = self.data.dataset
        config = SetupConfig(0.005, 100, dataset.input_dim, dataset.num_classes, **setup)
        return RowJob("numpy", "cpu", config, SchedulePlan.of(self.schedule))

    def run_row(self, **setup: Any) -> Any:
        return self.executor.run_row(self.job(**setup), self.data)

    def submit(self, progress: Any = None) -> Any:
        return self.executor.submit(self.job(), self.data, progress)

    def as_completed(self, handles: Any = None) -> Any:
        return self.executor.as_completed(handles)


def _executor(cluster, dataset, steps=30, **options) -> Rows:
    from bench.execute.ray import RayExecutor

    schedule = build_schedule(len(dataset.train_labels), steps, 100, 0)
    data = options.pop("data", DataSettings(dataset="synthetic", seed=0))
    executor = RayExecutor(address=cluster.address, **options)
    executor.connect()
    return Rows(executor, RowData(dataset, None, data), schedule)


def _descendants_running(pattern: str) -> list[Any]:
    import psutil

    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if any(pattern in part for part in proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def _sockets(proc: Any) -> list[Any]:
    """The process's inet sockets (psutil < 6 calls it ``connections``)."""
    return (getattr(proc, "net_connections", None) or proc.connections)(kind="inet")


def _wait_until(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_rows_on_the_cluster_equal_local_rows(cluster, synthetic):
    executor = _executor(cluster, synthetic)
    job = executor.job()
    remote = executor.executor.run_row(job, executor.data)
    local = WorkerExecutor().run_row(job, RowData(synthetic, prepare(synthetic)))
    a, b = remote.measurement, local.measurement
    assert a.status == b.status == OK, (a.error, b.error)
    assert a.loss_curve == b.loss_curve and a.final_loss == b.final_loss
    assert a.test_accuracy == b.test_accuracy and a.steps_completed == b.steps_completed == 30
    assert max_abs_diff(remote.parameters.at_parity, local.parameters.at_parity) == 0.0
    assert max_abs_diff(remote.parameters.final, local.parameters.final) == 0.0
    node = a.node
    assert node["data"]["batch_schedule_sha256"] == job.schedule.sha256
    assert node["data"]["dataset_sha256"] == executor.executor.digest(executor.data)
    assert node["hostname"] and node["ray_node_id"] and node["ray_node_ip"] == "127.0.0.1"
    assert node["machine"]["hostname"] == node["hostname"] and node["machine"]["cpu_count_logical"]
    assert remote.environment == local.environment
    assert local.measurement.node is None


def test_rows_stream_back_and_a_node_times_one_row_at_a_time(cluster, synthetic):
    executor = _executor(cluster, synthetic)
    seen: list[int] = []
    handles = [executor.submit(progress=seen.append) for _ in range(3)]
    finished = list(executor.as_completed())
    assert sorted(h.index for h in finished) == [h.index for h in handles]
    assert all(h.outcome.measurement.status == OK for h in finished)
    assert sum(seen) == 3 * 30
    rows = [h.outcome.measurement for h in finished]
    assert len({r.node["ray_node_id"] for r in rows}) == 2  # both nodes measured
    for first in rows:
        for second in rows:
            if first is not second and first.node["ray_node_id"] == second.node["ray_node_id"]:
                assert (first.node["finished_at"] <= second.node["started_at"]
                        or second.node["finished_at"] <= first.node["started_at"])


def test_run_rows_measures_one_row_per_node_at_once_and_yields_each_with_its_index(cluster, synthetic):
    rows = _executor(cluster, synthetic, steps=300)
    lines: list[str] = []
    found = dict(rows.executor.run_rows(((i, rows.job(), rows.data) for i in (3, 5, 7, 9)), lines.append))
    assert sorted(found) == [3, 5, 7, 9]
    measured = [outcome.measurement for outcome in found.values()]
    assert all(m.status == OK for m in measured), [m.error for m in measured]
    assert all(m.loss_curve == measured[0].loss_curve for m in measured)  # the same row four times
    spans = [(m.node["ray_node_id"], m.node["started_at"], m.node["finished_at"]) for m in measured]
    assert len({node for node, _, _ in spans}) == 2
    for a in spans:
        for b in spans:
            if a is not b and a[0] == b[0]:
                assert a[2] <= b[1] or b[2] <= a[1]  # a node times one row at a time
    assert any(a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for a in spans for b in spans)  # both nodes at once
    assert all(h.options["num_cpus"] == 1 for h in rows.executor._handles)  # the whole (one-CPU) node
    assert sum("started on node" in line for line in lines) == 4 and any("(4 of 4 done)" in line for line in lines)


def test_ray_listens_on_loopback_only(cluster, synthetic):
    import psutil

    _executor(cluster, synthetic).run_row()  # workers exist now
    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    assert any("raylet" in " ".join(p.cmdline()) for p in processes)
    bound = []
    for proc in processes:
        try:
            sockets = _sockets(proc)
            bound += [(proc.name(), c.laddr.ip, c.laddr.port) for c in sockets if c.laddr]
        except psutil.Error:
            continue
    assert bound and all(ip in LOOPBACK for _, ip, _ in bound), [b for b in bound if b[1] not in LOOPBACK]


def _when_training(handle, action) -> threading.Thread:
    """Run ``action()`` in a thread once ``handle`` reports training steps (the main thread
    reads the task's messages in ``as_completed``)."""

    def watch() -> None:
        if _wait_until(lambda: handle.steps > 0 or handle.outcome is not None, 60) and handle.outcome is None:
            action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_dead_ray_worker_is_a_failed_row_and_the_run_goes_on(cluster, synthetic):
    executor = _executor(cluster, synthetic, steps=40000)
    long = executor.submit()
    children: list[Any] = []

    def kill_the_ray_worker() -> None:
        children.extend(_descendants_running("bench.execute.child"))
        os.kill(long.node["ray_worker_pid"], signal.SIGKILL)

    watcher = _when_training(long, kill_the_ray_worker)
    (done,) = list(executor.as_completed([long]))
    watcher.join()
    row = done.outcome.measurement
    assert row.status == FAILED and "Ray worker running the row died" in row.error and "on node" in row.error
    assert row.node["hostname"] and 0 < row.steps_completed < 40000
    assert children  # the row ran in its own worker process, which died with the Ray worker
    assert _wait_until(lambda: not _descendants_running("bench.execute.child"), 10)
    assert _executor(cluster, synthetic).run_row().measurement.status == OK


def test_ctrl_c_cancels_the_tasks_and_keeps_finished_rows(cluster, synthetic):
    quick = _executor(cluster, synthetic)
    executor = _executor(cluster, synthetic, steps=40000)
    finished = quick.run_row()
    long = executor.submit()
    watcher = _when_training(long, lambda: os.kill(os.getpid(), signal.SIGINT))
    rows = []
    with pytest.raises(KeyboardInterrupt):
        for handle in executor.as_completed():
            rows.append(handle.outcome)
    watcher.join()
    assert [o.measurement.status for o in rows] == [INTERRUPTED] and rows[0].interrupted == "SIGINT"
    assert "interrupted (SIGINT) on node" in rows[0].measurement.error
    assert finished.measurement.status == OK
    assert _wait_until(lambda: not _descendants_running("bench.execute.child"), 10)
    assert quick.run_row().measurement.status == OK  # the slot is free again


def test_a_node_without_the_data_gives_a_failed_row(cluster, synthetic, tmp_path):
    data = DataSettings(dataset="cifar10", data_dir=str(tmp_path / "none"), offline=True)
    row = _executor(cluster, synthetic, data=data).run_row().measurement
    assert row.status == FAILED and row.error.startswith("DataError: CIFAR-10 not found in") and "on node" in row.error


def test_no_node_with_the_resources_fails_the_row_at_once(cluster, synthetic):
    executor = _executor(cluster, synthetic, resources={"A100": 1})
    start = time.monotonic()
    row = executor.run_row().measurement
    assert time.monotonic() - start < 2
    assert row.status == FAILED and "asks for (CPU 1, bench_slot 1, A100 1)" in row.error
    two_threads = _executor(cluster, synthetic).run_row(threads=2).measurement
    assert two_threads.status == FAILED and "CPU 2" in two_threads.error


def test_a_row_that_never_gets_a_free_slot_fails_after_the_wait(cluster, synthetic):
    import ray

    @ray.remote(num_cpus=0, resources={"bench_slot": 1})
    class Holder:
        def ping(self) -> int:
            return 1

    holders = [Holder.remote() for _ in range(2)]
    try:
        ray.get([h.ping.remote() for h in holders], timeout=30)
        row = _executor(cluster, synthetic, wait_seconds=1.0).run_row().measurement
    finally:
        for holder in holders:
            ray.kill(holder)
    assert row.status == FAILED and "no node had the resources free" in row.error and "for 1 s" in row.error


def test_a_cluster_without_bench_slots_is_refused(cluster, synthetic):
    with pytest.raises(BenchError, match=r"no node of the Ray cluster at .* has the no_such_slot resource"):
        _executor(cluster, synthetic, slot="no_such_slot")


LOCAL_RUN = '''
import json, psutil
from bench.classifier import SetupConfig
from bench.dataset import load_dataset
from bench.execute import RowData
from bench.execute.ray import RayExecutor
from bench.execute.ray.node import DataSettings
from bench.job import RowJob, SchedulePlan
from bench.schedule import build_schedule

dataset = load_dataset("synthetic", seed=0)
schedule = build_schedule(len(dataset.train_labels), 20, 100, 0)
with RayExecutor() as executor:
    job = RowJob("numpy", "cpu", SetupConfig(0.005, 100, dataset.input_dim, dataset.num_classes),
                 SchedulePlan.of(schedule))
    row = executor.run_row(job, RowData(dataset, None, DataSettings(dataset="synthetic"))).measurement
    ray_processes = [p for p in psutil.Process().children(recursive=True) if "raylet" in " ".join(p.cmdline())
                     or "gcs_server" in " ".join(p.cmdline())]
    bound = [c.laddr.ip for p in [psutil.Process(), *psutil.Process().children(recursive=True)]
             for c in (getattr(p, "net_connections", None) or p.connections)(kind="inet") if c.laddr]
    print(json.dumps({"started_local": executor.started_local, "status": row.status, "error": row.error,
                      "node_ip": row.node["ray_node_ip"], "bound": bound, "pids": [p.pid for p in ray_processes],
                      "slots": [n["Resources"].get("bench_slot") for n in executor.nodes()]}))
'''


def test_without_an_address_a_local_instance_on_loopback_runs_the_rows_and_stops(tmp_path):
    """The default: no --ray-address and no $RAY_ADDRESS start a local instance with one slot."""
    import json
    import subprocess
    import sys

    import psutil

    env = {key: value for key, value in os.environ.items() if key not in ("RAY_ADDRESS", *ENVIRONMENT)}
    env.update({key: value for key, value in ENVIRONMENT.items() if key != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"})
    env.update(HOME=str(tmp_path), BENCH_CACHE_DIR=str(tmp_path / "cache"))  # Ray writes ~/.ray/auth_token
    done = subprocess.run([sys.executable, "-c", LOCAL_RUN], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["started_local"] and result["status"] == OK, result
    assert result["node_ip"] == "127.0.0.1" and result["slots"] == [1.0]
    assert result["bound"] and set(result["bound"]) <= set(LOOPBACK), result["bound"]
    assert result["pids"] and _wait_until(lambda: not any(psutil.pid_exists(p) for p in result["pids"]), 10)


def test_a_sweep_of_twelve_rows_on_the_cluster_matches_the_local_sweep(cluster, tmp_path, capsys):
    """Through the command line (``bench sweep --executor ray``): 12 rows on the cluster, each
    with the same settings, schedule and numbers as the same row of the local sweep."""
    from bench.cli import main
    from bench.results.storage import load_run

    common = ["sweep", "--plugins", "numpy", "--batch-size", "50,100", "--seed", "0,1,2", "--placement",
              "feed,resident", "--dataset", "synthetic", "--steps", "12", "--quiet", "--no-roofline",
              "--results-dir", str(tmp_path / "r")]
    assert main([*common, "--executor", "ray", "--ray-address", cluster.address, "--output",
                 str(tmp_path / "ray.json")]) == 0
    shown = capsys.readouterr()
    assert main([*common, "--output", str(tmp_path / "local.json")]) == 0
    capsys.readouterr()
    remote, local = load_run(tmp_path / "ray.json"), load_run(tmp_path / "local.json")
    assert len(remote.results) == len(local.results) == 12
    for a, b in zip(remote.results, local.results, strict=True):
        assert a.settings == b.settings and a.schedule_sha256 == b.schedule_sha256
        assert a.status == b.status == OK and a.loss_curve == b.loss_curve and a.test_accuracy == b.test_accuracy
        assert a.node is not None and b.node is None
    spans = [(r.node["ray_node_id"], r.node["started_at"], r.node["finished_at"]) for r in remote.results]
    assert any(a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for a in spans for b in spans)  # rows in parallel
    timeline = [label for label, _ in remote.timeline]
    assert sum(label.startswith("data on node ") for label in timeline) == 2  # each node's own preparation
    assert sum(label.startswith("data: digest") for label in timeline) == 1  # one line, however many seeds
    header = next(line for line in shown.out.splitlines() if line.startswith("plugin"))
    assert "node" in header.split()


def test_repeats_on_the_cluster_join_each_row_and_match_the_local_rows(cluster, tmp_path, capsys):
    """``--repeat 3 --executor ray``: every process of every row is submitted at once; each
    row gathers its three processes (steps/s each, an interval over them) and keeps the
    first process's numbers, which equal the local row's."""
    from bench.cli import main
    from bench.results.storage import load_run

    common = ["sweep", "--plugins", "numpy", "--seed", "0,1", "--dataset", "synthetic", "--steps", "12",
              "--no-roofline", "--results-dir", str(tmp_path / "r")]
    assert main([*common, "--repeat", "3", "--executor", "ray", "--ray-address", cluster.address,
                 "--output", str(tmp_path / "ray.json")]) == 0
    shown = capsys.readouterr()
    assert main([*common, "--quiet", "--output", str(tmp_path / "local.json")]) == 0
    capsys.readouterr()
    remote, local = load_run(tmp_path / "ray.json"), load_run(tmp_path / "local.json")
    assert len(remote.results) == len(local.results) == 2
    for a, b in zip(remote.results, local.results, strict=True):
        assert a.status == b.status == OK and a.settings == b.settings
        assert a.loss_curve == b.loss_curve and a.test_accuracy == b.test_accuracy
        assert a.repeats == 3 and len(a.process_steps_per_second) == 3
        assert a.steps_per_second_ci95 is not None and a.steps_per_second_ci95_basis == "processes"
    assert "row 2 [3/3] ok on node" in shown.err
