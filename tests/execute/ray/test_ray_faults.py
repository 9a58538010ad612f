"""--executor ray when things go wrong: a node dies mid-row, the head dies, a wrong port;
and rows pinned to nodes by per-plugin resources.

Clusters are bound to 127.0.0.1 only, with their files under a temporary directory of
their own (``RAY_TMPDIR``); each test stops exactly the nodes it started (never
``ray stop``). Skipped when Ray is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.classifier import SetupConfig
from bench.dataset import load_dataset
from bench.execute import RowData
from bench.execute.ray.node import DataSettings
from bench.execute.ray.resources import parse_resource_rules
from bench.job import RowJob, SchedulePlan
from bench.measure import FAILED, OK
from bench.report.table import node_label
from bench.schedule import build_schedule

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")

CLOSED = "http://127.0.0.1:9"
ENVIRONMENT = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "BENCH_OFFLINE": "1",
    **{name: CLOSED for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")},
    **{name: "127.0.0.1,localhost" for name in ("no_proxy", "NO_PROXY")},
}


def _start(temp: str, head_slot: bool, *nodes: dict[str, float]) -> Any:
    """A head (with a bench_slot or not) and one node per resource dict (each with 1 CPU)."""
    from ray.cluster_utils import Cluster

    os.makedirs(os.path.join(temp, "ray"), exist_ok=True)
    made = Cluster(initialize_head=True, head_node_args={
        "node_ip_address": "127.0.0.1", "num_cpus": 1, "resources": {"bench_slot": 1} if head_slot else {},
        "include_dashboard": False, "temp_dir": os.path.join(temp, "ray")})
    try:
        for resources in nodes:
            made.add_node(node_ip_address="127.0.0.1", num_cpus=1, resources={"bench_slot": 1, **resources})
        made.wait_for_nodes()
    except BaseException:
        made.shutdown()
        raise
    return made


@pytest.fixture
def temp() -> Iterator[str]:
    patch = pytest.MonkeyPatch()
    made = tempfile.mkdtemp(prefix="bray-")  # short: Ray's socket paths live under it
    for name, value in {**ENVIRONMENT, "BENCH_CACHE_DIR": os.path.join(made, "cache"), "RAY_TMPDIR": made}.items():
        patch.setenv(name, value)
    try:
        yield made
    finally:
        patch.undo()
        shutil.rmtree(made, ignore_errors=True)


@pytest.fixture(scope="module")
def pools() -> Iterator[Any]:
    """A head without a slot and two one-CPU nodes, ``pool_a`` and ``pool_b``."""
    patch = pytest.MonkeyPatch()
    made = tempfile.mkdtemp(prefix="bray-")
    for name, value in {**ENVIRONMENT, "BENCH_CACHE_DIR": os.path.join(made, "cache"), "RAY_TMPDIR": made}.items():
        patch.setenv(name, value)
    import ray

    cluster = None
    try:
        cluster = _start(made, False, {"pool_a": 1}, {"pool_b": 1})
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        patch.undo()
        shutil.rmtree(made, ignore_errors=True)


class _Rows:
    """Rows of ``steps`` steps on ``cluster``, asking for ``resources`` (``--ray-resources``)."""

    def __init__(self, cluster: Any, steps: int, resources: str | None = None) -> None:
        from bench.execute.ray import RayExecutor

        dataset = load_dataset("synthetic", seed=0)
        self.data = RowData(dataset, None, DataSettings(dataset="synthetic", seed=0))
        self.schedule = build_schedule(len(dataset.train_labels), steps, 100, 0)
        self.executor = RayExecutor(address=cluster.address, resources=parse_resource_rules(resources))
        self.executor.connect()

    def job(self) -> RowJob:
        dataset = self.data.dataset
        setup = SetupConfig(0.005, 100, dataset.input_dim, dataset.num_classes)
        return RowJob("numpy", "cpu", setup, SchedulePlan.of(self.schedule))

    def submit(self) -> Any:
        return self.executor.submit(self.job(), self.data)

    def as_completed(self, handles: Any = None) -> Any:
        return self.executor.as_completed(handles)


_rows = _Rows


def _node_of(cluster: Any, node_id: str) -> Any:
    return next(node for node in cluster.list_all_nodes() if node.node_id == node_id)


def _kill_when_training(cluster: Any, handle: Any, killed: list[str]) -> threading.Thread:
    def watch() -> None:
        end = time.monotonic() + 120
        while time.monotonic() < end and handle.steps == 0 and handle.outcome is None:
            time.sleep(0.05)
        if handle.outcome is None and handle.node:
            killed.append(node_label(handle.node))
            cluster.remove_node(_node_of(cluster, handle.node["ray_node_id"]), allow_graceful=False)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_rows_go_to_the_nodes_their_plugin_resources_name(pools):
    by_pool = {}
    for pool in ("pool_a", "pool_b"):
        rows = _rows(pools, 20, f'numpy:{{"{pool}": 1}}; tf-*:{{"GPU_TYPE_A100": 1}}')
        found = dict(rows.executor.run_rows((i, rows.job(), rows.data) for i in range(2)))
        assert all(o.measurement.status == OK for o in found.values())
        by_pool[pool] = {o.measurement.node["ray_node_id"] for o in found.values()}
    assert len(by_pool["pool_a"]) == len(by_pool["pool_b"]) == 1 and by_pool["pool_a"] != by_pool["pool_b"]


def test_a_node_killed_mid_row_measures_the_row_again_elsewhere_and_a_row_waiting_for_it_fails_soon(pools):
    rows = _rows(pools, 4000)
    handle = rows.submit()
    killed: list[str] = []
    watcher = _kill_when_training(pools, handle, killed)
    (done,) = list(rows.as_completed([handle]))
    watcher.join()
    row = done.outcome.measurement
    assert killed and row.status == OK, row.error
    assert row.node["retried_after_node_died"] == killed and node_label(row.node) != killed[0]

    # the one node left: a row on it and one waiting for it; it dies
    survivor = next(n for n in rows.executor.nodes() if n["NodeID"] == row.node["ray_node_id"])
    pool = "pool_a" if "pool_a" in survivor["Resources"] else "pool_b"
    pinned = _rows(pools, 40000, f'{{"{pool}": 1}}')
    first, second = pinned.submit(), pinned.submit()
    killed = []
    watcher = _kill_when_training(pools, first, killed)
    start = time.monotonic()
    finished = list(pinned.as_completed([first, second]))
    watcher.join()
    assert killed and time.monotonic() - start < 90  # not the 600 s wait for a free slot
    assert [h.outcome.measurement.status for h in finished] == [FAILED, FAILED]
    assert all("no live node of the Ray cluster can run this row any more" in h.outcome.measurement.error
               for h in finished)


def _bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


def test_killing_the_head_gives_an_interrupted_document_with_every_finished_row_and_resume_completes_it(temp):
    cluster = _start(temp, True, {})
    out = Path(temp) / "run.json"
    sweep = ["sweep", "--plugins", "numpy", "--dataset", "synthetic", "--seed", "0,1,2,3", "--steps", "3000",
             "--no-roofline", "--results-dir", str(Path(temp) / "r")]
    try:
        process = subprocess.Popen([sys.executable, "-m", "bench", *sweep, "--quiet", "--output", str(out), "--executor", "ray",
                                    "--ray-address", cluster.address],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 180
        while time.monotonic() < end and not (out.exists() and json.loads(out.read_text())["results"]):
            time.sleep(0.1)
        cluster.head_node.kill_all_processes(check_alive=False, allow_graceful=False)
        _, stderr = process.communicate(timeout=120)
    finally:
        cluster.shutdown()
    document = json.loads(out.read_text())
    statuses = [row["status"] for row in document["results"]]
    assert process.returncode == 1 and document["interrupted"] == "cluster-lost", stderr[-2000:]
    assert statuses.count("ok") >= 1 and set(statuses) <= {"ok", "interrupted"}, statuses
    assert "local Ray instance" not in stderr and "Broken pipe" not in stderr

    resumed = _bench(*sweep, "--output", str(Path(temp) / "resumed.json"), "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    kept = statuses.count("ok")
    assert f"resuming: {kept} finished row(s) kept, {4 - kept} to measure" in resumed.stderr
    rows = json.loads((Path(temp) / "resumed.json").read_text())["results"]
    assert [row["status"] for row in rows] == ["ok"] * 4
    assert sorted(row["settings"]["seed"] for row in rows) == [0, 1, 2, 3]
    finished = [row for row in document["results"] if row["status"] == "ok"]
    assert all(row in rows for row in finished)  # kept exactly as they were


def test_a_port_that_is_not_a_ray_cluster_is_a_clear_error_at_once(temp):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        start = time.monotonic()
        done = _bench("run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "5", "--no-roofline",
                      "--results-dir", str(Path(temp) / "r"), "--executor", "ray", "--ray-address",
                      f"127.0.0.1:{server.getsockname()[1]}", timeout=60)
    assert done.returncode == 1 and time.monotonic() - start < 40
    assert "is not a Ray cluster: something listens there" in done.stderr and "Traceback" not in done.stderr


def test_a_ray_client_address_is_refused_before_anything_runs(temp):
    done = _bench("run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "5", "--results-dir",
                  str(Path(temp) / "r"), "--executor", "ray", "--ray-address", "ray://127.0.0.1:10001", timeout=60)
    assert done.returncode == 2 and "ray:// addresses (Ray Client) are not supported" in done.stderr
    assert not (Path(temp) / "r").exists()
