"""bench/results/compare.py: one comparison of two runs, and the --fail-below gate."""

from __future__ import annotations

import pytest

from bench.errors import UsageError
from bench.results.compare import check_comparable, compare_runs, gate_lines, plan_repeats
from bench.results.model import Row, RunDocument, Status


def _run(*rows: Row, interrupted: str | None = None) -> RunDocument:
    return RunDocument("r", "", None, {}, {}, results=list(rows), interrupted=interrupted)


def _ok(plugin: str, rate: float) -> Row:
    return Row.of(plugin=plugin, device="cpu", steps_per_second=rate)


def test_rows_in_only_one_run_are_listed_and_a_lost_row_fails():
    baseline = _run(_ok("a", 100), _ok("b", 100))
    candidate = _run(_ok("a", 95), _ok("c", 50))
    comparisons = compare_runs(baseline, candidate, 0.8)
    assert [(c.label, c.ok, c.note) for c in comparisons] == [
        ("a (cpu)", True, ""), ("b (cpu)", False, "missing from the candidate"), ("c (cpu)", True, "only in the candidate"),
    ]
    lines, failed = gate_lines(comparisons, 0.8, candidate)
    assert failed and "REGRESSION b (cpu): missing from the candidate" in lines


def test_an_interrupted_candidate_fails_the_gate():
    lines, failed = gate_lines(compare_runs(_run(_ok("a", 100)), _run(_ok("a", 100), interrupted="SIGINT"), 0.8), 0.8,
                               _run(interrupted="SIGINT"))
    assert failed and any("interrupted" in line for line in lines)


def test_a_slow_row_fails_and_an_unavailable_one_is_not_compared():
    baseline = _run(_ok("a", 100), Row.of(plugin="g", device="gpu:0", steps_per_second=900))
    candidate = _run(_ok("a", 70), Row.of(plugin="g", device="gpu:0", status=Status.UNAVAILABLE))
    comparisons = compare_runs(baseline, candidate, 0.8)
    lines, failed = gate_lines(comparisons, 0.8, candidate)
    assert failed and lines[0].startswith("REGRESSION a (cpu): 70.0 steps/s is 0.700 x")
    assert any(line.startswith("not compared: g (gpu:0)") for line in lines)


def test_nothing_compared_fails():
    baseline = _run(Row.of(plugin="a", device="gpu:0", status=Status.UNAVAILABLE))
    lines, failed = gate_lines(compare_runs(baseline, _run(Row.of(plugin="a", device="gpu:0", steps_per_second=5.0)), 0.8), 0.8, _run())
    assert failed and lines[-1].startswith("nothing compared")


def test_sweep_rows_pair_by_their_varying_settings():
    def row(batch: int, rate: float) -> Row:
        return Row.of(plugin="a", device="cpu", steps_per_second=rate, settings={"batch_size": batch, "seed": 0})

    comparisons = compare_runs(_run(row(50, 100), row(100, 60)), _run(row(100, 59), row(50, 99)), 0.8)
    assert [(c.label, round(c.ratio, 2)) for c in comparisons] == [
        ("a (cpu, batch_size=50)", 0.99), ("a (cpu, batch_size=100)", 0.98),
    ]


def test_rows_that_differ_only_in_a_param_are_not_matched():
    def row(mode: str, rate: float) -> Row:
        return Row.of(plugin="jax", device="cpu", steps_per_second=rate, params={"mode": mode})

    comparisons = compare_runs(_run(row("xla", 100)), _run(row("eager", 10)), 0.8)
    assert [(c.label, c.ratio, c.note) for c in comparisons] == [
        ("jax (cpu, mode=xla)", None, "missing from the candidate"),
        ("jax (cpu, mode=eager)", None, "only in the candidate"),
    ]
    lines, failed = gate_lines(comparisons, 0.8, _run())
    assert failed and "REGRESSION jax (cpu, mode=xla): missing from the candidate" in lines
    # The same param value in both: one pair; a param only one run records is no difference.
    same = compare_runs(_run(row("xla", 100)), _run(row("xla", 90)))
    assert [(c.label, c.ratio) for c in same] == [("jax (cpu)", 0.9)]
    newer = Row.of(plugin="jax", device="cpu", steps_per_second=90, params={"mode": "xla", "layout": "dc"})
    assert [(c.label, c.ratio) for c in compare_runs(_run(row("xla", 100)), _run(newer))] == [("jax (cpu)", 0.9)]


def _repeated(plugin: str, rates: list[float]) -> Row:
    return Row.of(plugin=plugin, device="cpu", process_steps_per_second=rates, repeats=len(rates))


