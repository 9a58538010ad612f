"""``--placement resident``: the same updates as ``feed``, gathered on the device."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training_checks import assert_same_training  # noqa: E402

from bench.classifier import SetupConfig  # noqa: E402
from bench.plugins import installed_registry  # noqa: E402

NAMES = ["numpy", "tf-graph", "tf-eager", "tf-function", "tf-xla"]


def _assert_same_training(name: str, mode: str, reference_mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((1000, 48), dtype=np.float32)
    labels = rng.integers(0, 10, 1000).astype(np.int64)
    schedule = np.random.RandomState(seed + 1).randint(0, 1000, size=(25, 50))
    assert_same_training(installed_registry().get(name).factory, mode, reference_mode, images, labels, schedule)


@pytest.mark.parametrize("name", NAMES)
def test_resident_equals_feed_exactly(name):
    # Gathering is exact, so the two placements must do bit-identical arithmetic.
    _assert_same_training(name, "resident", "feed", seed=0)


@pytest.mark.parametrize("name", ["numpy", "tf-function", "tf-xla"])
def test_many_steps_per_call_equal_single_steps_exactly(name):
    _assert_same_training(name, "calls", "resident", seed=2)


def test_eager_has_no_compiled_loop():
    from bench.errors import DeviceUnavailable

    clf = installed_registry().get("tf-eager").factory()
    clf.setup(SetupConfig(learning_rate=0.05, batch_size=2, input_dim=4, num_classes=3))
    try:
        clf.place_dataset(np.zeros((4, 4), np.float32), np.zeros(4, np.int64))
        with pytest.raises(DeviceUnavailable, match="compiled loop"):
            clf.train_steps_indices(np.zeros((2, 2), np.int64))
    finally:
        clf.close()
