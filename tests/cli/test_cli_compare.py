"""The command-line side: ``bench compare A B --fail-below RATIO`` and
``bench run --benchmark-json FILE``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.results.model import SCHEMA_VERSION
from bench.results.storage import load_run, write_json_atomic


def _document(*rows: tuple[str, str, str, float | None]) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": "test",
        "created": "2026-01-01T00:00:00+00:00",
        "machine": {"hostname": "ci", "cpu": "AMD EPYC", "cpu_count_logical": 2},
        "config": {"batch_size": 100, "dataset": "cifar10", "steps": 1000, "parity_step": 10},
        "dataset": None,
        "batch_schedule_sha256": "0" * 64,
        "results": [
            {
                "plugin": plugin,
                "device": device,
                "status": status,
                "error": None if status == "ok" else f"{status} on purpose",
                "steps_per_second": sps,
                "test_accuracy": 0.4 if sps else None,
            }
            for plugin, device, status, sps in rows
        ],
    }


@pytest.fixture
def runs(tmp_path: Path):
    """``runs(baseline_rows, candidate_rows)`` -> (path A, path B), both readable by load_run."""

    def write(baseline, candidate):
        a, b = tmp_path / "baseline.json", tmp_path / "candidate.json"
        write_json_atomic(a, _document(*baseline))
        write_json_atomic(b, _document(*candidate))
        load_run(a), load_run(b)
        return str(a), str(b)

    return write


BASELINE = [("numpy", "cpu", "ok", 2000.0), ("tf-graph", "cpu", "ok", 1400.0), ("tf-eager", "cpu", "ok", 450.0)]
SLOWER_GRAPH = [("numpy", "cpu", "ok", 1900.0), ("tf-graph", "cpu", "ok", 700.0), ("tf-eager", "cpu", "ok", 440.0)]


def test_compare_without_threshold_still_exits_zero(runs, capsys):
    a, b = runs(BASELINE, SLOWER_GRAPH)
    assert main(["compare", a, b]) == 0
    assert "tf-graph" in capsys.readouterr().out


def test_fail_below_names_the_rows_that_fell_and_exits_one(runs, capsys):
    a, b = runs(BASELINE, SLOWER_GRAPH)
    assert main(["compare", a, b, "--fail-below", "0.8"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION tf-graph (cpu): 700.0 steps/s is 0.500 x the baseline's 1400.0 (below 0.8)" in out
    assert "REGRESSION numpy" not in out and "REGRESSION tf-eager" not in out
    assert "1 of 3 rows fail the gate (0.8 x the baseline's steps/s)" in out
    assert "B/A" in out  # the comparison table comes first, as without the flag


def test_fail_below_passes_when_every_row_holds(runs, capsys):
    a, b = runs(BASELINE, SLOWER_GRAPH)
    assert main(["compare", a, b, "--fail-below", "0.45"]) == 0
    assert "all 3 compared rows are at or above 0.45" in capsys.readouterr().out


def test_fail_below_fails_a_row_that_broke_and_a_comparison_of_nothing(runs, capsys):
    a, b = runs(BASELINE, [("numpy", "cpu", "ok", 2000.0), ("tf-graph", "cpu", "failed", None)])
    assert main(["compare", a, b, "--fail-below", "0.8"]) == 1
    assert "REGRESSION tf-graph (cpu): candidate failed" in capsys.readouterr().out
    a, b = runs(BASELINE, [("tf-xla", "cpu", "ok", 900.0)])
    assert main(["compare", a, b, "--fail-below", "0.8"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION numpy (cpu): missing from the candidate" in out  # a row lost is a failure
    assert "not compared: tf-xla (cpu): only in the candidate" in out
    a, b = runs([("tf-graph", "gpu:0", "unavailable", None)], [("tf-graph", "gpu:0", "ok", 900.0)])
    assert main(["compare", a, b, "--fail-below", "0.8"]) == 1
    assert "nothing compared" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_fail_below_rejects_non_positive_ratios(runs, capsys, value):
    a, b = runs(BASELINE, BASELINE)
    with pytest.raises(SystemExit) as exc:
        main(["compare", a, b, "--fail-below", value])
    assert exc.value.code == 2
    assert "--fail-below" in capsys.readouterr().err


def _bench_run(tmp_path: Path, *extra: str) -> int:
    return main(
        ["run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "30", "--no-roofline", "--quiet",
         "--results-dir", str(tmp_path / "results"), *extra]
    )


def test_run_writes_pytest_benchmark_json_that_pytest_benchmark_compare_reads(tmp_path, capsys):
    outputs = ["--output", str(tmp_path / "run.json"), "--benchmark-json", str(tmp_path / "pb.json")]
    assert _bench_run(tmp_path, *outputs) == 0
    capsys.readouterr()
    converted = json.loads((tmp_path / "pb.json").read_text())
    assert set(converted) == {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
    (bench,) = converted["benchmarks"]
    assert bench["name"] == "train_step[numpy-cpu]" and bench["stats"]["rounds"] == 29
    document = load_run(tmp_path / "run.json")  # the ordinary result is still written
    assert bench["stats"]["median"] == document.results[0].stats.median
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", "pb.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "train_step[numpy-cpu]" in proc.stdout, proc.stderr


def test_run_reports_an_unwritable_benchmark_json(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert _bench_run(tmp_path, "--benchmark-json", str(blocker / "pb.json")) == 1
    assert "bench: error: cannot write results to" in capsys.readouterr().err


def test_a_run_compared_with_itself_passes(tmp_path, capsys):
    assert _bench_run(tmp_path, "--output", str(tmp_path / "run.json")) == 0
    run = str(tmp_path / "run.json")
    assert main(["compare", run, run, "--fail-below", "0.99"]) == 0
    assert "all 1 compared rows are at or above 0.99" in capsys.readouterr().out
