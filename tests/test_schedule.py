"""The batch schedule: seeded, shared, and faithful to the reference's sampling."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import UsageError
from bench.schedule import build_schedule


def test_same_seed_same_batches_and_digest():
    a = build_schedule(50_000, 1000, 100, seed=7)
    b = build_schedule(50_000, 1000, 100, seed=7)
    assert np.array_equal(a.indices, b.indices)
    assert a.sha256() == b.sha256()


def test_different_seed_different_batches():
    a = build_schedule(50_000, 100, 100, seed=1)
    b = build_schedule(50_000, 100, 100, seed=2)
    assert not np.array_equal(a.indices, b.indices)
    assert a.sha256() != b.sha256()


def test_replacement_reproduces_the_reference_draws():
    # The reference script: np.random.seed(s); each step np.random.choice(n, batch_size).
    np.random.seed(3)
    reference = np.stack([np.random.choice(50_000, 100) for _ in range(20)])
    assert np.array_equal(build_schedule(50_000, 20, 100, seed=3).indices, reference)


def test_epoch_sampling_visits_every_image_once_per_epoch():
    schedule = build_schedule(1000, 30, 100, seed=0, sampling="epoch")
    assert schedule.indices.shape == (30, 100)
    for epoch in range(3):
        seen = schedule.indices[10 * epoch : 10 * (epoch + 1)].ravel()
        assert sorted(seen) == list(range(1000))


def test_digest_ignores_integer_width():
    schedule = build_schedule(100, 5, 10, seed=0)
    narrow = type(schedule)(schedule.indices.astype(np.int32), schedule.seed, schedule.sampling)
    assert narrow.sha256() == schedule.sha256()


@pytest.mark.parametrize("steps,batch", [(0, 10), (5, 0), (5, 1001)])
def test_nonsense_sizes_are_refused(steps, batch):
    with pytest.raises(UsageError):
        build_schedule(1000, steps, batch, seed=0)


def test_unknown_sampling_is_refused():
    with pytest.raises(UsageError, match="unknown sampling"):
        build_schedule(1000, 5, 10, seed=0, sampling="bogus")
