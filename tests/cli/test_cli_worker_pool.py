"""The next row's worker starts early, and is stopped while a row's steps and evaluation are
timed; a worker leaves at once after its last report; a row's own memory apart from the
mapped data. Through the real command."""

from __future__ import annotations

WATCHER_PLUGIN = '''
"""Classifiers that record what the next row's worker is doing while they are timed."""

import atexit
import os

from bench import ClassifierSpec, hookimpl
from bench_numpy.softmax import NumpySoftmax


def _spares():
    """The states (R, S, T, ...) of the bench's workers started ahead of their row."""
    parent = str(os.getppid())
    states = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\\0")
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"--prestart" in argv and stat[1] == parent:
            states.append(stat[0])
    return states


def _record(when):
    path = os.environ.get("WATCH_FILE")
    if path:
        with open(path, "a") as handle:
            handle.write(" ".join([when, *_spares()]) + "\\n")


class Watcher(NumpySoftmax):
    def train_step(self, images, labels):
        _record("step")
        return super().train_step(images, labels)

    def predict(self, images):
        _record("predict")
        return super().predict(images)


class LeavesAtExit(NumpySoftmax):
    def setup(self, config):
        super().setup(config)
        marker = os.environ["EXIT_MARKER"]
        atexit.register(lambda: open(marker, "w").write("the interpreter shut down"))


def _bad_load():
    raise RuntimeError("no framework here")


@hookimpl
def bench_register_classifiers(register):
    register(ClassifierSpec("watcher", "numpy softmax watching the next row's worker", Watcher))
    register(ClassifierSpec("at-exit", "numpy softmax with an atexit handler", LeavesAtExit))
    register(ClassifierSpec("bad-load", "a classifier whose framework cannot load", _bad_load))
'''


def _watching(bench):
    bench.add_distribution("bench-watcher", {"watcher": "fakeplugin_watcher"}, {"fakeplugin_watcher": WATCHER_PLUGIN})
    return bench


def test_the_next_rows_worker_is_stopped_while_a_row_is_timed(bench, tmp_path) -> None:
    watch = tmp_path / "watch.txt"
    _watching(bench)
    proc = bench.run("--plugins", "watcher,watcher,watcher", "--steps", "30", WATCH_FILE=str(watch))
    assert proc.returncode == 0, proc.stderr
    [document] = bench.saved()
    rows = document["results"]
    assert [row["status"] for row in rows] == ["ok"] * 3
    lines = [line.split() for line in watch.read_text().splitlines()]
    assert len(lines) == 3 * 31  # every step and every evaluation looked
    seen = [state for line in lines for state in line[1:]]
    assert seen, "no worker was started ahead of its row"
    assert set(seen) == {"T"}, "a worker started ahead of its row ran while a row was timed"
    assert all(len(line) <= 2 for line in lines)  # at most one started ahead at a time
    # rows 1 and 2 started the next row's worker alongside their own start; the last did not
    assert rows[0]["load_overlapped_seconds"] is not None and rows[1]["load_overlapped_seconds"] is not None
    assert rows[2]["load_overlapped_seconds"] is None


def test_the_timeline_shows_the_overlap_apart_from_its_total(bench) -> None:
    _watching(bench)
    assert bench.run("--plugins", "watcher,watcher", "--steps", "10").returncode == 0
    [path] = bench.results.glob("*.json")
    report = bench("report", str(path)).stdout
    lines = report.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("phase")) + 2:]
    phases = [line.rsplit(None, 2) for line in table if not line.startswith("total measured")]
    total = float(next(line for line in table if line.startswith("total measured")).split()[2])
    overlapped = [phase for phase in phases if phase[0].endswith("(overlapped)")]
    assert len(overlapped) == 1 and overlapped[0][2] == "-", report
    counted = [float(seconds) for label, seconds, share in phases if share != "-"]
    assert abs(sum(counted) - total) <= 0.001 * len(counted)  # the overlapped seconds are not in the total
    assert "load, while the next row's worker started alongside" in report
    assert "worker exit, reading its report and snapshots (parent)" in report


def test_a_worker_leaves_without_the_interpreters_shutdown(bench, tmp_path) -> None:
    marker = tmp_path / "exited"
    _watching(bench)
    proc = bench.run("--plugins", "at-exit", "--steps", "5", EXIT_MARKER=str(marker))
    assert proc.returncode == 0, proc.stderr
    [row] = bench.saved()[0]["results"]
    assert row["status"] == "ok"
    assert not marker.exists()  # os._exit after the last report: no atexit, no interpreter teardown


def test_a_framework_that_fails_to_load_early_fails_its_own_row(bench) -> None:
    _watching(bench)
    proc = bench.run("--plugins", "numpy,bad-load,numpy", "--steps", "5")
    assert proc.returncode == 1, proc.stderr  # a failed row
    statuses = [(row["plugin"], row["status"], row["error"]) for row in bench.saved()[0]["results"]]
    assert statuses[0][1] == statuses[2][1] == "ok"
    assert statuses[1][1] == "failed" and "load: RuntimeError: no framework here" in statuses[1][2]


def test_own_memory_is_reported_apart_from_mapped_files(bench) -> None:
    proc = bench.run("--plugins", "numpy", "--steps", "20")
    assert proc.returncode == 0, proc.stderr
    [row] = bench.saved()[0]["results"]
    assert 10 * 2**20 < row["peak_own_memory_bytes"] < row["peak_host_memory_bytes"]
    assert "own MiB" in proc.stdout and "host MiB" in proc.stdout
