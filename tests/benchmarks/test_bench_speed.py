"""pytest-benchmark tests: one training step and one evaluation of every built-in
classifier, batch assembly from the schedule, and loading the dataset.

In the ordinary test run each body runs once, as a check (see conftest.py). Measured
for real by ``tox -e bench`` (or ``pytest tests/benchmarks --benchmark-enable``).

Each classifier is created and set up outside the timed region, once per test, and
then warmed up by ``warmup_rounds``: tf-function traces and tf-xla compiles on its
first step, and neither belongs in a step time. (pedantic's ``setup`` argument runs
before every round; a classifier created there would trace or compile again inside
every measured round.) A training step updates the model; every step does the same
amount of work, so that is fine for timing.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from bench.classifier import SetupConfig
from bench.errors import UsageError
from bench.plugins import installed_registry

BUILTIN_PLUGINS = ("numpy", "tensorflow", "jax", "torch")
"""Entry-point names of the plugins bench ships (pyproject's [project.entry-points.bench])."""

REGISTRY = installed_registry()
BUILTIN = [name for name in REGISTRY.classifiers if REGISTRY.origin(name).plugin in BUILTIN_PLUGINS]
DEVICE = "cpu"


def _threads(name: str) -> int | None:
    """The threads ``bench check`` sets the classifier up with (the shipped bounds say 1).

    TensorFlow and JAX size a process-wide thread pool once: these tests run before any
    other test in the suite sets a TensorFlow or JAX classifier up (pytest runs tests/benchmarks
    first, after the Ray cluster tests, which start no framework in this process)."""
    from bench.regression import load_bounds

    return load_bounds().threads_for(name)


def _setup(name: str, input_dim: int) -> object:
    spec = REGISTRY.get(name)
    clf = spec.factory()
    config = SetupConfig(
        learning_rate=spec.defaults.learning_rate or 0.005,
        batch_size=100,
        input_dim=input_dim,
        num_classes=10,
        device=DEVICE,
        threads=_threads(name),
        params=spec.param_defaults(),
    )
    try:
        clf.setup(config)
    except UsageError as exc:  # an earlier test sized the framework's thread pool otherwise
        clf.close()
        pytest.skip(f"{exc} (run tests/benchmarks first or alone, as the suite and tox -e bench do)")
    return clf


@pytest.fixture
def classifier(request: pytest.FixtureRequest, bench_data):
    """The classifier named by the test's ``name`` parameter, set up on the CPU (untimed)."""
    clf = _setup(request.getfixturevalue("name"), bench_data.input_dim)
    yield clf
    clf.close()


def _describe(benchmark, name: str, data_source: str) -> None:
    benchmark.extra_info.update(
        classifier=name,
        plugin=REGISTRY.origin(name).plugin,
        plugin_version=REGISTRY.origin(name).version,
        device=DEVICE,
        data=data_source,
        frameworks=REGISTRY.environment_info([name]),
    )


@pytest.mark.benchmark(group="train_step")
@pytest.mark.parametrize("name", BUILTIN)
def test_train_step(benchmark, name, classifier, bench_data):
    _describe(benchmark, name, bench_data.source)
    benchmark.extra_info["batch"] = list(bench_data.batch_images.shape)
    loss = benchmark.pedantic(
        classifier.train_step,
        args=(bench_data.batch_images, bench_data.batch_labels),
        warmup_rounds=3,
        rounds=50,
        iterations=10,
    )
    assert isinstance(loss, float)
    assert math.isfinite(loss) or benchmark.enabled  # hundreds of steps on one batch may diverge


@pytest.mark.benchmark(group="predict")
@pytest.mark.parametrize("name", BUILTIN)
def test_predict(benchmark, name, classifier, bench_data):
    _describe(benchmark, name, bench_data.source)
    benchmark.extra_info["images"] = list(bench_data.test_images.shape)
    predictions = benchmark.pedantic(
        classifier.predict, args=(bench_data.test_images,), warmup_rounds=1, rounds=10, iterations=1
    )
    predictions = np.asarray(predictions)
    assert predictions.shape == (len(bench_data.test_images),)
    assert predictions.min() >= 0 and predictions.max() < 10


@pytest.mark.benchmark(group="batch_assembly")
def test_batch_assembly(benchmark, bench_data):
    """The harness's gather (bench.measure): np.take of 100 scheduled rows into reused buffers."""
    images, labels, indices = bench_data.train_images, bench_data.train_labels, bench_data.schedule_indices
    batch_images = np.empty((indices.shape[1], images.shape[1]), dtype=images.dtype)
    batch_labels = np.empty(indices.shape[1], dtype=labels.dtype)
    take, calls = np.take, [0]

    def gather() -> np.ndarray:
        row = indices[calls[0] % len(indices)]
        calls[0] += 1
        take(images, row, axis=0, out=batch_images)
        take(labels, row, out=batch_labels)
        return batch_images

    benchmark.extra_info.update(data=bench_data.source, batch=list(batch_images.shape), source_rows=len(images))
    out = benchmark.pedantic(gather, warmup_rounds=5, rounds=100, iterations=20)
    last = indices[(calls[0] - 1) % len(indices)]
    np.testing.assert_array_equal(out, images[last])
    np.testing.assert_array_equal(batch_labels, labels[last])
    assert out.flags.c_contiguous and out.dtype == np.float32


def _load_synthetic():
    from bench.dataset import load_dataset

    return load_dataset("synthetic")


def _load_cifar10():
    from bench.dataset import load_dataset

    return load_dataset("cifar10", data_dir=os.environ["BENCH_CIFAR10_DIR"], offline=True)


@pytest.mark.benchmark(group="load_dataset")
@pytest.mark.parametrize(
    "dataset",
    [
        "synthetic",
        pytest.param(
            "cifar10",
            marks=[
                pytest.mark.realdata,
                pytest.mark.skipif(
                    not os.environ.get("BENCH_CIFAR10_DIR"), reason="set BENCH_CIFAR10_DIR to the real CIFAR-10"
                ),
            ],
        ),
    ],
)
def test_load_dataset(benchmark, dataset):
    """Read, verify (md5 for the real set) and preprocess: what ``bench run`` does before training."""
    load = _load_synthetic if dataset == "synthetic" else _load_cifar10
    rounds = 5 if dataset == "synthetic" else 3
    benchmark.extra_info.update(data=dataset)
    loaded = benchmark.pedantic(load, warmup_rounds=1, rounds=rounds, iterations=1)
    assert loaded.train_images.dtype == np.float32 and loaded.train_images.shape[1] == 3072
    assert len(loaded.test_labels) == (10_000 if dataset == "cifar10" else 1000)
