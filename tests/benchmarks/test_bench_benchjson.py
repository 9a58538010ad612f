"""bench/benchjson.py: a bench run in pytest-benchmark's JSON layout, read back by the real
``pytest-benchmark compare``."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from bench import runner
from bench.benchjson import LAYOUT_VERSION, exact_stats, main, step_stats, to_pytest_benchmark
from bench.plugins import installed_registry
from bench.result import load_run, write_json_atomic
from bench.runner import RunConfig

pytest.importorskip("pytest_benchmark")
from pytest_benchmark.stats import Stats  # noqa: E402 - after the skip

TOP_KEYS = {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
BENCHMARK_KEYS = {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
STATS_KEYS = set(Stats.fields) | {"iterations"}


@pytest.fixture(scope="module")
def run_document():
    """A real run: numpy on the synthetic set, 40 steps."""
    config = RunConfig(plugins=["numpy"], dataset="synthetic", steps=40, roofline=False)
    return runner.run(config, installed_registry()).document


def _row(**fields):
    row = {
        "plugin": "numpy",
        "device": "cpu",
        "status": "ok",
        "steps_completed": 101,
        "step_seconds_median": 0.002,
        "step_seconds_p10": 0.0015,
        "step_seconds_p90": 0.004,
        "first_step_seconds": 0.1,
        "train_seconds": 0.1 + 100 * 0.0025,
        "steps_per_second": 500.0,
    }
    row.update(fields)
    return row


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 10, 11, 50, 101])
def test_exact_stats_match_pytest_benchmark(n):
    rng = random.Random(n)
    data = [rng.lognormvariate(-7, 0.3) for _ in range(n)]
    reference = Stats()
    for value in data:
        reference.update(value)
    ours = exact_stats(data)
    for key, expected in reference.as_dict().items():
        if isinstance(expected, str):
            assert ours[key] == expected, key
        else:
            assert ours[key] == pytest.approx(expected, rel=1e-12), key
    assert ours["iterations"] == 1


def test_real_run_has_pytest_benchmarks_layout(run_document):
    converted = to_pytest_benchmark(run_document)
    assert set(converted) == TOP_KEYS
    assert converted["version"] == LAYOUT_VERSION and converted["datetime"] == run_document["created"]
    (bench,) = converted["benchmarks"]
    assert set(bench) == BENCHMARK_KEYS
    assert set(bench["stats"]) - {"data"} == STATS_KEYS
    assert bench["name"] == "train_step[numpy-cpu]" and bench["fullname"] == "bench::train_step[numpy-cpu]"
    assert bench["params"] == {"plugin": "numpy", "device": "cpu", "placement": "feed"}
    row = run_document["results"][0]
    stats = bench["stats"]
    assert stats["rounds"] == row["steps_completed"] - 1 == 39
    assert stats["median"] == row["step_seconds_median"]
    # the exact mean of the steady steps, from the totals every row has
    assert stats["mean"] == pytest.approx((row["train_seconds"] - row["first_step_seconds"]) / 39)
    assert stats["ops"] == pytest.approx(1 / stats["mean"])
    extra = bench["extra_info"]
    assert extra["steps_per_second"] == row["steps_per_second"] and extra["dataset"] == "synthetic"
    assert "numpy" in extra["frameworks"]
    assert converted["machine_info"]["node"] == run_document["machine"]["hostname"]
    assert converted["commit_info"]["id"] == run_document["machine"].get("git_commit")
    json.dumps(converted, allow_nan=False)  # plain, finite JSON


def test_summary_only_row_is_approximated_in_order():
    stats, data, approximated = step_stats(_row())
    assert data is None
    assert {"min", "max", "q1", "q3", "stddev", "ld15iqr", "hd15iqr"} <= set(approximated)
    assert "mean" not in approximated and stats["mean"] == pytest.approx(0.0025)
    assert stats["min"] <= stats["ld15iqr"] <= stats["q1"] <= stats["median"] <= stats["q3"]
    assert stats["q3"] <= stats["hd15iqr"] <= stats["max"]
    assert stats["outliers"] == "?;?"


def test_summary_fields_are_used_when_present():
    stats, _, approximated = step_stats(
        _row(step_seconds_min=0.001, step_seconds_max=0.01, step_seconds_q1=0.0018, step_seconds_q3=0.003,
             step_seconds_stddev=0.0007, step_seconds_mean=0.0024)
    )
    assert (stats["min"], stats["max"], stats["q1"], stats["q3"]) == (0.001, 0.01, 0.0018, 0.003)
    assert stats["mean"] == 0.0024 and stats["stddev"] == 0.0007
    assert not {"min", "max", "q1", "q3", "stddev", "mean"} & set(approximated)


def test_per_step_times_give_exact_stats_and_data():
    steps = [0.1, 0.002, 0.003, 0.0025, 0.0021, 0.009]
    stats, data, approximated = step_stats(_row(step_seconds=steps, steps_completed=6))
    assert data == steps[1:] and approximated == []
    assert stats == exact_stats(steps[1:])


def test_rows_without_steps_are_left_out():
    document = {"results": [_row(status="failed"), _row(plugin="x", step_seconds_median=None), _row(plugin="y")]}
    names = [b["name"] for b in to_pytest_benchmark(document)["benchmarks"]]
    assert names == ["train_step[y-cpu]"]


def test_pytest_benchmark_compare_reads_converted_runs(run_document, tmp_path):
    faster = json.loads(json.dumps(run_document))
    faster["results"][0]["step_seconds_median"] *= 0.5
    write_json_atomic(tmp_path / "a.json", to_pytest_benchmark(run_document))
    write_json_atomic(tmp_path / "b.json", to_pytest_benchmark(faster))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", "a.json", "b.json", "--columns=min,median,mean,rounds"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Failed to load" not in proc.stderr + proc.stdout
    assert proc.stdout.count("train_step[numpy-cpu]") == 2
    assert "bench_train_step_synthetic_batch100" in proc.stdout


def test_module_main_converts_a_saved_run(run_document, tmp_path, capsys):
    write_json_atomic(tmp_path / "run.json", run_document)
    load_run(tmp_path / "run.json")
    assert main([str(tmp_path / "run.json")]) == 0
    out = tmp_path / "run.pytest-benchmark.json"
    assert json.loads(out.read_text())["benchmarks"][0]["name"] == "train_step[numpy-cpu]"
    assert "wrote" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{}")
    assert main([str(tmp_path / "bad.json")]) == 1
    assert "not a bench result file" in capsys.readouterr().err
