"""bench launched through Ray's Jobs API (``ray job submit``), as docs/ray.md shows it, on a
one-node cluster bound to 127.0.0.1 with its dashboard (which serves the Jobs API).

Needs ``ray[default]`` (the dashboard's dependencies; ``pip install -e ".[ray]"`` installs
them); skipped without them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bench.results.storage import load_run

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None or importlib.util.find_spec("aiohttp") is None,
    reason="the Ray Jobs API needs ray[default] (pip install -e '.[ray]')",
)

from test_ray_executor import ENVIRONMENT  # noqa: E402 - after the skip: it needs Ray


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def head() -> Iterator[tuple[Any, str, str]]:
    """A head node with one bench_slot and its dashboard on 127.0.0.1: (cluster, jobs address, temp dir)."""
    patch = pytest.MonkeyPatch()
    temp = tempfile.mkdtemp(prefix="brj-")
    for name, value in {**ENVIRONMENT, "BENCH_CACHE_DIR": os.path.join(temp, "cache"), "RAY_TMPDIR": temp}.items():
        patch.setenv(name, value)
    from ray.cluster_utils import Cluster

    port = _free_port()
    made = None
    try:
        made = Cluster(
            initialize_head=True,
            head_node_args={"node_ip_address": "127.0.0.1", "num_cpus": 2, "resources": {"bench_slot": 1},
                            "include_dashboard": True, "dashboard_host": "127.0.0.1", "dashboard_port": port,
                            "temp_dir": os.path.join(temp, "ray")},
        )
        yield made, f"http://127.0.0.1:{port}", temp
    finally:
        if made is not None:
            made.shutdown()
        patch.undo()
        shutil.rmtree(temp, ignore_errors=True)


def _client(address: str) -> Any:
    from ray.job_submission import JobSubmissionClient

    deadline = time.monotonic() + 60
    while True:
        try:
            return JobSubmissionClient(address)
        except Exception:  # noqa: BLE001 - the dashboard is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_a_sweep_submitted_as_a_ray_job_runs_its_rows_on_the_cluster(head) -> None:
    from ray.job_submission import JobStatus

    cluster, address, temp = head
    client = _client(address)
    work, output = os.path.join(temp, "work"), os.path.join(temp, "out.json")
    os.makedirs(work)
    job = client.submit_job(
        # inside a job RAY_ADDRESS is set: no --ray-address
        entrypoint=f"{sys.executable} -m bench sweep --executor ray --plugins numpy --seed 0,1 --dataset synthetic "
                   f"--steps 12 --no-roofline --output {output}",
        runtime_env={"working_dir": work, "env_vars": {"BENCH_OFFLINE": "1"}},
    )
    deadline = time.monotonic() + 240
    while (status := client.get_job_status(job)) not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
        assert time.monotonic() < deadline, "the job did not finish in 240 s"
        time.sleep(1)
    logs = client.get_job_logs(job)
    assert status == JobStatus.SUCCEEDED, logs[-2000:]
    assert "row 2 ok on node" in logs and "Traceback" not in logs
    document = load_run(output)
    assert [row.status for row in document.results] == ["ok", "ok"]
    assert all(row.node is not None for row in document.results)
    assert document.config["executor"] == "ray"
