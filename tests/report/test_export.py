"""bench/report/export.py: a run in pytest-benchmark's JSON layout, read back by the real
``pytest-benchmark compare``; ``bench export`` and its alias ``python -m bench.benchjson``."""

from __future__ import annotations

import json
from dataclasses import replace
import subprocess
import sys

import pytest

from bench import runner
from bench.benchjson import main
from bench.plugins import installed_registry
from bench.report.export import LAYOUT_VERSION, to_pytest_benchmark
from bench.results.model import Row, RunDocument
from bench.results.storage import write_json_atomic
from bench.settings import RunConfig

pytest.importorskip("pytest_benchmark")
from pytest_benchmark.stats import Stats  # noqa: E402 - after the skip

TOP_KEYS = {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
BENCHMARK_KEYS = {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
STATS_KEYS = set(Stats.fields) | {"iterations"}


@pytest.fixture(scope="module")
def run_document() -> RunDocument:
    """A real run: numpy on the synthetic set, 40 steps, in a worker process."""
    config = RunConfig(plugins=["numpy"], dataset="synthetic", steps=40, roofline=False)
    return runner.run(config, installed_registry()).document


def test_real_run_has_pytest_benchmarks_layout(run_document):
    converted = to_pytest_benchmark(run_document)
    assert set(converted) == TOP_KEYS
    assert converted["version"] == LAYOUT_VERSION and converted["datetime"] == run_document.created
    (bench,) = converted["benchmarks"]
    assert set(bench) == BENCHMARK_KEYS
    assert set(bench["stats"]) - {"data"} == STATS_KEYS
    assert bench["name"] == "train_step[numpy-cpu]" and bench["fullname"] == "bench::train_step[numpy-cpu]"
    assert bench["params"] == {"plugin": "numpy", "device": "cpu", "placement": "feed"}
    row = run_document.results[0]
    stats = bench["stats"]
    assert stats["rounds"] == row.steps_completed - 1 == 39
    assert bench["stats"]["data"] == row.step_seconds[1:]
    reference = Stats()
    for value in row.step_seconds[1:]:
        reference.update(value)
    for key, expected in reference.as_dict().items():
        assert stats[key] == (expected if isinstance(expected, str) else pytest.approx(expected, rel=1e-12)), key
    extra = bench["extra_info"]
    assert extra["steps_per_second"] == row.steps_per_second and extra["dataset"] == "synthetic"
    assert "numpy" in extra["frameworks"]
    assert converted["machine_info"]["node"] == run_document.machine["hostname"]
    json.dumps(converted, allow_nan=False)  # plain, finite JSON


def test_rows_without_raw_times_are_left_out():
    document = RunDocument("r", "", None, {}, {}, results=[
        Row.of(plugin="a", device="cpu", status="failed"),
        Row.from_dict({"plugin": "old", "device": "cpu", "status": "ok", "steps_per_second": 5.0,
                       "step_seconds_median": 0.2}),
        Row.of(plugin="y", device="cpu", step_seconds=[0.1, 0.002, 0.003]),
    ])
    names = [b["name"] for b in to_pytest_benchmark(document)["benchmarks"]]
    assert names == ["train_step[y-cpu]"]


def test_pytest_benchmark_compare_reads_exported_runs(run_document, tmp_path):
    faster = RunDocument.from_dict(json.loads(json.dumps(run_document.to_dict())))
    row = faster.results[0]
    halved = replace(row.measurement, step_seconds=[t * 0.5 for t in row.step_seconds])
    faster.results[0] = replace(row, measurement=halved)
    write_json_atomic(tmp_path / "a.json", to_pytest_benchmark(run_document))
    write_json_atomic(tmp_path / "b.json", to_pytest_benchmark(faster))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", "a.json", "b.json", "--columns=min,median,mean,rounds"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Failed to load" not in proc.stderr + proc.stdout
    assert proc.stdout.count("train_step[numpy-cpu]") == 2
    assert "bench_train_step_synthetic_batch100" in proc.stdout


def test_the_module_alias_converts_a_saved_run(run_document, tmp_path, capsys):
    write_json_atomic(tmp_path / "run.json", run_document)
    assert main([str(tmp_path / "run.json")]) == 0
    out = tmp_path / "run.pytest-benchmark.json"
    assert json.loads(out.read_text())["benchmarks"][0]["name"] == "train_step[numpy-cpu]"
    assert "wrote" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{}")
    assert main([str(tmp_path / "bad.json")]) == 1
    assert "python -m bench.benchjson: error:" in capsys.readouterr().err and "not a bench result file"
