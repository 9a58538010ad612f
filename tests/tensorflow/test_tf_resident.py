"""``--placement resident``: the same updates as ``feed``, gathered on the device."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from bench.classifier import MultiStepClassifier, ResidentClassifier, SetupConfig  # noqa: E402
from bench.plugins import installed_registry  # noqa: E402

NAMES = ["numpy", "tf-graph", "tf-eager", "tf-function", "tf-xla"]


def _train(name: str, resident: bool, images, labels, schedule):
    clf = installed_registry().get(name).factory()
    clf.setup(SetupConfig(learning_rate=0.05, batch_size=schedule.shape[1], input_dim=images.shape[1], num_classes=10))
    try:
        if resident:
            assert isinstance(clf, ResidentClassifier)
            clf.place_dataset(images, labels)
            losses = [clf.train_step_indices(rows) for rows in schedule]
        else:
            losses = [clf.train_step(images[rows], labels[rows]) for rows in schedule]
        return clf.parameters(), losses
    finally:
        clf.close()


@pytest.mark.parametrize("name", NAMES)
def test_resident_equals_feed_exactly(name):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((1000, 48), dtype=np.float32)
    labels = rng.integers(0, 10, 1000).astype(np.int64)
    schedule = np.random.RandomState(1).randint(0, 1000, size=(25, 50))
    fed, fed_losses = _train(name, False, images, labels, schedule)
    placed, placed_losses = _train(name, True, images, labels, schedule)
    # Gathering is exact, so the two placements must do bit-identical arithmetic.
    assert fed_losses == placed_losses
    for key in fed:
        np.testing.assert_array_equal(fed[key], placed[key])


@pytest.mark.parametrize("name", ["numpy", "tf-function", "tf-xla"])
def test_many_steps_per_call_equal_single_steps_exactly(name):
    rng = np.random.default_rng(2)
    images = rng.standard_normal((1000, 48), dtype=np.float32)
    labels = rng.integers(0, 10, 1000).astype(np.int64)
    schedule = np.random.RandomState(3).randint(0, 1000, size=(25, 50))
    single, single_losses = _train(name, True, images, labels, schedule)
    clf = installed_registry().get(name).factory()
    clf.setup(SetupConfig(learning_rate=0.05, batch_size=50, input_dim=48, num_classes=10))
    try:
        assert isinstance(clf, MultiStepClassifier)
        clf.place_dataset(images, labels)
        # Calls of different lengths, as the runner makes them (1, then up to K, cut at the parity step).
        losses = [*clf.train_steps_indices(schedule[:1]), *clf.train_steps_indices(schedule[1:10]),
                  *clf.train_steps_indices(schedule[10:])]
        many = clf.parameters()
    finally:
        clf.close()
    assert [float(x) for x in losses] == single_losses
    for key in single:
        np.testing.assert_array_equal(single[key], many[key])


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
