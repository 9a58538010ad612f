"""bench/results/compare.py: one comparison of two runs, and the --fail-below gate."""

from __future__ import annotations

from bench.results.compare import compare_runs, gate_lines
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
