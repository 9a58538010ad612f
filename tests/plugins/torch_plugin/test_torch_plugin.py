"""The ``torch`` plugin: registration, spec fields, environment facts, lazy import, threads."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
import warnings

import pytest

torch = pytest.importorskip("torch")

import bench_torch  # noqa: E402
from bench import SetupConfig, linear_softmax_work  # noqa: E402
from bench.plugins import collect_classifiers, create_plugin_manager  # noqa: E402

NAMES = {"torch-eager", "torch-compile"}


def _registry():
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(bench_torch, name="torch")
    return collect_classifiers(pm)


def test_entry_point_loads_this_plugin():
    assert bench_torch.__file__ is not None, "bench_torch imported as a namespace package; pip install -e . again"
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group="bench") if ep.name == "torch"]
    assert entry_point.load() is bench_torch


def test_registers_both_classifiers_with_their_capabilities():
    registry = _registry()
    assert not registry.broken
    assert set(registry.classifiers) == NAMES
    for spec in registry.classifiers.values():
        assert registry.origin(spec.name).plugin == "torch"
        assert spec.description and "\n" not in spec.description
        assert spec.supports_resident and not spec.supports_steps_per_call
        assert spec.devices is bench_torch.torch_devices and spec.environment is bench_torch.torch_environment
        assert spec.work is linear_softmax_work
    clf = registry.get("torch-eager").factory()
    assert hasattr(clf, "train_step_indices") and not hasattr(clf, "train_steps_indices")


def test_environment_comes_only_from_the_spec():
    assert not hasattr(bench_torch, "bench_environment_info")  # one way per fact: the spec
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning: the hook is not asked
        info = _registry().environment_info(["torch-compile"])
    assert info == bench_torch.torch_environment()
    assert set(info) == {"torch", "torch_cuda", "torch_cudnn", "torch_threads", "torch_gpus"}
    assert info["torch"] == torch.__version__
    assert all(isinstance(value, str) and value for value in info.values())
    if not torch.backends.cuda.is_built():
        assert info["torch_cuda"] == info["torch_cudnn"] == info["torch_gpus"] == "none"


def test_listing_does_not_import_torch():
    code = """
        import sys
        from bench.plugins import installed_registry
        names = sorted(installed_registry().classifiers)
        assert "torch-eager" in names and "torch-compile" in names, names
        assert "torch" not in sys.modules, "listing imported torch"
        installed_registry().get("torch-eager").factory()
        assert "torch" in sys.modules
        """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("factory", [bench_torch.make_torch_eager, bench_torch.make_torch_compile])
def test_threads_apply_to_the_row_and_are_restored(factory):
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    clf = factory()
    clf.setup(SetupConfig(learning_rate=0.01, batch_size=4, input_dim=6, num_classes=3, threads=wanted))
    assert torch.get_num_threads() == wanted
    clf.close()
    assert torch.get_num_threads() == before
    clf.setup(SetupConfig(learning_rate=0.01, batch_size=4, input_dim=6, num_classes=3, threads=None))
    assert torch.get_num_threads() == before  # None keeps PyTorch's setting
    clf.close()
    assert torch.get_num_threads() == before
