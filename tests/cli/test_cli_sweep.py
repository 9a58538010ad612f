"""``bench sweep`` through the real command: one document for every combination, rows alike
to single ``bench run``s, the dry run, combinations that cannot run, Ctrl-C, pictures."""

from __future__ import annotations

import json
import signal
import time

import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = ("--plugins", "numpy", "--dataset", "synthetic", "--steps", "20", "--no-roofline")


def sweep(bench, *args: str, timeout: float = 120):
    return bench("sweep", *args, "--results-dir", str(bench.results), "--quiet", timeout=timeout)


def test_a_sweep_of_12_rows_is_one_document_alike_to_single_runs(bench) -> None:
    proc = sweep(bench, *SMALL, "--batch-size", "20,40", "--seed", "0,1,2", "--threads", "1,2")
    assert proc.returncode == 0, proc.stderr
    [document] = bench.saved()
    rows = document["results"]
    assert len(rows) == 12 and {row["status"] for row in rows} == {"ok"}
    assert document["config"]["sweep"] == {"batch_size": [20, 40], "seed": [0, 1, 2], "threads": [1, 2]}
    combos = {(r["settings"]["batch_size"], r["settings"]["seed"], r["settings"]["threads"]) for r in rows}
    assert combos == {(b, s, t) for b in (20, 40) for s in (0, 1, 2) for t in (1, 2)}
    # One schedule per (seed, batch size), shared by its rows and by nothing else.
    shas: dict[tuple[int, int], set[str]] = {}
    for row in rows:
        shas.setdefault((row["settings"]["seed"], row["settings"]["batch_size"]), set()).add(row["schedule_sha256"])
    assert all(len(found) == 1 for found in shas.values()) and len(set.union(*shas.values())) == 6
    assert document["batch_schedule_sha256"] is None  # no single schedule for the whole run
    # The parity reference of each schedule is its first row (threads 1); every row has a parity figure.
    assert all(row["parity_max_abs_diff"] is not None for row in rows)
    assert "batch schedule (same seed and batch size" in " ".join(proc.stdout.split())  # the note, wrapped

    single = bench.run("--plugins", "numpy", "--steps", "20", "--no-roofline", "--batch-size", "40", "--seed", "2",
                       "--threads", "1", "--output", str(bench.cwd / "single.json"))
    assert single.returncode == 0, single.stderr
    alone = json.loads((bench.cwd / "single.json").read_text())
    [row] = alone["results"]
    [twin] = [r for r in rows if r["settings"] == row["settings"]]
    assert row["settings"] == {"steps": 20, "batch_size": 40, "learning_rate": 0.005, "seed": 2, "threads": 1,
                               "placement": "feed", "steps_per_call": 1}
    assert twin["schedule_sha256"] == row["schedule_sha256"] == alone["batch_schedule_sha256"]
    assert twin["loss_curve"] == row["loss_curve"] and twin["test_accuracy"] == row["test_accuracy"]

    pytest.importorskip("matplotlib")
    [path] = [p for p in bench.results.glob("*.json") if p.name != "single.json" and "numpy" in p.name
              and json.loads(p.read_text()).get("config", {}).get("sweep")]
    plot = bench("plot", str(path))
    assert plot.returncode == 0, plot.stderr
    for suffix in ("-scaling.png", "-seeds.png"):
        picture = path.with_name(path.stem + suffix)
        assert f"saved {picture}" in plot.stdout
        assert picture.read_bytes()[:8] == PNG_MAGIC and picture.stat().st_size > 10_000
    assert not path.with_suffix(".png").exists()  # a sweep gets its own pictures instead


def test_dry_run_lists_the_rows_and_runs_nothing(bench) -> None:
    # cifar10 is not there (offline, no data): a dry run does not need it.
    proc = bench("sweep", "--plugins", "numpy", "--placement", "feed,resident", "--steps-per-call", "1,5",
                 "--seed", "0,1", "--devices", "cpu,all", "--dry-run", "--results-dir", str(bench.results))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = [line for line in lines if line.split()[:2] and line.split()[0].isdigit() and line.split()[1] == "numpy"]
    assert len(table) == 16  # 2 devices x 2 seeds x 4 combinations
    assert sum(line.endswith(" unavailable") for line in table) == 4
    assert "#2, #6, #10, #14 unavailable: --steps-per-call needs --placement resident" in proc.stdout
    assert "16 rows: 12 to run, 4 unavailable; 2 batch schedule(s) of 1000 steps" in proc.stdout
    assert "device 'all' is expanded" in proc.stdout and "nothing was run (--dry-run)" in proc.stdout
    assert " ref " in table[0] and " vs #1 " in table[2]  # the parity reference of each schedule
    assert not bench.results.exists()


def test_combinations_that_cannot_run_are_unavailable_rows(bench) -> None:
    proc = sweep(bench, *SMALL, "--placement", "feed,resident", "--steps-per-call", "1,5", "--isolation", "none",
                 "--eval-every", "4", "--target-accuracy", "0.3", "--wide")
    assert proc.returncode == 0, proc.stderr  # unavailable rows do not fail a run
    [document] = bench.saved()
    rows = {(r["placement"], r["steps_per_call"]): r for r in document["results"]}
    assert rows["feed", 5]["status"] == "unavailable"
    assert rows["feed", 5]["error"] == "--steps-per-call needs --placement resident (a call gets indices, not batches)"
    assert rows["feed", 5]["settings"]["steps_per_call"] == 5
    ok = [rows["feed", 1], rows["resident", 1], rows["resident", 5]]
    assert all(r["status"] == "ok" for r in ok)
    # Evaluated after the same steps whether a call runs one step or five.
    assert [[p[0] for p in r["accuracy_curve"]] for r in ok] == [[4, 8, 12, 16, 20]] * 3
    assert ok[0]["accuracy_curve"][0][1] == ok[2]["accuracy_curve"][0][1]
    assert "steps to 30%" in proc.stdout


