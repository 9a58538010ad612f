"""bench/results/model.py: raw step times kept, statistics derived in one place, old files read."""

from __future__ import annotations

import json
import math
import random

import pytest

from bench.results.model import ResultFormatError, Row, RunDocument, Status, StepStats

pytest.importorskip("pytest_benchmark")
from pytest_benchmark.stats import Stats  # noqa: E402 - after the skip


def _reference(data):
    stats = Stats()
    for value in data:
        stats.update(value)
    return stats.as_dict()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 10, 11, 50, 101])
def test_step_stats_match_pytest_benchmark(n):
    rng = random.Random(n)
    data = [rng.lognormvariate(-7, 0.3) for _ in range(n)]
    ours = StepStats(tuple(data)).as_pytest_benchmark()
    for key, expected in _reference(data).items():
        assert ours[key] == (expected if isinstance(expected, str) else pytest.approx(expected, rel=1e-12)), key
    assert ours["iterations"] == 1


@pytest.mark.parametrize("data", [
    [1.0] * 10 + [100.0],                     # one far outlier above
    [0.01] + [1.0] * 9 + [1.5, 40.0],         # outliers on both sides
    [2.0, 2.0, 2.0, 2.0, 3.0, 9.0, 9.5, 10.0],
])
def test_outlier_statistics_match_pytest_benchmark(data):
    ours = StepStats(tuple(data)).as_pytest_benchmark()
    for key in ("hd15iqr", "ld15iqr", "iqr_outliers", "stddev_outliers", "outliers", "q1", "q3", "iqr"):
        assert ours[key] == _reference(data)[key], key


def test_a_row_derives_steps_per_second_from_its_raw_times():
    row = Row.of(plugin="numpy", device="cpu", step_seconds=[0.5, 0.002, 0.004, 0.001])
    assert row.first_step_seconds == 0.5 and row.train_seconds == pytest.approx(0.507)
    assert row.steps_per_second == pytest.approx(1 / 0.002)  # the first step left out
    saved = row.to_dict()
    assert "step_seconds_median" not in saved and saved["step_seconds"] == [0.5, 0.002, 0.004, 0.001]
    assert Row.from_dict(json.loads(json.dumps(saved))).stats.median == 0.002


def test_statuses_are_an_enum_saved_as_text():
    row = Row.of(plugin="x", device="cpu", status=Status.TIMEOUT)
    assert row.to_dict()["status"] == "timeout" and Row.from_dict(row.to_dict()).status is Status.TIMEOUT
    with pytest.raises(ResultFormatError, match="not a known status"):
        Row.from_dict({"plugin": "x", "status": "fine"})


def test_nan_parity_survives_a_round_trip():
    row = Row.of(plugin="x", device="cpu", parity_max_abs_diff=math.nan)
    saved = json.loads(json.dumps(row.to_dict()))
    assert saved["parity_max_abs_diff"] == "nan"
    assert math.isnan(Row.from_dict(saved).parity_max_abs_diff)


SCHEMA_1 = {
    "schema_version": 1, "run_id": "old", "created": "2026-11-29", "command": ["bench", "run"],
    "machine": {"cpu": "x"}, "config": {"parity_step": 10}, "batch_schedule_sha256": "ab",
    "timeline": [["start-up", 0.1], ["numpy (cpu): load", 0.0]],
    "results": [{"plugin": "numpy", "device": "cpu", "status": "ok", "steps_per_second": 1776.0,
                 "step_seconds_median": 0.000563, "step_seconds_p10": 0.0005, "test_accuracy": 0.2626,
                 "first_step_seconds": 0.001}],
}


