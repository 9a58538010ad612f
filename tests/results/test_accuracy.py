"""bench/results/accuracy.py: accuracy over seeds as a mean with a t interval, rows grouped
by everything but the seed, and Welch's verdict on two rows' accuracies."""

from __future__ import annotations

import math

import pytest

from bench.report.accuracy import accuracy_table
from bench.results.accuracy import accuracy_verdict, seed_groups, seed_spreads, spread
from bench.results.model import Row, RunDocument, Status


def _row(plugin: str, seed: int, accuracy: float | None, **settings) -> Row:
    return Row.of(plugin=plugin, device="cpu", test_accuracy=accuracy, settings={"seed": seed, "batch_size": 100,
                                                                                 **settings})


def test_the_interval_is_students_t_over_the_seeds():
    found = spread([0.22, 0.25, 0.29, 0.24, 0.27])
    mean = 0.254
    sd = math.sqrt(sum((v - mean) ** 2 for v in found.values) / 4)
    half = 2.7764451051977987 * sd / math.sqrt(5)  # t(0.975, 4)
    assert found.mean == pytest.approx(mean) and found.stddev == pytest.approx(sd)
    assert found.interval == pytest.approx((mean - half, mean + half))
    assert found.describe() == f"25.40 % (95 % CI {100 * (mean - half):.2f}-{100 * (mean + half):.2f}, 5 seeds)"
    one = spread([0.3])
    assert one.interval is None and one.describe() == "30.00 % (1 seed)"


def test_rows_that_differ_only_in_the_seed_are_one_group():
    rows = [_row("a", 0, 0.2), _row("a", 1, 0.3), _row("a", 0, 0.5, batch_size=50), _row("b", 0, 0.4),
            _row("a", 2, None), Row.of(plugin="a", device="cpu", status=Status.FAILED, settings={"seed": 3})]
    groups = list(seed_groups(rows).values())
    assert [[r.test_accuracy for r in g] for g in groups] == [[0.2, 0.3], [0.5], [0.4]]
    spreads = seed_spreads(rows)
    assert [(row.plugin, found.n) for row, found in spreads] == [("a", 2), ("a", 1), ("b", 1)]
    assert seed_spreads([_row("a", 0, 0.2), _row("b", 0, 0.3)]) == []  # no row ran with two seeds


def test_the_report_shows_each_rows_spread_and_nothing_without_seeds():
    rows = [_row(p, s, acc) for p, accs in (("a", (0.22, 0.25, 0.29)), ("b", (0.3, 0.31, 0.29)))
            for s, acc in enumerate(accs)]
    table = accuracy_table(RunDocument("r", "", None, {}, {}, results=rows))
    assert table is not None
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["accuracy", "over", "seeds"]
    assert lines[2].split()[:4] == ["a", "(cpu)", "3", "25.33"] and lines[3].split()[:4] == ["b", "(cpu)", "3", "30.00"]
    assert accuracy_table(RunDocument("r", "", None, {}, {}, results=rows[:1])) is None


@pytest.mark.parametrize(("baseline", "candidate", "verdict"), [
    ([0.22, 0.25, 0.29, 0.24, 0.27], [0.23, 0.26, 0.28, 0.25, 0.24], "same"),
    ([0.22, 0.25, 0.29, 0.24, 0.27], [0.35, 0.37, 0.36, 0.38, 0.34], "higher"),
    ([0.35, 0.37, 0.36, 0.38, 0.34], [0.22, 0.25, 0.29, 0.24, 0.27], "lower"),
    ([0.3, 0.3], [0.3, 0.3], "same"),
    ([0.3, 0.3], [0.31, 0.31], "higher"),
    ([0.3], [0.2, 0.25], "unknown"),
])
def test_welchs_verdict(baseline, candidate, verdict):
    found = accuracy_verdict(baseline, candidate)
    assert found.verdict == verdict
    if verdict in ("higher", "lower"):
        assert found.p_value is not None and found.p_value < 0.05
        assert found.describe().startswith(f"accuracy {verdict} by ")
    elif verdict == "same":
        assert found.describe() == "accuracy the same"
    else:
        assert "2 seeds" in found.describe()


def test_welchs_p_value_is_scipys():
    stats = pytest.importorskip("scipy.stats")
    a, b = [0.22, 0.25, 0.29, 0.24, 0.27], [0.26, 0.28, 0.3, 0.27, 0.31]
    assert accuracy_verdict(a, b).p_value == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
