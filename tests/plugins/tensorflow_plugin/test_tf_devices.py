"""The CPU-versus-GPU path end to end, with TensorFlow's CPU device standing in for a GPU.

This machine has no GPU: "gpu:0" is mapped to "/CPU:0" inside the TensorFlow plugin, so
the runner, the per-device rows, the speed-up table and the machine facts are exercised
exactly as on a GPU machine; only the hardware differs.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import bench_tensorflow  # noqa: E402
from bench import runner  # noqa: E402
from bench.plugins import installed_registry  # noqa: E402
from bench.report.run import device_speedup_table  # noqa: E402
from bench.runner import RunConfig  # noqa: E402
from bench_tensorflow import _runtime, eager, graph  # noqa: E402


@pytest.fixture
def cpu_as_gpu(monkeypatch, tiny_dataset):
    real = _runtime.tf_device_name

    def stand_in(tf, device):
        return "/CPU:0" if device == "gpu:0" else real(tf, device)

    for module in (graph, eager):
        monkeypatch.setattr(module, "tf_device_name", stand_in)
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())


def test_cpu_and_stand_in_gpu_rows_and_speedup_table(cpu_as_gpu):
    config = RunConfig(plugins=["tf-graph", "tf-function"], devices=["cpu", "gpu"], steps=30, batch_size=20,
                       learning_rate=0.05, roofline=False, executor="inprocess")
    outcome = runner.run(config, installed_registry())
    assert [(r.plugin, r.device, r.status) for r in outcome.rows] == [
        ("tf-graph", "cpu", "ok"), ("tf-graph", "gpu:0", "ok"),
        ("tf-function", "cpu", "ok"), ("tf-function", "gpu:0", "ok"),
    ]
    # Same batches, same arithmetic on the same silicon: the "GPU" rows agree exactly.
    assert all(r.final_max_abs_diff == 0.0 for r in outcome.rows)
    table = device_speedup_table(outcome.document)
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["plugin", "device"]
    for line in lines[2:]:
        speedup = float(line.split()[4])
        assert 0 < speedup < 100
    frameworks = outcome.document.machine["frameworks"]
    assert {"tensorflow", "cuda", "cudnn", "gpus"} <= set(frameworks)


def test_all_devices_lists_what_tensorflow_sees():
    devices = bench_tensorflow.tf_devices()
    assert devices[0] == "cpu"
    import tensorflow as tf

    assert len(devices) == 1 + len(tf.config.list_physical_devices("GPU"))


def test_a_missing_gpu_is_unavailable_with_its_reason(monkeypatch, tiny_dataset):
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    config = RunConfig(plugins=["tf-eager"], devices=["cpu", "gpu:1"], steps=5, batch_size=20, roofline=False, executor="inprocess")
    rows = runner.run(config, installed_registry()).rows
    assert [(r.device, r.status) for r in rows] == [("cpu", "ok"), ("gpu:1", "unavailable")]
    assert "no GPU visible to TensorFlow" in rows[1].error
    assert np.isfinite(rows[0].test_accuracy)
