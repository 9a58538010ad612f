"""``bench run --seeds``: every row once per seed, its accuracy as a mean with an interval;
nonsense is one line and exit 2."""

from __future__ import annotations

import pytest


def test_seeds_runs_each_row_per_seed_and_reports_the_spread(bench) -> None:
    proc = bench.run("--plugins", "numpy", "--steps", "15", "--no-roofline", "--seeds", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    [document] = bench.saved()
    assert [row["settings"]["seed"] for row in document["results"]] == [0, 1, 2]
    assert document["config"]["sweep"] == {"seed": [0, 1, 2]} and document["config"]["seeds"] == [0, 1, 2]
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("accuracy over seeds"))
    assert lines[at + 2].split()[:3] == ["numpy", "(cpu)", "3"]
    listed = bench.run("--plugins", "numpy", "--steps", "15", "--no-roofline", "--seeds", "5,7", "--quiet")
    assert listed.returncode == 0, listed.stderr
    assert sorted(row["settings"]["seed"] for doc in bench.saved() for row in doc["results"]) == [0, 1, 2, 5, 7]


@pytest.mark.parametrize(("value", "needle"), [
    ("abc", "argument --seeds: 'abc' is not an integer"),
    ("1", "argument --seeds: N (seeds 0 to N-1) must be between 2 and 1000, not 1"),
    ("0", "must be between 2 and 1000, not 0"),
    ("-3", "must be between 2 and 1000, not -3"),
    ("100000000000", "must be between 2 and 1000"),
    ("1,,2", "expected N (seeds 0 to N-1) or a comma list of seeds"),
    ("1,1", "--seeds lists 1 more than once"),
    ("1,-2", "--seeds: each seed must be an integer between 0 and 2**32 - 1, not -2"),
    ("2,4294967296", "not 4294967296"),
])
def test_nonsense_seeds_are_one_line_and_exit_2(bench, clean_error, value: str, needle: str) -> None:
    proc = bench.run("--plugins", "numpy", "--steps", "5", "--seeds", value)
    clean_error(proc, 2, needle)
    assert not bench.results.exists()


def test_seeds_and_a_list_of_seed_values_do_not_go_together(bench, clean_error) -> None:
    proc = bench("sweep", "--plugins", "numpy", "--seed", "0,1", "--seeds", "3", "--dataset", "synthetic")
    clean_error(proc, 2, "give --seeds or a list of --seed values, not both")
