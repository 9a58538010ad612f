"""``--placement resident``: the same updates as ``feed``, gathered on the device."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from bench.classifier import MultiStepClassifier, ResidentClassifier, SetupConfig  # noqa: E402
from bench.plugins import installed_registry  # noqa: E402

NAMES = ["numpy", "tf-graph", "tf-eager", "tf-function", "tf-xla"]


def _train(name: str, mode: str, images, labels, schedule):
    """Train along ``schedule``; ``mode``: ``feed``, ``resident``, or ``calls`` (resident,
    several steps per call, cut as the runner cuts them: 1 step, then up to 9, then the rest)."""
    clf = installed_registry().get(name).factory()
    clf.setup(SetupConfig(learning_rate=0.05, batch_size=schedule.shape[1], input_dim=images.shape[1], num_classes=10))
    try:
        if mode == "feed":
            losses = [clf.train_step(images[rows], labels[rows]) for rows in schedule]
        else:
            assert isinstance(clf, MultiStepClassifier if mode == "calls" else ResidentClassifier)
            clf.place_dataset(images, labels)
            if mode == "calls":
                calls = (schedule[:1], schedule[1:10], schedule[10:])
                losses = [float(loss) for call in calls for loss in clf.train_steps_indices(call)]
            else:
                losses = [clf.train_step_indices(rows) for rows in schedule]
        return clf.parameters(), losses
    finally:
        clf.close()


def _assert_same_training(name: str, mode: str, reference_mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((1000, 48), dtype=np.float32)
    labels = rng.integers(0, 10, 1000).astype(np.int64)
    schedule = np.random.RandomState(seed + 1).randint(0, 1000, size=(25, 50))
    expected, expected_losses = _train(name, reference_mode, images, labels, schedule)
    actual, actual_losses = _train(name, mode, images, labels, schedule)
    assert actual_losses == expected_losses
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


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
