"""``--placement resident`` and ``--steps-per-call``: the same updates as ``feed``, exactly.

Gathering is exact, so a placement or a loop of steps that changed the arithmetic would
show as a difference in the last bit; everything here is asserted bit-identical.
"""

from __future__ import annotations

import numpy as np
import pytest
from training_checks import assert_same_training

from bench import runner
from bench.plugins import installed_registry
from bench.runner import RunConfig

NEW = ("jax-jit", "jax-eager", "torch-eager", "torch-compile")
# The shapes and learning rate of the other torch-compile tests: one compilation per process.
ROWS, BATCH, STEPS = 1000, 100, 25  # 3072 inputs: the synthetic set's


@pytest.fixture(scope="module")
def problem(synthetic):
    images, labels = synthetic(ROWS, seed=4)
    schedule = np.random.RandomState(1).randint(0, ROWS, size=(STEPS, BATCH))
    return images, labels, schedule


def _assert_same(make, name, mode, reference_mode, problem):
    assert_same_training(lambda: make(name), mode, reference_mode, *problem)


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
