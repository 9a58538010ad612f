"""Fixtures for the TensorFlow plugin tests: synthetic data and classifier factories."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bench_tensorflow._runtime import import_tensorflow

# Import TensorFlow the way the plugin does (log level 3, start-up chatter hidden) before a
# test module's pytest.importorskip("tensorflow") would import it plainly.
try:
    import_tensorflow()
except ImportError:
    pass  # the test modules skip themselves

TF_NAMES = ("tf-graph", "tf-eager", "tf-function", "tf-xla")


def _synthetic(n: int, input_dim: int = 3072, num_classes: int = 10, *, seed: int = 0, separation: float = 0.05):
    """Class-structured data, standardised per feature (mean 0, std 1), float32 C-order.

    Each class has a random mean direction (``separation`` per feature) under unit noise,
    so there is something to learn while inputs stay O(1) like standardised CIFAR-10.
    """
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((num_classes, input_dim)) * separation
    labels = rng.integers(0, num_classes, n).astype(np.int64)
    images = means[labels] + rng.standard_normal((n, input_dim))
    images = (images - images.mean(axis=0)) / images.std(axis=0)
    return np.ascontiguousarray(images, dtype=np.float32), labels


@pytest.fixture(scope="session")
def synthetic() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``synthetic(n, input_dim=3072, num_classes=10, seed=0, separation=0.05)``."""
    return _synthetic


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
