"""``bench run --repeat N`` and ``bench compare``'s verdicts through the real commands, with
a known slowdown (the ``busy`` test plugin: numpy's softmax plus a busy wait a step)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _run_once(bench, out: Path, *args: str, **env: str) -> Path:
    proc = bench.run("--plugins", "busy", "--steps", "60", "--no-roofline", "--output", str(out), *args,
                     timeout=180, **env)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def measured(tmp_path_factory, bench_class):
    """Runs of ``busy`` with --repeat 5: A, and B with a wait of one median step (a
    slowdown of about 50 %)."""
    root = tmp_path_factory.mktemp("verdicts")
    (root / "cwd").mkdir()
    bench = bench_class(cwd=root / "cwd", site=root / "site", results=root / "results")
    bench.add_busy_plugin()
    a = _run_once(bench, root / "a.json", "--repeat", "5")
    step = statistics.median(json.loads(a.read_text())["results"][0]["step_seconds"][1:])
    b = _run_once(bench, root / "b.json", "--repeat", "5", BENCH_TEST_BUSY_SECONDS=str(step))
    return bench, a, b


def test_repeats_are_saved_per_process_with_an_interval(measured):
    bench, a, _ = measured
    row = json.loads(a.read_text())["results"][0]
    assert row["repeats"] == 5 and len(row["process_steps_per_second"]) == 5
    assert row["steps_per_second"] == statistics.median(row["process_steps_per_second"])
    low, high = row["steps_per_second_ci95"]
    assert low < row["steps_per_second"] < high and row["steps_per_second_ci95_basis"] == "processes"
    shown = bench("report", str(a))
    assert shown.returncode == 0 and " ±" in shown.stdout


def test_a_real_slowdown_is_slower_and_fails_the_verdict_gate(measured):
    bench, a, b = measured
    proc = bench("compare", str(a), str(b), "--fail-on-slower")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSION busy (cpu): slower:" in proc.stdout
    assert "1 of 1 rows fail the gate (no significant slowdown past 5%)" in proc.stdout
    data = json.loads(bench("compare", str(a), str(b), "--format", "json").stdout)
    [row] = data["rows"]
    assert row["verdict"] == "slower" and row["basis"] == "processes" and row["p_value"] < 0.05
    assert row["ci95"][0] <= row["ratio"] <= row["ci95"][1] and row["ratio"] < 0.8
    assert data["repeats_needed"]["repeats"] >= 4 and data["gate"] is None


def test_a_run_against_itself_is_same_and_passes_the_gate(measured):
    bench, a, _ = measured
    proc = bench("compare", str(a), str(a), "--fail-on-slower")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " same " in proc.stdout and "all 1 compared rows pass the gate" in proc.stdout


def test_a_file_without_the_new_fields_still_loads_compares_and_reports(measured, tmp_path):
    bench, a, b = measured
    old = json.loads(a.read_text())
    for row in old["results"]:
        for key in ("repeats", "process_steps_per_second", "steps_per_second_ci95", "steps_per_second_ci95_basis"):
            del row[key]
    del old["config"]["repeat"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    assert bench("report", str(path)).returncode == 0
    proc = bench("compare", str(path), str(b), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)["rows"]
    assert row["basis"] == "steps" and row["verdict"] == "slower"  # one process's steps against B's first
    text = bench("compare", str(path), str(b)).stdout
    assert "slower*" in text and "one worker process a side" in text and "repeat differs: A 1, B 5" in text


@pytest.mark.parametrize(("flags", "needle"), [
    (["--threshold", "0"], "argument --threshold: must be a fraction between 0 and 1"),
    (["--threshold", "1"], "argument --threshold: must be a fraction between 0 and 1"),
    (["--threshold", "-0.2"], "argument --threshold: must be a fraction between 0 and 1"),
    (["--threshold", "five"], "argument --threshold: 'five' is not a number"),
    (["--detect", "1.5"], "argument --detect: must be a fraction between 0 and 1"),
    (["--format", "yaml"], "argument --format: unknown format 'yaml'"),
])
def test_bad_compare_flags_are_one_line_and_exit_2(measured, clean_error, flags, needle):
    bench, a, b = measured
    clean_error(bench("compare", str(a), str(b), *flags), 2, needle)


def test_runs_of_different_datasets_are_refused(measured, clean_error, tmp_path):
    bench, a, b = measured
    other = json.loads(b.read_text())
    other["config"]["dataset"] = "cifar10"
    path = tmp_path / "cifar.json"
    path.write_text(json.dumps(other))
    clean_error(bench("compare", str(a), str(path)), 2,
                "the runs have different datasets (dataset 'synthetic' in A, 'cifar10' in B)")
