"""Plugins that fail, diverge, fail to import, or get interrupted: the run goes on, nothing is lost."""

from __future__ import annotations

import signal
import time

import pytest


def _rows(document: dict) -> dict[str, dict]:
    return {row["plugin"]: row for row in document["results"]}


def _table_line(stdout: str, plugin: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines() if line.startswith(plugin + " "))


def test_plugins_failing_in_setup_step_or_evaluation_are_rows_and_the_others_run(bench) -> None:
    bench.add_fault_plugins()
    plugins = "fault-setup,fault-ok,fault-step,fault-predict,numpy"
    proc = bench.run("--plugins", plugins, "--steps", "5", "--batch-size", "10")

    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    [document] = bench.saved()  # one file, holding every row
    rows = _rows(document)
    assert list(rows) == plugins.split(",")
    assert rows["fault-setup"]["status"] == "failed"
    assert rows["fault-setup"]["error"] == "setup: RuntimeError: boom in setup"
    assert rows["fault-step"]["status"] == "failed"
    assert rows["fault-step"]["error"] == "training: RuntimeError: boom at step 3"
    assert rows["fault-step"]["steps_completed"] == 2
    assert rows["fault-predict"]["status"] == "failed"
    assert rows["fault-predict"]["error"] == "evaluation: RuntimeError: boom in predict"
    assert rows["fault-predict"]["test_accuracy"] is None
    for name in ("fault-ok", "numpy"):
        assert rows[name]["status"] == "ok" and 0 <= rows[name]["test_accuracy"] <= 1
    # The table shows every row and one line per problem; the run is saved.
    for name in rows:
        assert _table_line(proc.stdout, name)[2] == rows[name]["status"]
    assert "  fault-step (cpu): failed: training: RuntimeError: boom at step 3" in proc.stdout
    assert "saved " in proc.stdout


@pytest.mark.parametrize(("plugin", "step", "loss"), [("fault-nan", 3, "nan"), ("fault-inf", 2, "inf")])
def test_non_finite_loss_stops_the_row_as_diverged(bench, plugin: str, step: int, loss: str) -> None:
    bench.add_fault_plugins()
    proc = bench.run("--plugins", f"{plugin},fault-ok", "--steps", "8", "--batch-size", "10")

    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    [document] = bench.saved()
    row = _rows(document)[plugin]
    assert row["status"] == "diverged"
    assert row["diverged_at_step"] == step and row["steps_completed"] == step
    assert row["error"] == f"loss became {loss} at step {step}"
    assert row["test_accuracy"] is None and row["final_loss"] is None  # no NaN reported as a number
    assert all(value == value for _, value in row["loss_curve"])  # JSON has no NaN; the file parsed strictly
    assert _rows(document)["fault-ok"]["status"] == "ok"
    cells = _table_line(proc.stdout, plugin)
    assert cells[2:4] == ["diverged", "-"]  # status, accuracy
    assert not {"nan", "inf", "-inf"} & {cell.lower() for cell in cells}


def test_real_numpy_plugin_diverges_with_a_huge_learning_rate(bench) -> None:
    proc = bench.run("--plugins", "numpy", "--steps", "20", "--learning-rate", "1e38")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    [row] = bench.saved()[0]["results"]
    assert row["status"] == "diverged" and row["diverged_at_step"] <= 5
    assert row["test_accuracy"] is None


def test_unavailable_device_is_not_a_failure(bench) -> None:
    proc = bench.run("--plugins", "numpy", "--devices", "cpu,gpu", "--steps", "3")
    assert proc.returncode == 0, proc.stderr
    statuses = [row["status"] for row in bench.saved()[0]["results"]]
    assert statuses == ["ok", "unavailable"]


def test_a_plugin_that_fails_to_import_is_listed_as_broken_and_the_rest_work(bench, clean_error) -> None:
    bench.add_fault_plugins()
    bench.add_broken_plugin("frob")

    listing = bench("plugins")
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    broken = _table_line(listing.stdout, "-")
    assert broken[:3] == ["-", "frob", "BROKEN"]
    assert "ImportError: needs libfrobnicate, which is not installed" in " ".join(listing.stdout.split())  # may wrap
    assert _table_line(listing.stdout, "numpy")[1] == "numpy"
    assert _table_line(listing.stdout, "fault-ok")[1] == "faults"

    proc = bench.run("--plugins", "numpy,fault-ok", "--steps", "3")
    assert proc.returncode == 0, proc.stderr
    assert [row["status"] for row in bench.saved()[0]["results"]] == ["ok", "ok"]

    # Asking for a classifier that the broken plugin would have provided names it.
    clean_error(bench.run("--plugins", "frob"), 2, "unknown plugin 'frob'", "failed to load: frob (ImportError")


@pytest.mark.parametrize(("signum", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_interrupt_saves_the_measured_rows_and_marks_the_current_one(bench, signum, code: int, name: str) -> None:
    bench.add_fault_plugins()
    marker = bench.cwd / "second-row-training"
    args = ["run", "--plugins", "fault-ok,fault-sleepy,numpy", "--steps", "5", "--batch-size", "10"]
    proc = bench.popen(*args, "--dataset", "synthetic", "--results-dir", str(bench.results), FAKE_MARKER=str(marker))
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second row never started"
            time.sleep(0.02)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"bench: interrupted ({name}); the rows measured so far are saved" in stderr
    [document] = bench.saved()
    assert document["interrupted"] == name
    rows = document["results"]
    assert [row["plugin"] for row in rows] == ["fault-ok", "fault-sleepy"]  # numpy never started
    assert rows[0]["status"] == "ok" and rows[0]["test_accuracy"] is not None
    assert rows[1]["status"] == "interrupted"
    assert rows[1]["error"] == f"interrupted ({name}) during training"
    assert "fault-sleepy" in stdout and "interrupted" in stdout  # the table is still printed
    assert not list(bench.results.glob(".*"))  # no temporary file left


def test_killed_run_leaves_only_whole_files(bench) -> None:
    """SIGKILL cannot be caught; the rows saved until then are in a whole, valid file."""
    bench.add_fault_plugins()
    marker = bench.cwd / "second-row-training"
    proc = bench.popen("run", "--plugins", "fault-ok,fault-sleepy", "--steps", "5", "--batch-size", "10",
                       "--dataset", "synthetic", "--results-dir", str(bench.results), FAKE_MARKER=str(marker))
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    [document] = bench.saved()
    assert [row["status"] for row in document["results"]] == ["ok"]
    assert not list(bench.results.glob(".*"))

