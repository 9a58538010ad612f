"""--executor ray without a cluster: resource options, feasibility, messages, lazy import."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from bench.classifier import SetupConfig
from bench.errors import BenchError, UsageError
from bench.execute.ray.resources import (
    SLOT,
    check_slots,
    describe_request,
    fits,
    is_loopback,
    parse_resource_rules,
    parse_resources,
    reachable,
    task_resources,
)
from bench.job import RowJob, SchedulePlan


def _job(device: str = "cpu", threads: int | None = None) -> RowJob:
    setup = SetupConfig(0.005, 100, 12, 3, device=device, threads=threads)
    return RowJob("numpy", device, setup, SchedulePlan(10, 100, 0, "replacement", "0" * 64))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, {}),
        ("", {}),
        ('{"A100": 1}', {"A100": 1.0}),
        ("A100=1, fast_disk=0.5", {"A100": 1.0, "fast_disk": 0.5}),
    ],
)
def test_ray_resources_as_json_or_key_value(text, expected):
    assert parse_resources(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ("A100", "not key=value"),
        ("A100=lots", "not a number"),
        ("A100=0", "positive"),
        ("A100=-1", "positive"),
        ('{"A100": NaN}', "positive"),
        ('{"A100": true}', "positive"),
        ("CPU=4", "set by bench itself"),
        ("GPU=1", "set by bench itself"),
        (f"{SLOT}=2", "set by bench itself"),
        ("node:10.0.0.1=1", "set by bench itself"),
    ],
)
def test_nonsense_ray_resources_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_resources(text)


def test_a_row_asks_for_its_threads_a_gpu_for_a_gpu_row_and_one_slot():
    assert task_resources(_job()) == {"num_cpus": 1, "num_gpus": 0, "resources": {SLOT: 1.0}}
    assert task_resources(_job("gpu:3", threads=4), {"A100": 1.0}) == {
        "num_cpus": 4, "num_gpus": 1, "resources": {SLOT: 1.0, "A100": 1.0}
    }
    assert describe_request(task_resources(_job("gpu:0"), {"A100": 1.0})) == "CPU 1, GPU 1, bench_slot 1, A100 1"


def test_a_request_fits_a_node_only_with_every_resource():
    gpu_row = task_resources(_job("gpu:0"), {"A100": 1.0})
    assert fits({"CPU": 8, "GPU": 2, SLOT: 1, "A100": 2}, gpu_row)
    assert not fits({"CPU": 8, SLOT: 1, "A100": 2}, gpu_row)
    assert not fits({"CPU": 8, "GPU": 2, "A100": 2}, gpu_row)
    assert not fits({"CPU": 8, "GPU": 2, SLOT: 1}, gpu_row)
    assert not fits({"CPU": 1, SLOT: 1}, task_resources(_job(threads=2)))


def test_a_cluster_without_slots_is_a_clear_error():
    nodes = [{"NodeManagerHostname": "box", "Resources": {"CPU": 4.0, "GPU": 1.0}}]
    with pytest.raises(BenchError, match=r"""no node of the Ray cluster has the bench_slot resource.*"""
                                         r"""--resources '\{"bench_slot": 1\}' \(nodes: box \(CPU 4, GPU 1\)\)"""):
        check_slots(nodes)
    check_slots(nodes + [{"NodeManagerHostname": "other", "Resources": {"CPU": 2.0, SLOT: 1.0}}])


def test_loopback_addresses():
    assert is_loopback("127.0.0.1:6379") and is_loopback("localhost:1") and is_loopback("[::1]:6379")
    assert not is_loopback("10.0.0.5:6379") and not is_loopback("head.example:6379")


def test_an_address_where_nothing_listens_fails_at_once_not_after_ray_retries():
    import socket
    import time

    with socket.socket() as probe:  # a free port on loopback, closed again
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(BenchError, match=rf"could not connect to the Ray cluster at 127.0.0.1:{port}: .*refused"):
        reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - start < 5
    with pytest.raises(UsageError, match="HOST:PORT"):
        reachable("just-a-host")



def test_a_port_where_something_else_listens_is_refused_within_the_deadline():
    import socket
    import time

    with socket.socket() as server:  # accepts (the kernel's backlog) and never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(BenchError, match=rf"127.0.0.1:{port} is not a Ray cluster: .* \(within 1 s\)"):
            reachable(f"127.0.0.1:{port}", seconds=1.0)
        assert time.monotonic() - start < 3


def test_ray_client_addresses_are_refused_up_front():
    from bench.execute.ray import RayExecutor
    from bench.settings import RunConfig

    with pytest.raises(UsageError, match=r"ray:// addresses \(Ray Client\) are not supported: .*ray job submit"):
        RayExecutor.check(RunConfig(plugins=["numpy"], executor="ray", ray_address="ray://head:10001"))


@pytest.mark.parametrize(
    ("text", "numpy_cpu", "tf_gpu"),
    [
        ('tf-*:{"A100": 1}', {}, {"A100": 1.0}),
        ('{"tf-*": {"A100": 1}, "numpy": {"pool": 2}}', {"pool": 2.0}, {"A100": 1.0}),
        ('pool=1; gpu*:{"A100": 1}; numpy@cpu:{"pool": 3}', {"pool": 3.0}, {"pool": 1.0, "A100": 1.0}),
        ('{"A100": 1}', {"A100": 1.0}, {"A100": 1.0}),
        ("*:{\"x\": 1}", {"x": 1.0}, {"x": 1.0}),
    ],
)
def test_resources_per_plugin_and_device(text, numpy_cpu, tf_gpu):
    rules = parse_resource_rules(text)
    assert rules.for_job(_job()) == numpy_cpu
    assert rules.for_job(replace(_job("gpu:0"), classifier="tf-linear")) == tf_gpu


def test_bad_rules_are_usage_errors():
    with pytest.raises(UsageError, match="not a number"):
        parse_resource_rules('tf-*:{"A100": "x"}')
    with pytest.raises(UsageError, match="set by bench itself"):
        parse_resource_rules('{"tf-*": {"CPU": 2}}')


def test_a_row_asks_for_every_cpu_of_the_smallest_node_that_can_run_it():
    nodes = [{"Resources": {"CPU": 8.0, SLOT: 1.0}}, {"Resources": {"CPU": 4.0, SLOT: 1.0}},
             {"Resources": {"CPU": 2.0}}, {"Resources": {"CPU": 1.0, SLOT: 1.0, "GPU": 1.0}}]
    assert task_resources(_job(), None, SLOT, nodes)["num_cpus"] == 1  # the GPU node is the smallest with a slot
    assert task_resources(_job(threads=2), None, SLOT, nodes)["num_cpus"] == 4
    assert task_resources(_job("gpu:0"), None, SLOT, nodes)["num_cpus"] == 1
    assert task_resources(_job(threads=16), None, SLOT, nodes)["num_cpus"] == 16  # fits nowhere: as asked


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_ray_is_imported_only_when_an_executor_connects():
    done = _python("import sys, bench.execute.ray, bench.runner, bench.cli; print('ray' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_without_ray_connecting_says_how_to_install_it():
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from bench.execute.ray.executor import _import_ray\n"
        "from bench.errors import BenchError\n"
        "try:\n    _import_ray(local=True)\nexcept BenchError as exc:\n    print(exc)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "--executor ray needs Ray, which is not installed: pip install 'bench-harness[ray]'" in done.stdout


def test_the_data_is_hashed_once_per_run_not_per_seed(monkeypatch):
    """CIFAR-10 is the same data for every seed and batch size: one digest; the synthetic
    set is generated from the seed: one per seed."""
    from bench.execute import RowData
    from bench.execute.ray import RayExecutor
    from bench.execute.ray import executor as ray_executor
    from bench.execute.ray.node import DataSettings

    hashed: list[object] = []
    monkeypatch.setattr(ray_executor, "content_digest", lambda dataset: hashed.append(dataset) or "d")
    executor = RayExecutor()
    for seed in (0, 1, 2):
        for _ in range(2):
            executor.digest(RowData("cifar", None, DataSettings(dataset="cifar10", seed=seed)))  # type: ignore[arg-type]
    assert len(hashed) == 1
    for seed in (0, 1):
        executor.digest(RowData("synthetic", None, DataSettings(dataset="synthetic", seed=seed)))  # type: ignore[arg-type]
    assert len(hashed) == 3