def test_verdicts_per_row_and_the_gate_that_fails_only_on_a_significant_slowdown():
    baseline = _run(_repeated("a", [1000, 1010, 990, 1005, 995]), _repeated("b", [500, 505, 495, 502, 498]),
                    _repeated("c", [200, 202, 198, 201, 199]))
    candidate = _run(_repeated("a", [750, 760, 740, 755, 745]), _repeated("b", [505, 500, 497, 503, 499]),
                     _repeated("c", [260, 262, 258, 261, 259]))
    comparisons = compare_runs(baseline, candidate, fail_on_slower=True)
    assert [(c.label, c.verdict, c.ok) for c in comparisons] == [
        ("a (cpu)", "slower", False), ("b (cpu)", "same", True), ("c (cpu)", "faster", True)]
    a = comparisons[0].test
    assert a is not None and a.basis == "processes" and a.p_value < 0.05 and a.ci95[0] < 0.75 < a.ci95[1]
    lines, failed = gate_lines(comparisons, None, candidate, fail_on_slower=True)
    assert failed and lines[0].startswith("REGRESSION a (cpu): slower: 750.0 steps/s is 0.750 x")
    assert lines[-1] == "1 of 3 rows fail the gate (no significant slowdown past 5%)"


def test_noise_past_fail_below_fails_that_gate_but_not_the_verdict_gate():
    # B/A = 0.9 but within the processes' noise: not significant
    baseline = _run(_repeated("a", [1000, 1200, 800, 1100, 900]))
    candidate = _run(_repeated("a", [900, 1150, 700, 1000, 850]))
    assert compare_runs(baseline, candidate, 0.95)[0].ok is False
    [row] = compare_runs(baseline, candidate, fail_on_slower=True)
    assert row.verdict == "same" and row.ok
    lines, failed = gate_lines([row], None, candidate, fail_on_slower=True)
    assert not failed and lines == ["all 1 compared rows pass the gate (no significant slowdown past 5%)"]


def test_a_larger_threshold_calls_a_significant_small_change_same():
    baseline = _run(_repeated("a", [1000, 1001, 1002, 1003, 1004]))
    candidate = _run(_repeated("a", [900, 901, 902, 903, 904]))
    assert compare_runs(baseline, candidate)[0].verdict == "slower"
    assert compare_runs(baseline, candidate, threshold=0.2)[0].verdict == "same"


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.1, 2.0])
def test_a_threshold_outside_0_1_is_refused(threshold):
    with pytest.raises(UsageError, match="--threshold must be a fraction between 0 and 1"):
        compare_runs(_run(), _run(), threshold=threshold)


@pytest.mark.parametrize(("key", "a", "b", "what"), [
    ("dataset", "cifar10", "synthetic", "datasets"), ("preprocessing", "reference", "standardize", "datasets"),
    ("steps", 1000, 500, "recipes"), ("learning_rate", 0.005, 0.01, "recipes"), ("batch_size", 100, 50, "recipes"),
])
def test_runs_of_different_datasets_or_recipes_are_refused(key, a, b, what):
    first = RunDocument("r", "", None, {}, {key: a})
    second = RunDocument("r", "", None, {}, {key: b})
    with pytest.raises(UsageError, match=f"different {what} \\({key} "):
        check_comparable(first, second)
    check_comparable(first, RunDocument("r", "", None, {}, {}))  # an older file without it: compared
    swept = RunDocument("r", "", None, {}, {key: b, "sweep": {key: [a, b]}})
    check_comparable(first, swept)  # a swept setting is compared row by row


def test_the_repeats_a_decision_needs_come_from_the_spread_between_processes():
    assert plan_repeats(_run(_ok("a", 100)), _run(_ok("a", 100))) is None
    plan = plan_repeats(_run(_repeated("a", [1000, 1100, 900, 1050, 950])), _run(_repeated("a", [1000] * 5)))
    assert plan is not None and plan.rows == 2 and plan.repeats > 5


def test_a_slowdown_seen_in_one_process_a_side_fails_the_gate_and_says_what_it_rests_on():
    def single(step: float) -> Row:
        return Row.of(plugin="a", device="cpu", step_seconds=[0.5, *[step * (1 + i % 5 / 100) for i in range(100)]])

    candidate = _run(single(0.002))
    comparisons = compare_runs(_run(single(0.001)), candidate, fail_on_slower=True)
    assert comparisons[0].verdict == "slower" and comparisons[0].test.basis == "steps"
    lines, failed = gate_lines(comparisons, None, candidate, fail_on_slower=True)
    assert failed and "from one process's steps a side" in lines[0] and "--repeat 5" in lines[0]