def test_schema_1_files_still_load():
    document = RunDocument.from_dict(json.loads(json.dumps(SCHEMA_1)))
    [row] = document.results
    assert row.steps_per_second == 1776.0 and row.stats is None and row.test_accuracy == 0.2626
    assert document.schema_version == 1 and document.timeline[0] == ("start-up", 0.1)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("steps_per_second", "fast", "not a finite number"),
    ("step_seconds", [0.1, -1], "not a list of step times"),
    ("steps_completed", 1.5, "not an integer"),
    ("error", 7, "not a string"),
    ("loss_curve", [[1]], "[step, loss] pairs"),
    ("accuracy_curve", [[10, 0.3]], "[step, accuracy, seconds] triples"),
    ("steps_to_target", 2.5, "not an integer"),
    ("time_to_target_seconds", "soon", "not a finite number"),
    ("target_accuracy", True, "not a finite number"),
    ("schedule_sha256", 12, "not a string"),
    ("settings", [1], "not an object"),
])
def test_a_bad_row_field_is_named(field, value, message):
    with pytest.raises(ResultFormatError, match=rf"results\[0\]\.{field}.*{message}" if "[" not in message else None):
        RunDocument.from_dict({**SCHEMA_1, "results": [{**SCHEMA_1["results"][0], field: value}]})


def test_unknown_row_fields_are_kept():
    row = Row.from_dict({"plugin": "x", "device": "cpu", "status": "ok", "future_field": [1, 2]})
    assert row.to_dict()["future_field"] == [1, 2]


def test_time_to_accuracy_and_settings_survive_a_round_trip():
    row = Row.of(plugin="numpy", device="cpu", eval_every=10, accuracy_curve=[[10, 0.2, 0.05], [20, 0.31, 0.1]], target_accuracy=0.3,
              steps_to_target=20, time_to_target_seconds=0.1, eval_during_training_seconds=0.01,
              schedule_sha256="ab" * 32, settings={"batch_size": 50, "seed": 1, "threads": None})
    again = Row.from_dict(row.to_dict())
    assert again == row and again.target_reached
    missed = Row.from_dict({**row.to_dict(), "steps_to_target": None, "time_to_target_seconds": None})
    assert missed.target_reached is False


def test_a_row_of_several_processes_saves_them_its_median_and_interval_and_loads_again():
    row = Row.of(plugin="a", device="cpu", step_seconds=[0.5, 0.001, 0.001, 0.001], repeats=3,
                 process_steps_per_second=[1000.0, 1100.0, 900.0])
    assert row.steps_per_second == 1000.0  # the median over processes, not the first process's
    saved = row.to_dict()
    assert saved["repeats"] == 3 and saved["process_steps_per_second"] == [1000.0, 1100.0, 900.0]
    low, high = saved["steps_per_second_ci95"]
    assert low < 1000.0 < high and saved["steps_per_second_ci95_basis"] == "processes"
    again = Row.from_dict(saved)
    assert again == row and again.steps_per_second_ci95 == [low, high]


def test_a_row_saved_before_repeats_loads_as_one_process_with_an_interval_from_its_steps():
    saved = Row.of(plugin="a", device="cpu", step_seconds=[0.5, *[0.001 + i * 1e-6 for i in range(50)]]).to_dict()
    for key in ("repeats", "process_steps_per_second", "steps_per_second_ci95", "steps_per_second_ci95_basis"):
        del saved[key]
    row = Row.from_dict(saved)
    assert row.repeats == 1 and row.process_steps_per_second == []
    assert row.steps_per_second_ci95_basis == "steps"
    low, high = row.steps_per_second_ci95
    assert low < row.steps_per_second < high


@pytest.mark.parametrize(("key", "value"), [("repeats", 0), ("repeats", 1.5), ("process_steps_per_second", [-1.0]),
                                            ("process_steps_per_second", "fast")])
def test_bad_repeat_fields_are_named(key, value):
    saved = Row.of(plugin="a", device="cpu", step_seconds=[0.5, 0.001]).to_dict()
    saved[key] = value
    with pytest.raises(ResultFormatError, match=key):
        Row.from_dict(saved)
