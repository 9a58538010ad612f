"""bench/results/noise.py and the table's busy mark: a row timed while other processes kept
the CPUs busy is marked, a row whose threads competed for them gets a line, and rows
without the figures (older files) are neither."""

from __future__ import annotations

from bench.report.run import render_run
from bench.report.table import noise_notes, results_table
from bench.results.model import Row, RunDocument
from bench.results.noise import is_busy, oversubscribed


def _row(others: float | None, threads: int | None = None, active: int = 1, window: float = 10.0, **fields) -> Row:
    noise = {} if others is None else {"others_cpu_seconds": others * window, "noise_window_seconds": window,
                                       "cpu_count": 2, "active_threads": active, "load_average": 5.0,
                                       "involuntary_switches": 4000}
    return Row.of(plugin="torch-compile", device="cpu", steps_per_second=25.0, settings={"threads": threads},
                  **noise, **fields)


def test_busy_means_others_kept_a_quarter_of_the_cpus_busy():
    assert is_busy(_row(0.5)) and not is_busy(_row(0.4)) and not is_busy(_row(None))
    assert not is_busy(_row(1.9, window=0.2))  # too short to judge


def test_threads_beyond_the_free_cpus_get_a_line_with_advice():
    note = oversubscribed(_row(1.6, active=2))
    assert note is not None and "2 busy threads (the framework default)" in note
    assert "1.6 of 2 CPUs" in note and "--threads 1" in note and "4000 involuntary switches" in note
    assert "ran --threads 2 while" in (oversubscribed(_row(1.6, threads=2, active=2)) or "")
    assert oversubscribed(_row(1.8, threads=1, active=2)) is None  # already what it would advise
    assert oversubscribed(_row(1.6, active=1)) is None  # one thread competes with nobody of its own
    assert oversubscribed(_row(0.5, active=2)) is None  # 1.5 CPUs free: two threads fit
    assert oversubscribed(_row(0.2, active=4)) is None  # not busy


def test_the_table_marks_busy_rows_and_explains_the_mark_once():
    document = RunDocument("r", "", None, {}, {}, results=[_row(1.6, active=2), _row(0.1), _row(None)])
    lines = results_table(document, width=0, columns=["plugin", "steps_per_second"]).splitlines()
    assert [line.split()[-1] for line in lines[2:]] == ["25*", "25", "25"]
    notes = noise_notes(document)
    assert notes[0].startswith("* timed on a busy machine: other processes kept 1.6 CPUs busy")
    assert len(notes) == 2 and "--threads 1" in notes[1]
    assert "* timed on a busy machine" in render_run(document, width=0)
    assert noise_notes(RunDocument("r", "", None, {}, {}, results=[_row(None)])) == []
    many = noise_notes(RunDocument("r", "", None, {}, {}, results=[_row(1.6, active=2) for _ in range(5)]))
    assert len(many) == 5 and many[-1] == "  and 2 more rows whose threads outnumbered the free CPUs"


def test_the_noise_figures_survive_a_round_trip_and_files_without_them_load():
    document = RunDocument("r", "", None, {}, {}, results=[_row(1.6, active=2), _row(None)])
    again = RunDocument.from_dict(document.to_dict())
    assert again.results[0].others_cpu_seconds == 16.0 and again.results[0].active_threads == 2
    assert again.results[1].load_average is None and not is_busy(again.results[1])
