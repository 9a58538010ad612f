"""``--eval-every N --target-accuracy A`` in bench.measure: evaluations between steps, never
inside a step's timing; the steps and wall-clock seconds to the first evaluation at A."""

from __future__ import annotations

import time

import pytest
from bench_numpy.softmax import NumpySoftmax

from bench.classifier import ClassifierSpec, SetupConfig
from bench.job import RowJob, SchedulePlan
from bench.measure import measure
from bench.results.model import Row, RowIdentity
from bench.schedule import build_schedule

PREDICT_SECONDS = 0.25  # far above ten tiny steps, even on a crowded machine


class SlowToEvaluate(NumpySoftmax):
    """numpy, but every evaluation takes at least PREDICT_SECONDS; counts its evaluations and calls."""

    def setup(self, config: SetupConfig) -> None:
        super().setup(config)
        self.evaluated_after: list[int] = []
        self.calls: list[int] = []
        self.steps = 0

    def train_step(self, images, labels):
        self.steps += 1
        return super().train_step(images, labels)

    def train_steps_indices(self, indices):
        self.calls.append(len(indices))
        return super().train_steps_indices(indices)  # numpy's loops over train_step

    def predict(self, images):
        self.evaluated_after.append(self.steps)
        time.sleep(PREDICT_SECONDS)
        return super().predict(images)


def _measure(tiny_dataset, steps=10, **kwargs):
    dataset = tiny_dataset(dim=4, classes=6)  # learnable, but not to 100% in a few steps
    made: list[SlowToEvaluate] = []

    def factory():
        made.append(SlowToEvaluate())
        return made[-1]

    spec = ClassifierSpec("slow", "slow", factory, supports_resident=True, supports_steps_per_call=True)
    schedule = build_schedule(len(dataset.train_labels), steps, 20, 0)
    config = SetupConfig(learning_rate=0.05, batch_size=20, input_dim=dataset.input_dim,
                         num_classes=dataset.num_classes)
    job = RowJob("slow", "cpu", config, SchedulePlan.of(schedule), **kwargs)
    identity = RowIdentity("slow", "cpu", eval_every=job.eval_every, target_accuracy=job.target_accuracy)
    return Row(identity, measure(job, spec, dataset, schedule).measurement), made[0]


def test_evaluations_run_between_steps_and_count_toward_the_time_to_target(tiny_dataset):
    row, clf = _measure(tiny_dataset, eval_every=2, target_accuracy=0.6)
    assert row.status == "ok"
    assert clf.evaluated_after == [2, 4, 6, 8, 10]  # the last is the row's final evaluation
    assert [p[0] for p in row.accuracy_curve] == [2, 4, 6, 8, 10]
    assert row.accuracy_curve[-1][1] == row.test_accuracy
    # No step's time holds an evaluation: all ten steps together take less than one.
    assert row.train_seconds < PREDICT_SECONDS
    assert row.eval_during_training_seconds >= 4 * PREDICT_SECONDS
    reached = next(p for p in row.accuracy_curve if p[1] >= 0.6)
    assert row.steps_to_target == reached[0] and row.time_to_target_seconds == reached[2]
    # From the start of training to the end of that evaluation: it and every earlier one included.
    evaluations = row.accuracy_curve.index(reached) + 1
    assert row.time_to_target_seconds >= evaluations * PREDICT_SECONDS
    assert row.time_to_target_seconds < row.wall_seconds
    times = [p[2] for p in row.accuracy_curve]
    assert times == sorted(times)


def test_a_target_not_reached_is_none(tiny_dataset):
    row, _ = _measure(tiny_dataset, eval_every=5, target_accuracy=1.0)
    assert row.test_accuracy < 1.0
    assert row.target_accuracy == 1.0 and row.steps_to_target is None and row.time_to_target_seconds is None
    assert row.target_reached is False and len(row.accuracy_curve) == 2


def test_the_final_evaluation_counts(tiny_dataset):
    row, clf = _measure(tiny_dataset, eval_every=100, target_accuracy=0.01)
    assert clf.evaluated_after == [10] and row.steps_to_target == 10
    assert row.eval_during_training_seconds == 0.0


def test_many_steps_per_call_end_a_call_at_every_evaluation(tiny_dataset):
    row, clf = _measure(tiny_dataset, steps=20, eval_every=6, target_accuracy=0.5, placement="resident",
                        steps_per_call=5)
    assert clf.evaluated_after == [6, 12, 18, 20]
    assert sum(clf.calls) == 20 and clf.calls[0] == 1  # the first call is one step, as always
    single, _ = _measure(tiny_dataset, steps=20, eval_every=6, target_accuracy=0.5)
    assert [p[:2] for p in row.accuracy_curve] == [p[:2] for p in single.accuracy_curve]
    assert row.steps_to_target == single.steps_to_target


def test_without_eval_every_nothing_changes(tiny_dataset):
    row, clf = _measure(tiny_dataset)
    assert clf.evaluated_after == [10]
    assert row.accuracy_curve == [] and row.eval_every is None and row.eval_during_training_seconds is None
    assert row.target_reached is None


@pytest.mark.parametrize("every", [1, 3])
def test_a_diverged_row_keeps_its_curve_but_reaches_nothing(tiny_dataset, monkeypatch, every):
    original = SlowToEvaluate.train_step

    def diverge(self, images, labels):
        loss = original(self, images, labels)
        return float("nan") if self.steps == 5 else loss

    monkeypatch.setattr(SlowToEvaluate, "train_step", diverge)
    row, _ = _measure(tiny_dataset, eval_every=every, target_accuracy=1.0)
    assert row.status == "diverged" and row.diverged_at_step == 5
    assert [p[0] for p in row.accuracy_curve] == list(range(every, 5, every))
    assert row.steps_to_target is None
