"""The CPU-versus-GPU path end to end, with PyTorch's CPU standing in for a GPU.

This machine has no GPU (and a CPU-only torch): the device lookup is patched so that
"gpu:0" runs on the CPU, and the runner, the per-device rows, the speed-up table and the
machine facts are exercised as on a GPU machine. The real "no CUDA" path is tested
unpatched; the CUDA memory calls are tested against stand-ins.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bench_torch  # noqa: E402
from bench import runner  # noqa: E402
from bench.plugins import installed_registry  # noqa: E402
from bench.report.run import device_speedup_table  # noqa: E402
from bench.runner import RunConfig  # noqa: E402
from bench_torch import _runtime, softmax  # noqa: E402


@pytest.fixture
def cpu_as_gpu(monkeypatch, tiny_dataset):
    real = _runtime.torch_device

    def stand_in(torch, device):
        return torch.device("cpu") if device == "gpu:0" else real(torch, device)

    monkeypatch.setattr(softmax, "torch_device", stand_in)
    monkeypatch.setattr(_runtime, "device_names", lambda: ["cpu", "gpu:0"])
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())


@pytest.mark.parametrize("placement", ["feed", "resident"])
def test_cpu_and_stand_in_gpu_rows_and_speedup_table(cpu_as_gpu, placement):
    # One thread: with PyTorch's default (one per core) a busy 2-core machine can make one
    # row's OpenMP threads spin-wait for a core, hundreds of times slower than the other's.
    config = RunConfig(plugins=["torch-eager"], devices=["all"], steps=30, batch_size=20,
                       learning_rate=0.05, roofline=False, placement=placement, threads=1,
                       executor="inprocess")  # the stand-in GPU is a monkeypatch of this process
    outcome = runner.run(config, installed_registry())
    assert [(r.plugin, r.device, r.status) for r in outcome.rows] == [
        ("torch-eager", "cpu", "ok"), ("torch-eager", "gpu:0", "ok"),
    ], [r.error for r in outcome.rows]
    assert outcome.rows[1].final_max_abs_diff == 0.0  # same batches, same kernels
    for line in device_speedup_table(outcome.document).splitlines()[2:]:
        assert 0 < float(line.split()[4]) < 100
    frameworks = outcome.document.machine["frameworks"]
    assert frameworks["torch"] == torch.__version__ and "torch_gpus" in frameworks


def test_a_missing_gpu_is_unavailable_with_its_reason(monkeypatch, tiny_dataset):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())
    config = RunConfig(plugins=["torch-eager"], devices=["cpu", "gpu:1"], steps=5, batch_size=20, roofline=False,
                       executor="inprocess")
    rows = runner.run(config, installed_registry()).rows
    assert [(r.device, r.status) for r in rows] == [("cpu", "ok"), ("gpu:1", "unavailable")]
    assert "this PyTorch build has no CUDA" in rows[1].error or "no GPU visible to PyTorch" in rows[1].error
    assert np.isfinite(rows[0].test_accuracy)
    assert bench_torch.torch_devices() == ["cpu"]


def test_the_reasons_for_a_cuda_build(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(_runtime.DeviceUnavailable, match="gpu:0: no GPU visible to PyTorch"):
        _runtime.torch_device(torch, "gpu:0")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert _runtime.torch_device(torch, "gpu:1") == torch.device("cuda", 1)
    with pytest.raises(_runtime.DeviceUnavailable, match="gpu:2 not present; PyTorch sees 2 GPUs"):
        _runtime.torch_device(torch, "gpu:2")
    assert _runtime.device_names() == ["cpu", "gpu:0", "gpu:1"]


def test_peak_memory_and_synchronisation_on_a_cuda_device(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device: calls.append(("reset", device)))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: 12345)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device: calls.append(("sync", device)))
    gpu, cpu = torch.device("cuda", 0), torch.device("cpu")
    _runtime.reset_peak(torch, gpu)
    _runtime.synchronize(torch, gpu)
    assert _runtime.peak_bytes(torch, gpu) == 12345
    _runtime.reset_peak(torch, cpu)
    _runtime.synchronize(torch, cpu)
    assert _runtime.peak_bytes(torch, cpu) is None and _runtime.peak_bytes(torch, None) is None
    assert calls == [("reset", gpu), ("sync", gpu)]
