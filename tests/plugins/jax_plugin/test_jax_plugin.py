"""The ``jax`` plugin: registration, spec fields, environment facts, lazy import, threads."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

jax = pytest.importorskip("jax")

import bench_jax  # noqa: E402
from bench import SetupConfig, StepWork, linear_softmax_work  # noqa: E402
from bench.plugins import collect_classifiers, create_plugin_manager  # noqa: E402

NAMES = {"jax-jit", "jax-eager"}


def _run_python(code: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PJRT_NPROC", "XLA_FLAGS")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=environment
    )


def _registry():
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(bench_jax, name="jax")
    return collect_classifiers(pm)


def test_entry_point_loads_this_plugin():
    assert bench_jax.__file__ is not None, "bench_jax imported as a namespace package; pip install -e . again"
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group="bench") if ep.name == "jax"]
    assert entry_point.load() is bench_jax


def test_registers_both_classifiers_with_their_capabilities():
    registry = _registry()
    assert not registry.broken
    assert set(registry.classifiers) == NAMES
    for spec in registry.classifiers.values():
        assert registry.origin(spec.name).plugin == "jax"
        assert spec.description and "\n" not in spec.description
        assert spec.supports_resident
        assert spec.devices is bench_jax.jax_devices and spec.environment is bench_jax.jax_environment
        assert spec.work is linear_softmax_work
    assert registry.classifiers["jax-jit"].supports_steps_per_call
    assert not registry.classifiers["jax-eager"].supports_steps_per_call
    # The capabilities the spec declares are the methods the classifiers have.
    assert hasattr(registry.get("jax-jit").factory(), "train_steps_indices")
    assert not hasattr(registry.get("jax-eager").factory(), "train_steps_indices")


def test_work_of_the_reference_step():
    work = linear_softmax_work(SetupConfig(learning_rate=0.005, batch_size=100, input_dim=3072, num_classes=10))
    assert isinstance(work, StepWork)
    products = 2 * 2 * 100 * 3072 * 10  # forward and weight-gradient products
    assert products < work.flops < 1.01 * products
    params = 3072 * 10 + 10
    assert work.bytes == 100 * 3072 * 4 + 100 * 8 + 3 * params * 4  # images, int64 labels, parameters


def test_environment_comes_only_from_the_spec():
    assert not hasattr(bench_jax, "bench_environment_info")  # one way per fact: the spec
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(bench_jax, name="jax")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning: the hook is not asked
        info = collect_classifiers(pm).environment_info(["jax-eager"])
    assert info == bench_jax.jax_environment()
    assert {"jax", "jaxlib", "jax_cuda_plugin", "jax_default_backend", "jax_cuda", "jax_cudnn", "jax_gpus"} <= set(info)
    assert info["jax"] == jax.__version__
    assert all(isinstance(value, str) and value for value in info.values())
    if not jax.devices()[0].platform == "gpu":
        assert info["jax_gpus"] == "none" and info["jax_default_backend"] == "cpu"


def test_listing_does_not_import_jax():
    result = _run_python(
        """
        import sys
        from bench.plugins import installed_registry
        names = sorted(installed_registry().classifiers)
        assert "jax-jit" in names and "jax-eager" in names, names
        assert "jax" not in sys.modules, "listing imported jax"
        installed_registry().get("jax-jit").factory()
        assert "jax" in sys.modules
        """
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_count_sizes_xlas_cpu_pool_in_a_fresh_process(threads):
    # XLA's CPU client names its intra-op pool threads "tf_XLAEigen"; their number is the
    # pool's size (Linux: read from /proc).
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc")
    result = _run_python(
        f"""
        import os
        import numpy as np
        from bench import SetupConfig, UsageError
        import bench_jax
        config = SetupConfig(learning_rate=0.01, batch_size=4, input_dim=6, num_classes=3, threads={threads})
        clf = bench_jax.make_jax_jit()
        clf.setup(config)
        clf.train_step(np.ones((4, 6), np.float32), np.array([0, 1, 2, 0]))
        clf.close()
        names = [open(f"/proc/self/task/{{t}}/comm").read().strip() for t in os.listdir("/proc/self/task")]
        print("pool", names.count("tf_XLAEigen"))
        other = SetupConfig(learning_rate=0.01, batch_size=4, input_dim=6, num_classes=3, threads={threads + 1})
        try:
            bench_jax.make_jax_eager().setup(other)
        except UsageError as exc:
            print("refused:", exc)
        bench_jax.make_jax_eager().setup(SetupConfig(0.01, 4, 6, 3, threads=None))  # the default is fine
        """
    )
    assert result.returncode == 0, result.stderr
    assert f"pool {threads}\n" in result.stdout
    assert "refused:" in result.stdout and "thread" in result.stdout
