"""The ``tensorflow`` plugin: registration, environment facts, lazy and quiet import, threads."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

tf = pytest.importorskip("tensorflow")

import bench_tensorflow  # noqa: E402
from bench.plugins import collect_classifiers, create_plugin_manager  # noqa: E402

TF_NAMES = {"tf-graph", "tf-eager", "tf-function", "tf-xla", "tf-mlp-graph", "tf-mlp-eager"}


def _run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user would start it
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_package_is_a_regular_package():
    # An editable install made before plugins/bench_tensorflow/__init__.py existed maps it
    # as a namespace package: the entry point then loads no hooks and the classifiers
    # silently vanish. Fix: pip install -e . (again).
    assert bench_tensorflow.__file__ is not None, "bench_tensorflow imported as a namespace package; reinstall"
    assert hasattr(bench_tensorflow, "bench_register_classifiers")


def test_entry_point_loads_this_plugin():
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group="bench") if ep.name == "tensorflow"]
    assert entry_point.load() is bench_tensorflow


def test_registers_every_classifier():
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(bench_tensorflow, name="tensorflow")
    registry = collect_classifiers(pm)
    assert not registry.broken
    assert set(registry.classifiers) == TF_NAMES
    for spec in registry.classifiers.values():
        assert registry.origin(spec.name).plugin == "tensorflow"
        assert spec.description and "\n" not in spec.description
        assert callable(spec.factory)


def test_environment_comes_only_from_the_spec():
    # One way per fact: every spec declares environment=, the deprecated hook is not implemented.
    assert not hasattr(bench_tensorflow, "bench_environment_info")
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(bench_tensorflow, name="tensorflow")
    registry = collect_classifiers(pm)
    assert all(spec.environment is bench_tensorflow.tf_environment for spec in registry.classifiers.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning: the hook is not asked
        info = registry.environment_info(["numpy", "tf-xla"])
    assert {"tensorflow", "tf_cuda_build", "cuda", "cudnn", "gpus"} <= set(info)  # and precision, threads
    assert info["tensorflow"] == tf.__version__
    assert all(isinstance(value, str) and value for value in info.values())
    if not tf.config.list_physical_devices("GPU"):
        assert info["gpus"] == "none"


def test_listing_does_not_import_tensorflow_and_importing_it_is_quiet():
    result = _run_python(
        """
        import sys
        from bench.plugins import collect_classifiers, create_plugin_manager
        import bench_tensorflow
        pm, _ = create_plugin_manager(load_entry_points=False)
        pm.register(bench_tensorflow, name="tensorflow")
        names = sorted(collect_classifiers(pm).classifiers)
        assert "tensorflow" not in sys.modules, "listing imported tensorflow"
        clf = collect_classifiers(pm).classifiers["tf-eager"].factory()
        assert "tensorflow" in sys.modules
        print(" ".join(names))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tf-eager", "tf-function", "tf-graph", "tf-mlp-eager", "tf-mlp-graph", "tf-xla"]
    assert result.stderr == "", f"TensorFlow's start-up log reached stderr:\n{result.stderr}"


@pytest.mark.slow
def test_thread_count_is_applied_in_a_fresh_process():
    result = _run_python(
        """
        import numpy as np
        import bench_tensorflow as bt
        from bench.classifier import SetupConfig
        from bench.errors import UsageError
        config = SetupConfig(learning_rate=0.01, batch_size=4, input_dim=6, num_classes=3, threads=1)
        x, y = np.ones((4, 6), np.float32), np.array([0, 1, 2, 0])
        for make in (bt.make_tf_graph, bt.make_tf_eager, bt.make_tf_function, bt.make_tf_xla):
            clf = make()
            clf.setup(config)
            clf.train_step(x, y)
            clf.close()
        import tensorflow as tf
        assert tf.config.threading.get_intra_op_parallelism_threads() == 1
        assert tf.config.threading.get_inter_op_parallelism_threads() == 1
        try:
            bt.make_tf_graph().setup(SetupConfig(0.01, 4, 6, 3, threads=2))
        except UsageError as exc:
            print("refused:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "thread" in result.stdout
    assert result.stderr == ""
