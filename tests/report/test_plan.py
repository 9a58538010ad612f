"""bench/report/plan.py: a sweep's plan as ``bench sweep --dry-run`` prints it."""

from __future__ import annotations

from bench_numpy.softmax import NumpySoftmax

from bench.classifier import ClassifierSpec
from bench.plan import plan_rows
from bench.report.plan import plan_summary, plan_table
from bench.settings import RunConfig, sweep_combinations

NUMPY = ClassifierSpec("numpy", "numpy", NumpySoftmax, supports_resident=True, supports_steps_per_call=True)


def test_the_plan_table_marks_each_schedule_s_reference_and_the_unavailable_rows():
    config = RunConfig(plugins=["numpy"], steps=12, batch_size=20, executor="inprocess")
    combos = sweep_combinations(config, {"seed": [0, 1], "placement": ["feed", "resident"], "steps_per_call": [1, 3]})
    planned = plan_rows(combos, [NUMPY], {"numpy": {}}, lambda spec: ["cpu"])
    lines = plan_table(planned).splitlines()
    assert lines[0].split() == ["#", "plugin", "device", "seed", "placement", "k/call", "parity", "status"]
    body = [line.split() for line in lines[2:10]]
    assert [row[-2:] for row in (body[0], body[4])] == [["ref", "run"]] * 2  # one reference per seed
    assert body[1][-2:] == ["-", "unavailable"]  # feed with 3 steps per call; why: under the table
    assert lines[10].startswith("#2, #6 unavailable: --steps-per-call needs --placement resident")
    assert body[3][-3:] == ["vs", "#1", "run"] and body[7][-3:] == ["vs", "#5", "run"]
    summary = plan_summary(planned)
    assert summary.startswith("8 rows: 6 to run, 2 unavailable; 2 batch schedule(s) of 12 steps")
    assert summary.endswith("nothing was run (--dry-run)")
