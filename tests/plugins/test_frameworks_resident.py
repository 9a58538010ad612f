"""``--placement resident`` and ``--steps-per-call``: the same updates as ``feed``, exactly.

Gathering is exact, so a placement or a loop of steps that changed the arithmetic would
show as a difference in the last bit; everything here is asserted bit-identical.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import SetupConfig, runner
from bench.plugins import installed_registry
from bench.runner import RunConfig

NEW = ("jax-jit", "jax-eager", "torch-eager", "torch-compile")
# The shapes and learning rate of the other torch-compile tests: one compilation per process.
ROWS, DIM, BATCH, STEPS = 1000, 3072, 100, 25


def _train(make, name: str, mode: str, images, labels, schedule):
    """Train along ``schedule``; ``mode``: ``feed``, ``resident``, or ``calls`` (resident,
    several steps per call, cut as the runner cuts them: 1 step, then up to 9, then the rest)."""
    clf = make(name)
    clf.setup(SetupConfig(learning_rate=0.05, batch_size=BATCH, input_dim=DIM, num_classes=10))
    try:
        if mode == "feed":
            losses = [clf.train_step(np.ascontiguousarray(images[rows]), labels[rows]) for rows in schedule]
        else:
            clf.place_dataset(images, labels)
            if mode == "calls":
                calls = (schedule[:1], schedule[1:10], schedule[10:])
                losses = [float(loss) for call in calls for loss in clf.train_steps_indices(call)]
            else:
                losses = [clf.train_step_indices(rows) for rows in schedule]
        return clf.parameters(), losses
    finally:
        clf.close()


@pytest.fixture(scope="module")
def problem(synthetic):
    images, labels = synthetic(ROWS, seed=4)
    schedule = np.random.RandomState(1).randint(0, ROWS, size=(STEPS, BATCH))
    return images, labels, schedule


def _assert_same(make, name, mode, reference_mode, problem):
    expected, expected_losses = _train(make, name, reference_mode, *problem)
    actual, actual_losses = _train(make, name, mode, *problem)
    assert actual_losses == expected_losses
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


@pytest.mark.parametrize("name", NEW)
def test_resident_equals_feed_exactly(name, make, require, problem):
    require(name)
    _assert_same(make, name, "resident", "feed", problem)


def test_lax_scan_steps_equal_single_steps_exactly(make, require, problem):
    require("jax-jit")
    _assert_same(make, "jax-jit", "calls", "resident", problem)


@pytest.mark.parametrize("name", NEW)
def test_steps_per_call_through_the_runner(name, require, monkeypatch, tiny_dataset):
    require(name)
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())
    config = RunConfig(plugins=[name], steps=12, batch_size=20, learning_rate=0.05, roofline=False,
                       placement="resident", steps_per_call=5, executor="inprocess")  # the tiny set is patched in here
    (row,) = runner.run(config, installed_registry()).rows
    spec = installed_registry().get(name)
    if spec.supports_steps_per_call:
        assert row.status == "ok" and row.steps_completed == 12 and row.steps_per_call == 5
    else:
        assert row.status == "unavailable" and "steps-per-call" in row.error
