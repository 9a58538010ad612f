"""``--placement resident``: the same updates as ``feed``, gathered on the device."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from bench.classifier import ResidentClassifier, SetupConfig  # noqa: E402
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
