"""The parent's verdict on a worker's report: its predictions read within limits, the
protocol's order, its times against the parent's clock."""

from __future__ import annotations

import numpy as np
import pytest

from bench.execute.verdict import (
    PREDICTIONS_FILE,
    Observed,
    ReportError,
    clock_problem,
    credited,
    order_problem,
    read_predictions,
)
from bench.job import RowJob, SchedulePlan
from bench.results.model import Measurement, Status
from bench.schedule import build_schedule

LABELS = np.array([0, 1, 2, 3, 0, 1], dtype=np.int64)
FINAL = {"steps": [4], "seconds": [0.5], "final": True}


def _job(eval_every: int | None = None, target: float | None = None) -> RowJob:
    from bench.classifier import SetupConfig

    schedule = SchedulePlan.of(build_schedule(60, 6, 6, seed=0))
    setup = SetupConfig(learning_rate=0.1, batch_size=6, input_dim=3, num_classes=4, device="cpu", seed=0)
    return RowJob(classifier="x", device="cpu", setup=setup, schedule=schedule, eval_every=eval_every,
                  target_accuracy=target)


def _observed(training: float = 1.0, evaluation: float = 0.1) -> Observed:
    seen = Observed()
    for name, at in (("load", 0.0), ("setup", 0.1), ("training", 0.2), ("evaluation", 0.2 + training),
                     ("report", 0.2 + training + evaluation)):
        seen.phase(name, at)
    return seen


def _honest(**fields: object) -> Measurement:
    values: dict = {"steps_completed": 4, "step_seconds": [0.25] * 4, "eval_seconds": 0.1, "test_accuracy": 0.99}
    values.update(fields)
    return Measurement(**values)


def test_the_parent_scores_the_predictions_and_ignores_the_reported_accuracy(tmp_path) -> None:
    np.save(tmp_path / PREDICTIONS_FILE, np.array([[0, 1, 2, 3, 3, 3]], dtype=np.int16))
    predictions = read_predictions(tmp_path, FINAL, len(LABELS), 4)
    row = credited(_honest(), predictions, LABELS, _job(), _observed())
    assert row.status == Status.OK and row.test_accuracy == pytest.approx(4 / 6)


def test_the_accuracy_curve_and_the_target_are_the_parent_s(tmp_path) -> None:
    np.save(tmp_path / PREDICTIONS_FILE, np.array([[3] * 6, [0, 1, 2, 3, 3, 3], [0, 1, 2, 3, 0, 1]], dtype=np.int8))
    report = {"steps": [2, 4, 6], "seconds": [0.1, 0.2, 0.3], "final": True}
    predictions = read_predictions(tmp_path, report, len(LABELS), 4)
    row = credited(_honest(steps_completed=6, step_seconds=[0.16] * 6), predictions, LABELS, _job(2, 0.6),
                   _observed())
    assert [point[:2] for point in row.accuracy_curve] == [[2, pytest.approx(1 / 6)], [4, pytest.approx(4 / 6)],
                                                          [6, 1.0]]
    assert (row.steps_to_target, row.time_to_target_seconds) == (4, 0.2)


@pytest.mark.parametrize("array, message", [
    (np.zeros((1, 5), dtype=np.int16), "shape"),
    (np.zeros((2, 6), dtype=np.int16), "shape"),
    (np.zeros((1, 6), dtype=np.float32), "float32"),
    (np.full((1, 6), 4, dtype=np.int16), "outside 0..3"),
    (np.array([[object()] * 6]), "object"),
])
def test_predictions_that_are_not_one_line_of_class_indices_are_refused(tmp_path, array, message) -> None:
    np.save(tmp_path / PREDICTIONS_FILE, array, allow_pickle=True)
    with pytest.raises(ReportError, match=message):
        read_predictions(tmp_path, FINAL, len(LABELS), 4)


@pytest.mark.parametrize("report", [[1], {"steps": [1], "seconds": [], "final": True},
                                    {"steps": ["1"], "seconds": [0.1], "final": True},
                                    {"steps": [1], "seconds": [float("nan")], "final": True}])
def test_a_malformed_description_is_refused(tmp_path, report) -> None:
    with pytest.raises(ReportError):
        read_predictions(tmp_path, report, len(LABELS), 4)


def test_a_truncated_predictions_file_is_refused(tmp_path) -> None:
    np.save(tmp_path / PREDICTIONS_FILE, np.zeros((1, 6), dtype=np.int64))
    data = (tmp_path / PREDICTIONS_FILE).read_bytes()
    (tmp_path / PREDICTIONS_FILE).write_bytes(data[:-8])
    with pytest.raises(ReportError, match="cannot be read"):
        read_predictions(tmp_path, FINAL, len(LABELS), 4)


def test_a_missing_predictions_file_is_refused(tmp_path) -> None:
    with pytest.raises(ReportError, match="cannot be read"):
        read_predictions(tmp_path, FINAL, len(LABELS), 4)


def test_an_ok_report_without_final_predictions_fails(tmp_path) -> None:
    row = credited(_honest(), read_predictions(tmp_path, None, len(LABELS), 4), LABELS, _job(), _observed())
    assert row.status == Status.FAILED and row.test_accuracy is None


def test_reports_out_of_order_or_without_training_are_suspect() -> None:
    seen = _observed()
    seen.phase("training", 9.0)
    assert "out of order" in (order_problem(seen) or "")
    early = Observed()
    early.phase("load", 0.0)
    assert "never saw its training and evaluation" in (order_problem(early) or "")
    assert order_problem(_observed()) is None


def test_the_parent_s_clock_bounds_the_reported_times() -> None:
    assert clock_problem(_honest(), _observed(training=1.0)) is None
    assert clock_problem(_honest(), _observed(training=2.4)) is None  # a loaded machine: within the margin
    slowed = clock_problem(_honest(step_seconds=[0.01] * 4), _observed(training=1.0))
    assert slowed is not None and "parent's clock saw 1 s" in slowed
    inflated = clock_problem(_honest(step_seconds=[2.0] * 4), _observed(training=1.0))
    assert inflated is not None and "saw only" in inflated
    assert "evaluation" in (clock_problem(_honest(eval_seconds=0.001), _observed(evaluation=3.0)) or "")
