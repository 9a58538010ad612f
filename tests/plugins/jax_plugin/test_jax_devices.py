"""The CPU-versus-GPU path end to end, with JAX's CPU device standing in for a GPU.

This machine has no GPU: the device lookup is patched so that JAX's GPU list holds the
CPU device, and "gpu:0" runs there; the runner, the per-device rows, the speed-up table,
the device-memory method and the machine facts are exercised as on a GPU machine. The
real "no GPU visible to JAX" path is tested unpatched.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import bench_jax  # noqa: E402
from bench import runner  # noqa: E402
from bench.plugins import installed_registry  # noqa: E402
from bench.report.run import device_speedup_table  # noqa: E402
from bench.runner import RunConfig  # noqa: E402
from bench_jax import _runtime  # noqa: E402

def has_gpu() -> bool:
    """Asked when a test needs it, not at collection: starting JAX's backends then would put
    JAX's fork warning in every later test that starts a process with a ``preexec_fn``
    (Ray's clusters)."""
    return bench_jax.jax_devices() != ["cpu"]


@pytest.fixture
def cpu_as_gpu(monkeypatch, tiny_dataset):
    monkeypatch.setattr(_runtime, "gpus", lambda jax: jax.devices("cpu"))
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())


@pytest.mark.parametrize("placement", ["feed", "resident"])
def test_cpu_and_stand_in_gpu_rows_and_speedup_table(cpu_as_gpu, placement):
    config = RunConfig(plugins=["jax-jit", "jax-eager"], devices=["cpu", "gpu"], steps=30, batch_size=20,
                       learning_rate=0.05, roofline=False, placement=placement,
                       executor="inprocess")  # the stand-in GPU is a monkeypatch of this process
    outcome = runner.run(config, installed_registry())
    assert [(r.plugin, r.device, r.status) for r in outcome.rows] == [
        ("jax-jit", "cpu", "ok"), ("jax-jit", "gpu:0", "ok"),
        ("jax-eager", "cpu", "ok"), ("jax-eager", "gpu:0", "ok"),
    ], [r.error for r in outcome.rows]
    jit_cpu, jit_gpu = outcome.rows[0], outcome.rows[1]
    # Same batches, same compiled arithmetic on the same silicon: the "GPU" row agrees exactly.
    assert jit_gpu.final_max_abs_diff == 0.0 and jit_gpu.test_accuracy == jit_cpu.test_accuracy
    # Op by op is other arithmetic (no fusion), still the same model.
    assert all(r.final_max_abs_diff < 1e-4 for r in outcome.rows)
    for line in device_speedup_table(outcome.document).splitlines()[2:]:
        assert 0 < float(line.split()[4]) < 100
    for row in outcome.rows:  # each row's own facts
        assert row.environment["jax"] == jax.__version__ and "jax_default_matmul_precision" in row.environment


def test_all_devices_lists_the_stand_in_gpu(cpu_as_gpu):
    assert bench_jax.jax_devices() == ["cpu", "gpu:0"]
    assert runner.devices_for(installed_registry().get("jax-jit"), ["all"]) == ["cpu", "gpu:0"]


def test_peak_device_memory_reads_the_allocators_peak():
    class Device:
        def __init__(self, stats):
            self.stats = stats

        def memory_stats(self):
            return self.stats

    assert _runtime.peak_bytes(Device({"bytes_in_use": 10, "peak_bytes_in_use": 4096})) == 4096
    assert _runtime.peak_bytes(Device(None)) is None  # JAX's CPU client
    assert _runtime.peak_bytes(Device({"bytes_in_use": 10})) is None
    assert _runtime.peak_bytes(jax.devices("cpu")[0]) is None


def test_cuda_versions_as_text():
    assert _runtime.format_cuda_version(12080) == "12.8"
    assert _runtime.format_cuda_version(13000) == "13.0"
    assert _runtime.format_cuda_version(None) == "none"


def test_a_missing_gpu_is_unavailable_with_its_reason(monkeypatch, tiny_dataset):
    if has_gpu():
        pytest.skip("this machine has a GPU")
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())
    config = RunConfig(plugins=["jax-jit"], devices=["cpu", "gpu:1"], steps=5, batch_size=20, roofline=False,
                       executor="inprocess")
    rows = runner.run(config, installed_registry()).rows
    assert [(r.device, r.status) for r in rows] == [("cpu", "ok"), ("gpu:1", "unavailable")]
    assert "no GPU visible to JAX" in rows[1].error
    assert np.isfinite(rows[0].test_accuracy)


def test_the_reason_names_a_missing_or_failed_cuda_plugin(monkeypatch):
    monkeypatch.setattr(_runtime, "gpus", lambda jax: [])
    monkeypatch.setattr(_runtime, "_cuda_plugin", lambda: None)
    with pytest.raises(_runtime.DeviceUnavailable, match=r"no CUDA plugin installed; pip install 'jax\[cuda13\]'"):
        _runtime.jax_device(jax, "gpu:0")
    from jax._src import xla_bridge

    monkeypatch.setattr(_runtime, "_cuda_plugin", lambda: "jax-cuda13-plugin 0.11.0")
    monkeypatch.setitem(xla_bridge._backend_errors, "cuda", "CUDA_ERROR_NO_DEVICE")
    with pytest.raises(_runtime.DeviceUnavailable, match="jax-cuda13-plugin 0.11.0 failed to start: CUDA_ERROR_NO_DEVICE"):
        _runtime.jax_device(jax, "gpu:0")
