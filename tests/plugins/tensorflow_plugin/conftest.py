"""Fixtures for the TensorFlow plugin tests: classifier factories (synthetic data: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench_tensorflow._runtime import import_tensorflow

# Import TensorFlow the way the plugin does (log level 3, start-up chatter hidden) before a
# test module's pytest.importorskip("tensorflow") would import it plainly.
try:
    import_tensorflow()
except ImportError:
    pass  # the test modules skip themselves

TF_NAMES = ("tf-graph", "tf-eager", "tf-function", "tf-xla")


@pytest.fixture(scope="session")
def factories() -> dict[str, Callable[[], object]]:
    """Name -> factory for the four TensorFlow classifiers and the numpy reference."""
    import bench_tensorflow
    from bench_numpy.softmax import NumpySoftmax

    if getattr(bench_tensorflow, "__file__", None) is None:
        pytest.fail(
            "bench_tensorflow was imported as a namespace package: the editable install predates "
            "plugins/bench_tensorflow/__init__.py; run `pip install -e .` again"
        )

    return {
        "numpy": NumpySoftmax,
        "tf-graph": bench_tensorflow.make_tf_graph,
        "tf-eager": bench_tensorflow.make_tf_eager,
        "tf-function": bench_tensorflow.make_tf_function,
        "tf-xla": bench_tensorflow.make_tf_xla,
    }
