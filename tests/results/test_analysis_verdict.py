"""A row the machine cannot have produced is suspect, not ok (bench.results.analysis.verdict)."""

from __future__ import annotations

from bench.results.analysis import ROOFLINE_LIMIT, verdict
from bench.results.model import Row, Status


def _row(**fields: object) -> Row:
    values: dict = {"plugin": "p", "device": "cpu", "steps_completed": 100, "step_seconds": [0.01] * 100,
                    "eval_seconds": 0.05, "parameters_seconds": 0.001, "settings": {"batch_size": 100}}
    values.update(fields)
    return Row.of(**values)


def test_an_honest_row_stays_ok() -> None:
    assert verdict(_row(), 0.4, 1000).status == Status.OK


def test_faster_than_the_roofline_allows_is_suspect() -> None:
    row = verdict(_row(), ROOFLINE_LIMIT * 1.01, 1000)
    assert row.status == Status.SUSPECT and "measured ceilings" in row.error
    assert verdict(_row(), ROOFLINE_LIMIT, 1000).status == Status.OK


def test_training_done_in_parameters_or_predict_is_suspect() -> None:
    deferred = verdict(_row(step_seconds=[1e-5] * 100, eval_seconds=4.0), None, 1000)
    assert deferred.status == Status.SUSPECT and "outside the timed steps" in deferred.error
    in_parameters = verdict(_row(step_seconds=[1e-5] * 100, parameters_seconds=4.0), None, 1000)
    assert in_parameters.status == Status.SUSPECT


def test_predicting_a_large_test_set_or_compiling_is_not_suspect() -> None:
    # 100 steps of 100 images in 1 s; 100000 test images take 10 s to predict: the same rate
    assert verdict(_row(eval_seconds=10.0), None, 100_000).status == Status.OK
    # a first call that compiles for 5 s, and predict compiles as long
    assert verdict(_row(step_seconds=[5.0] + [0.001] * 99, eval_seconds=5.5), None, 1000).status == Status.OK


def test_a_row_that_is_not_ok_keeps_its_status() -> None:
    assert verdict(_row(status="failed", error="boom"), 100.0, 1000).status == Status.FAILED