def test_time_to_accuracy_reached_and_not_reached(bench) -> None:
    args = ("--plugins", "numpy", "--steps", "40", "--no-roofline", "--eval-every", "10", "--wide")
    reached = bench.run(*args, "--target-accuracy", "0.3", "--output", str(bench.cwd / "a.json"))
    missed = bench.run(*args, "--target-accuracy", "1", "--output", str(bench.cwd / "b.json"))
    assert reached.returncode == missed.returncode == 0, reached.stderr + missed.stderr
    [a] = json.loads((bench.cwd / "a.json").read_text())["results"]
    [b] = json.loads((bench.cwd / "b.json").read_text())["results"]
    steps = [p[0] for p in a["accuracy_curve"]]
    assert steps == [10, 20, 30, 40]  # every 10 steps, the last one the final evaluation
    assert a["accuracy_curve"][-1][1] == a["test_accuracy"]
    first = next(p for p in a["accuracy_curve"] if p[1] >= 0.3)  # numpy passes 30% on the synthetic set
    assert (a["steps_to_target"], a["time_to_target_seconds"]) == (first[0], first[2])
    assert 0 < a["time_to_target_seconds"] < a["wall_seconds"]
    assert a["eval_during_training_seconds"] > 0
    assert b["target_accuracy"] == 1.0 and b["steps_to_target"] is None and b["time_to_target_seconds"] is None
    assert "not reached" in missed.stdout and "not reached" not in reached.stdout
    assert "evaluations during training" in reached.stdout


@pytest.mark.parametrize("args,needle", [
    (("--seed", "1,1"), "--seed lists 1 more than once"),
    (("--steps-per-call", "5"), "--steps-per-call needs --placement resident"),
    (("--steps-per-call", "5,10"), "no combination of the sweep can run: --steps-per-call needs"),
    (("--batch-size", "20,x"), "'x' is not an integer"),
    (("--placement", "feed,nowhere"), "invalid choice: 'nowhere'"),
    (("--threads", "1,100000"), "--threads must be between 1"),
    (("--target-accuracy", "25", "--eval-every", "5"), "--target-accuracy is a fraction of the test set in (0, 1]"),
    (("--target-accuracy", "0.5"), "--target-accuracy needs --eval-every"),
    (("--eval-every", "0"), "--eval-every must be at least 1"),
    (("--batch-size", "20,999999"), "larger than the training set"),
])
def test_nonsense_is_a_one_line_usage_error_before_any_row(bench, clean_error, args, needle) -> None:
    proc = sweep(bench, *SMALL, *args)
    clean_error(proc, 2, needle)
    assert bench.saved() == []


def test_ctrl_c_keeps_the_rows_of_the_sweep(bench) -> None:
    bench.add_fault_plugins()
    marker = bench.cwd / "sleepy-row-training"
    proc = bench.popen("sweep", "--plugins", "fault-ok,fault-sleepy", "--seed", "0,1", "--steps", "5",
                       "--batch-size", "10", "--dataset", "synthetic", "--no-roofline",
                       "--results-dir", str(bench.results), FAKE_MARKER=str(marker))
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sleepy row never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "bench: interrupted (SIGINT); the rows measured so far are saved" in stderr
    [document] = bench.saved()
    rows = document["results"]
    assert [(r["plugin"], r["settings"]["seed"], r["status"]) for r in rows] == [
        ("fault-ok", 0, "ok"), ("fault-sleepy", 0, "interrupted")]  # seed 1 never started


def test_a_declared_param_is_swept_like_a_setting_and_each_row_records_its_own(bench) -> None:
    proc = sweep(bench, "--plugins", "numpy", "--dataset", "synthetic", "--steps", "12", "--no-roofline",
                 "--param", "numpy:dtype=float32,float64", "--seed", "0,1")
    assert proc.returncode == 0, proc.stderr
    [document] = bench.saved()
    rows = document["results"]
    assert sorted((r["settings"]["seed"], r["params"]["dtype"]) for r in rows) == [
        (0, "float32"), (0, "float64"), (1, "float32"), (1, "float64")]
    assert {r["status"] for r in rows} == {"ok"}
    assert document["config"]["sweep"]["params"] == [{"numpy:dtype": "float32"}, {"numpy:dtype": "float64"}]
    header = next(line for line in proc.stdout.splitlines() if line.startswith("plugin"))
    assert "dtype" in header.split()


@pytest.mark.parametrize(("command", "args", "message"), [
    ("run", ("--param", "dtype=float32", "--param", "dtype=float64"), "--param dtype is given more than once"),
    ("sweep", ("--param", "dtype=float32", "--param", "dtype=float64"), "--param dtype is given more than once"),
    ("sweep", ("--param", "dtype=float32,float32"), "--param dtype lists float32 more than once"),
    ("sweep", ("--param", "numpy:dtype=float32,float16"), "must be one of float32, float64, not 'float16'"),
])
def test_a_param_given_twice_or_a_bad_swept_value_is_one_line(bench, command, args, message) -> None:
    proc = bench(command, "--plugins", "numpy", "--dataset", "synthetic", "--steps", "5", *args,
                 "--results-dir", str(bench.results))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("bench: error: ")
    assert message in proc.stderr and not bench.saved()
