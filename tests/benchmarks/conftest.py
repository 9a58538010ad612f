"""pytest-benchmark in check-only mode by default, and the data the benchmarks run on.

The ordinary test command (``python -m pytest``) runs every benchmark once, as a check
that it works, like ``--benchmark-disable``. Measuring is asked for with
``--benchmark-enable``, or implied by an option that only makes sense when measuring
(``--benchmark-only``, ``--benchmark-autosave``, ``--benchmark-save``,
``--benchmark-json``, ``--benchmark-compare``); ``tox -e bench`` passes
``--benchmark-enable``.

Data: a synthetic set shaped like CIFAR-10 (uint8 pixels, reference preprocessing:
0-255 minus the per-pixel training mean), or the real CIFAR-10 when ``BENCH_CIFAR10_DIR``
names the directory holding it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest

from bench.dataset.preprocess import fit
from bench.dataset.synthetic import make_synthetic
from bench.schedule import build_schedule

MEASURING_OPTIONS = (
    "benchmark_enable",
    "benchmark_only",
    "benchmark_autosave",
    "benchmark_save",
    "benchmark_json",
    "benchmark_compare",
)
BATCH_SIZE = 100
TEST_IMAGES = 10_000


def measuring_requested(config: pytest.Config) -> bool:
    return any(config.getoption(name, default=None) for name in MEASURING_OPTIONS)


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("benchmark") or measuring_requested(config):
        return
    # Picked up by pytest-benchmark when this conftest loads first (pytest tests/benchmarks);
    # when it loads during collection (pytest from the root), its session already exists.
    config.option.benchmark_disable = True
    session = getattr(config, "_benchmarksession", None)
    if session is not None:
        session.disabled = True


@dataclass(frozen=True)
class BenchData:
    """A fixed training batch, the training set it came from, and a 10,000-image test set."""

    source: str
    """``"synthetic"`` or ``"cifar10"``."""
    train_images: np.ndarray
    train_labels: np.ndarray
    batch_images: np.ndarray
    """100 x 3072 float32, C-contiguous: the first batch of the seed-0 schedule."""
    batch_labels: np.ndarray
    test_images: np.ndarray
    """10,000 x 3072 float32."""
    test_labels: np.ndarray
    schedule_indices: np.ndarray
    """Rows of the seed-0 schedule (for the batch-assembly benchmark)."""

    @property
    def input_dim(self) -> int:
        return int(self.train_images.shape[1])


def _bench_data() -> BenchData:
    real_dir = os.environ.get("BENCH_CIFAR10_DIR")
    if real_dir:
        from bench.dataset import load_dataset

        dataset = load_dataset("cifar10", data_dir=real_dir, offline=True)
        train_x, train_y = dataset.train_images, dataset.train_labels
        test_x, test_y, source = dataset.test_images, dataset.test_labels, "cifar10"
    else:
        raw = make_synthetic(0, n_train=5000, n_test=TEST_IMAGES)
        transform = fit(raw.train_images, "reference")
        train_x, train_y = transform.apply(raw.train_images), raw.train_labels
        test_x, test_y, source = transform.apply(raw.test_images), raw.test_labels, "synthetic"
    schedule = build_schedule(len(train_y), 1000, BATCH_SIZE, seed=0)
    first = schedule.indices[0]
    return BenchData(
        source=source,
        train_images=train_x,
        train_labels=train_y,
        batch_images=np.ascontiguousarray(np.take(train_x, first, axis=0)),
        batch_labels=np.take(train_y, first),
        test_images=test_x,
        test_labels=test_y,
        schedule_indices=schedule.indices,
    )


@pytest.fixture(scope="module")
def bench_data() -> BenchData:
    """Module-scoped: the real set takes 740 MB as float32, not to be held for the whole session."""
    return _bench_data()
