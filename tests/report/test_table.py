"""bench/report/table.py: the results table, its sweep columns, parity references and the
time-to-accuracy columns."""

from __future__ import annotations

from bench.report.table import NOT_REACHED, parity_note, results_table
from bench.results.identity import ordered_rows, references
from bench.results.model import Row, RunDocument


def _doc(rows: list[Row]) -> RunDocument:
    return RunDocument("r", "", None, {}, {"parity_step": 10}, results=rows)


def _row(plugin: str, seed: int, batch: int, **fields) -> Row:
    settings = {"seed": seed, "batch_size": batch}
    return Row.of(plugin=plugin, device="cpu", settings=settings, schedule_sha256=f"{seed}/{batch}", steps_per_second=100.0,
               test_accuracy=0.3, wall_seconds=1.0, **fields)


def test_table_groups_by_classifier_then_the_varying_settings_and_marks_each_reference():
    rows = [_row("b", 0, 40), _row("a", 0, 40), _row("b", 0, 20), _row("a", 0, 20), _row("a", 1, 20)]
    document = _doc(rows)
    order = [(r.plugin, r.settings["batch_size"], r.settings["seed"]) for r in ordered_rows(document)]
    assert order == [("b", 20, 0), ("b", 40, 0), ("a", 20, 0), ("a", 20, 1), ("a", 40, 0)]
    assert references(document) == [rows[0], rows[2], rows[4]]  # the first ok row of each schedule
    lines = results_table(document, width=0).splitlines()
    assert lines[0].split()[:5] == ["plugin", "device", "status", "batch", "seed"]
    assert sum(" ref " in line for line in lines[2:]) == 3
    assert "same seed and batch size" in parity_note(document)
    assert parity_note(_doc([_row("a", 0, 20), _row("b", 0, 20)])) is None


def test_time_to_target_columns_and_the_not_reached_marker():
    reached = _row("a", 0, 20, target_accuracy=0.25, steps_to_target=30, time_to_target_seconds=0.5)
    missed = _row("a", 1, 20, target_accuracy=0.25)
    text = results_table(_doc([reached, missed]), width=0)
    header, _, first, second = text.splitlines()
    assert "steps to 25%" in header and "s to 25%" in header
    assert " 30 " in first and "0.500" in first
    assert second.count(NOT_REACHED) == 2
    picked = results_table(_doc([reached, missed]), columns=["plugin", "to_target"]).splitlines()
    assert picked[0].split() == ["plugin", "seed", "steps", "to", "25%", "s", "to", "25%"]
    assert missed.target_reached is False and reached.target_reached is True and Row.of(plugin="x", device="cpu").target_reached is None


def test_the_rate_cell_shows_the_interval_over_processes_and_not_one_process_steps():
    from bench.report.table import rate_cell

    repeated = Row.of(plugin="a", device="cpu", process_steps_per_second=[1000.0, 1060.0, 940.0, 1030.0, 970.0])
    low, high = repeated.steps_per_second_ci95
    assert rate_cell(repeated) == f"1000 ±{100 * max(high - 1000, 1000 - low) / 1000:.0f}%"
    single = Row.of(plugin="a", device="cpu", step_seconds=[0.5, 0.001, 0.0011, 0.0009, 0.001])
    assert rate_cell(single) == "1000"  # one process: no interval of the variation between processes
