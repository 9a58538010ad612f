"""bench/report/compare.py: two runs side by side as ``bench compare`` prints them."""

from __future__ import annotations

from bench.report.compare import compare_table, render_comparison
from bench.results.compare import compare_runs
from bench.results.model import Row, RunDocument


def _run(*rows: Row) -> RunDocument:
    return RunDocument("r", "", None, {}, {}, results=list(rows))


def test_the_table_and_the_gate():
    baseline = _run(Row.of(plugin="a", device="cpu", steps_per_second=100.0, test_accuracy=0.25), Row.of(plugin="b", device="cpu", steps_per_second=50.0))
    candidate = _run(Row.of(plugin="a", device="cpu", steps_per_second=70.0, test_accuracy=0.26))
    comparisons = compare_runs(baseline, candidate, 0.8)
    lines = compare_table(comparisons, width=0).splitlines()
    assert lines[0].split()[:4] == ["row", "A", "steps/s", "B"]
    assert lines[2].split() == ["a", "(cpu)", "100", "70", "0.700", "-", "-", "-", "25.00", "26.00", "1.00"]  # no step times: no test
    assert lines[3].split()[:4] == ["b", "(cpu)", "50", "-"]
    assert lines[4] == "  b (cpu): missing from the candidate"  # notes under the table
    text, failed = render_comparison(("A.json", "B\x1b.json"), baseline, candidate, comparisons, fail_below=0.8)
    assert failed and text.startswith("A: A.json\nB: B\\x1b.json\n")
    assert "REGRESSION a (cpu): 70.0 steps/s is 0.700 x the baseline's 100.0 (below 0.8)" in text
    text, failed = render_comparison(("A", "B"), baseline, candidate, comparisons)
    assert not failed and "REGRESSION" not in text


def test_verdicts_intervals_and_the_basis_in_the_table_and_json():
    import json

    from bench.report.compare import comparison_json

    def repeated(rates):
        return Row.of(plugin="a", device="cpu", process_steps_per_second=rates, repeats=len(rates))

    def single(step):
        return Row.of(plugin="b", device="cpu", step_seconds=[0.5, *[step * (1 + i % 7 / 100) for i in range(200)]])

    baseline = _run(repeated([1000, 1010, 990, 1005, 995]), single(0.001))
    candidate = _run(repeated([750, 760, 740, 755, 745]), single(0.001))
    comparisons = compare_runs(baseline, candidate)
    a, b = compare_table(comparisons, width=0).splitlines()[2:4]
    assert a.split()[2:5] == ["1000", "±1%", "750"] and a.split()[8:10] == ["0.008", "slower"]
    assert "same*" in b.split()  # one process a side: its steps were compared
    text, failed = render_comparison(("A", "B"), baseline, candidate, comparisons)
    assert not failed and "*: one worker process a side" in text and "repeats needed: --repeat" in text
    data = json.loads(comparison_json(("A", "B"), baseline, candidate, comparisons)[0])
    assert [(r["row"], r["verdict"], r["basis"]) for r in data["rows"]] == [
        ("a (cpu)", "slower", "processes"), ("b (cpu)", "same", "steps")]
    assert data["rows"][0]["p_value"] < 0.01 and len(data["rows"][0]["ci95"]) == 2 and data["gate"] is None


def test_one_line_per_row_sums_the_speed_and_the_accuracy_verdicts():
    """Speed from the processes' steps/s, accuracy from each row's seeds (Welch's t)."""
    from bench.report.compare import summary_lines
    from bench.results.compare import compare_runs

    def run(rate: float, accuracies: list[float]) -> RunDocument:
        rows = [Row.of(plugin="a", device="cpu", settings={"seed": seed}, test_accuracy=accuracy,
                       steps_per_second=rate, repeats=5, process_steps_per_second=[rate * f for f in SPREAD])
                for seed, accuracy in enumerate(accuracies)]
        return RunDocument("r", "", None, {}, {}, results=rows)

    SPREAD = [0.99, 1.0, 1.01, 0.995, 1.005]
    baseline, slower = run(100.0, [0.25, 0.26, 0.27]), run(60.0, [0.25, 0.26, 0.27])
    lines = summary_lines(compare_runs(baseline, slower), baseline, slower)
    assert lines[0].startswith("a (cpu, seed=0): B slower by 40 % (p=") and lines[0].endswith("accuracy the same")
    worse = run(100.0, [0.20, 0.201, 0.199])
    lines = summary_lines(compare_runs(baseline, worse), baseline, worse)
    assert lines[0].startswith("a (cpu, seed=0): speed the same, accuracy lower by 6.00 points (p")


def test_the_table_leaves_out_the_accuracy_columns_to_fit_80_columns_and_says_so():
    baseline = _run(Row.of(plugin="a-classifier-with-a-long-name", device="cpu", steps_per_second=100.0,
                           test_accuracy=0.25))
    candidate = _run(Row.of(plugin="a-classifier-with-a-long-name", device="cpu", steps_per_second=70.0,
                            test_accuracy=0.26))
    text = compare_table(compare_runs(baseline, candidate), width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    header = text.splitlines()[0]
    assert "verdict" in header and "B-A pts" not in header
    assert "B-A pts" in text.splitlines()[-1] and "left out to fit the terminal" in text
