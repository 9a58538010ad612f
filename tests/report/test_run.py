"""bench/report/run.py: a run for a terminal (the timeline of a sweep)."""

from __future__ import annotations

import pytest
from test_table import _doc, _row

from bench.report.run import timeline


def test_a_sweeps_timeline_sums_each_phase_over_the_rows():
    rows = [_row("a", seed, 20, first_step_seconds=0.1, train_seconds=0.5, eval_seconds=0.2,
                 eval_during_training_seconds=0.05) for seed in (0, 1)]
    phases = dict(timeline(_doc(rows)))
    assert phases["2 rows: first step"] == pytest.approx(0.2)
    assert phases["2 rows: other steps"] == pytest.approx(0.8)
    assert phases["2 rows: evaluations during training (predict)"] == pytest.approx(0.1)
    assert phases["2 rows: harness bookkeeping"] == pytest.approx(2 * (1.0 - 0.75))
