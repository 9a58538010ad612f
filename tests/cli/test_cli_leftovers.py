"""What a row leaves behind is bench's to clean up: threads and processes that outlive the
row, a device listing that never returns, the files a worker hands back, its output, the
row directories, SIGHUP; through the real command with hostile plugins."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

HOSTILE_PLUGIN = '''
"""Classifiers that leave things behind on purpose."""

import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np

from bench import ClassifierSpec, hookimpl
from bench_numpy.softmax import NumpySoftmax


def _note(kind, value):
    """Append ``kind value`` to the file named by HOSTILE_NOTES (the test reads it)."""
    path = os.environ.get("HOSTILE_NOTES")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{kind} {value}\\n")


def _row_directory():
    return sys.argv[-1]  # python -m bench.execute.child FD PID DIR


def _bomb(path):
    """A .npz whose zip directory declares 4 GiB for a member of a few bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", b"\\x00" * 16)
    data = bytearray(open(path, "rb").read())
    for signature, offset in ((b"PK\\x03\\x04", 22), (b"PK\\x01\\x02", 24)):
        at = data.find(signature)
        data[at + offset : at + offset + 4] = (2**32 - 1).to_bytes(4, "little")
    open(path, "wb").write(bytes(data))


class Hostile(NumpySoftmax):
    fault = ""

    def setup(self, config):
        super().setup(config)
        if self.fault == "noisy":
            print("HOSTILE-STDOUT from setup")
            print("HOSTILE-STDERR from setup", file=sys.stderr)
            sys.stdout.flush()
        if self.fault == "noisy-fail":
            print("HOSTILE-STDERR: the reason it fails", file=sys.stderr)
            raise RuntimeError("boom after printing")
        if self.fault == "thread":
            threading.Thread(target=lambda: time.sleep(3600), name="hostile-forever").start()
        if self.fault in ("fork", "pipe-holder"):
            pid = os.fork()
            if pid == 0:  # the child: holds every inherited descriptor (the pipe too)
                time.sleep(3600)
                os._exit(0)
            _note("pid", pid)
        if self.fault == "setsid":
            proc = subprocess.Popen(["sleep", "3600"], start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _note("pid", proc.pid)
        if self.fault == "hang":
            _note("training", os.getpid())
            time.sleep(3600)
        if self.fault == "flood":  # 70 MiB on the pipe to bench, no newline
            os.write(int(sys.argv[1]), b"x" * (70 * 2**20))
        if self.fault in ("hog", "sigkill"):
            if self.fault == "hog":
                hog = np.ones(400 * 2**20, dtype=np.uint8)  # touched: resident
                time.sleep(0.5)  # long enough for bench to see the peak
            os.kill(os.getpid(), signal.SIGKILL)

    def close(self):
        directory = _row_directory()
        final = os.path.join(directory, "final.npz")
        if self.fault == "object-array":
            np.savez(final, weights=np.array([{"a": 1}], dtype=object))
        elif self.fault == "garbage":
            with open(final, "wb") as handle:
                handle.write(b"this is not a zip file")
        elif self.fault == "bomb":
            _bomb(final)
        super().close()


def _factory(fault):
    def make():
        clf = Hostile()
        clf.fault = fault
        return clf

    return make


def _hanging_devices():
    time.sleep(3600)
    return ["cpu"]


def _forking_devices():
    pid = os.fork()
    if pid == 0:
        time.sleep(3600)
        os._exit(0)
    _note("pid", pid)
    return ["cpu"]


FAULTS = ("noisy", "noisy-fail", "thread", "fork", "pipe-holder", "setsid", "hang", "object-array", "garbage",
          "bomb", "hog", "sigkill", "flood")


@hookimpl
def bench_register_classifiers(register):
    for fault in FAULTS:
        register(ClassifierSpec(f"hostile-{fault}", f"numpy softmax that does: {fault}", _factory(fault)))
    register(ClassifierSpec("hostile-devices-hang", "devices() never returns", _factory(""),
                            devices=_hanging_devices))
    register(ClassifierSpec("hostile-devices-fork", "devices() leaves a child holding the pipe", _factory(""),
                            devices=_forking_devices))
'''


@pytest.fixture
def hostile(bench, tmp_path: Path):
    bench.add_distribution("bench-hostile", {"hostile": "fakeplugin_hostile"},
                           {"fakeplugin_hostile": HOSTILE_PLUGIN})
    bench.tmpdir = tmp_path / "tmp"
    bench.tmpdir.mkdir()
    bench.notes = tmp_path / "notes"
    bench.env.update(TMPDIR=str(bench.tmpdir), HOSTILE_NOTES=str(bench.notes))
    return bench


def _notes(bench, kind: str) -> list[int]:
    if not bench.notes.exists():
        return []
    return [int(line.split()[1]) for line in bench.notes.read_text().splitlines() if line.split()[0] == kind]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _rows(bench) -> list[dict]:
    [document] = bench.saved()
    return document["results"]


def _row_directories(bench) -> list[str]:
    return [p.name for p in bench.tmpdir.iterdir() if p.name.startswith("bench-row-")]


def test_a_thread_left_running_cannot_hold_the_run_open(hostile) -> None:
    started = time.monotonic()
    proc = hostile.run("--plugins", "hostile-thread,numpy", "--steps", "5", "--timeout", "30", timeout=90)
    assert time.monotonic() - started < 60
    assert proc.returncode == 0, proc.stderr
    thread_row, numpy_row = _rows(hostile)
    assert thread_row["status"] == "ok" and numpy_row["status"] == "ok"
    # The worker leaves with os._exit after its last report: the thread ends with it, and
    # nothing is left for bench to kill (no wait for the exit grace either).
    assert "killed_after_row" not in thread_row and "killed_after_row" not in numpy_row
    assert _row_directories(hostile) == []


def test_a_thread_left_running_in_bench_own_process_does_not_hold_it_open(hostile) -> None:
    proc = hostile.run("--plugins", "hostile-thread", "--steps", "5", "--executor", "inprocess", timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert "1 thread(s) a plugin started are still running (hostile-forever)" in proc.stderr
    assert [r["status"] for r in _rows(hostile)] == ["ok"]
    assert "saved " in proc.stdout


@pytest.mark.parametrize("fault", ["fork", "pipe-holder", "setsid"])
def test_processes_a_row_started_do_not_outlive_it(hostile, fault: str) -> None:
    proc = hostile.run("--plugins", f"hostile-{fault},numpy", "--steps", "5", timeout=90)
    assert proc.returncode == 0, proc.stderr
    [pid] = _notes(hostile, "pid")
    assert not _alive(pid)
    row = _rows(hostile)[0]
    assert row["status"] == "ok"
    assert any(f"pid {pid} (" in note for note in row["killed_after_row"]), row
    if fault == "setsid":
        assert f"pid {pid} (sleep)" in row["killed_after_row"]


def test_a_killed_bench_leaves_a_row_directory_and_a_child_that_the_next_run_removes(hostile) -> None:
    proc = hostile.popen("run", "--plugins", "hostile-fork", "--steps", "100000", "--dataset", "synthetic",
                         "--quiet", "--results-dir", str(hostile.results))
    deadline = time.monotonic() + 60
    while not _notes(hostile, "pid"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    [child] = _notes(hostile, "pid")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    time.sleep(0.2)
    assert len(_row_directories(hostile)) == 1
    assert _alive(child)  # a child of the worker, which the kernel killed with bench; nobody reaps it
    again = hostile.run("--plugins", "numpy", "--steps", "5")
    assert again.returncode == 0, again.stderr
    assert _row_directories(hostile) == []
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_a_device_listing_that_never_returns_is_stopped(hostile, clean_error) -> None:
    started = time.monotonic()
    proc = hostile.run("--plugins", "hostile-devices-hang", "--devices", "all", "--timeout", "3", timeout=60)
    assert time.monotonic() - started < 30
    assert "listing its devices did not finish within 3 s" in proc.stderr + proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_device_listing_that_leaves_a_child_holding_the_pipe_returns(hostile) -> None:
    proc = hostile.run("--plugins", "hostile-devices-fork", "--devices", "all", "--steps", "5", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in _rows(hostile)] == ["ok"]
    assert _notes(hostile, "pid") and not any(_alive(pid) for pid in _notes(hostile, "pid"))


@pytest.mark.parametrize(("fault", "needle"), [
    ("object-array", "holds object values, not numbers"),
    ("garbage", "final.npz is not a readable .npz file (BadZipFile"),
    ("bomb", "final.npz unpacks to 4294967295 bytes, more than the limit"),
])
def test_a_bad_parameter_file_fails_its_row_only(hostile, fault: str, needle: str) -> None:
    proc = hostile.run("--plugins", f"hostile-{fault},numpy", "--steps", "5", timeout=90)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    bad, good = _rows(hostile)
    assert bad["status"] == "failed" and needle in bad["error"], bad["error"]
    assert good["status"] == "ok"
    assert "hostile-" in proc.stdout  # the table was printed


def test_worker_output_is_kept_in_the_row_not_on_bench_stdout(hostile) -> None:
    proc = hostile.run("--plugins", "hostile-noisy", "--steps", "5")
    assert proc.returncode == 0, proc.stderr
    assert "HOSTILE-STD" not in proc.stdout + proc.stderr
    [row] = _rows(hostile)
    assert "HOSTILE-STDOUT from setup" in row["output_tail"] and "HOSTILE-STDERR from setup" in row["output_tail"]
    debug = hostile.run("--plugins", "hostile-noisy", "--steps", "5", "--debug")
    assert "HOSTILE-STDOUT from setup" in debug.stderr and "HOSTILE-STDOUT" not in debug.stdout


def test_a_failed_row_shows_the_end_of_its_output(hostile) -> None:
    proc = hostile.run("--plugins", "hostile-noisy-fail", "--steps", "5")
    assert proc.returncode == 1
    assert "output: HOSTILE-STDERR: the reason it fails" in proc.stdout


def test_sighup_is_handled_as_sigterm(hostile) -> None:
    proc = hostile.popen("run", "--plugins", "numpy,hostile-hang", "--steps", "5", "--dataset", "synthetic",
                         "--quiet", "--results-dir", str(hostile.results))
    deadline = time.monotonic() + 60
    while not _notes(hostile, "training"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 129, stderr
    assert "Traceback" not in stderr
    [document] = hostile.saved()
    assert document["interrupted"] == "SIGHUP"
    assert [r["status"] for r in document["results"]] == ["ok", "interrupted"]
    assert document["results"][1]["error"].startswith("interrupted (SIGHUP) during setup")
    assert _row_directories(hostile) == []


def test_stale_row_directories_of_dead_runs_are_removed(hostile) -> None:
    dead = hostile.tmpdir / "bench-row-999999999-abc"  # beyond pid_max: no such process
    dead.mkdir()
    (dead / "job.json").write_text("{}")
    alive = hostile.tmpdir / f"bench-row-{os.getpid()}-abc"
    alive.mkdir()
    other = hostile.tmpdir / "bench-row-notours"
    other.mkdir()
    proc = hostile.run("--plugins", "numpy", "--steps", "5")
    assert proc.returncode == 0, proc.stderr
    assert sorted(_row_directories(hostile)) == sorted([alive.name, other.name])
    json.dumps(_rows(hostile))


MEMORY_LIMIT_SHIM = """
import bench.execute.worker as worker

worker.memory_limit = lambda: 300 * 2**20  # test stand-in: this machine has 300 MiB
worker._oom_kills = lambda: None  # and no cgroup to ask
"""


def test_a_worker_killed_near_the_memory_limit_is_said_to_be_most_likely_out_of_memory(hostile) -> None:
    (hostile.site / "sitecustomize.py").write_text(MEMORY_LIMIT_SHIM)
    proc = hostile.run("--plugins", "hostile-hog,hostile-sigkill", "--steps", "5", timeout=90)
    assert proc.returncode == 1
    hog, plain = _rows(hostile)
    assert hog["error"].startswith("worker died: SIGKILL, most likely out of memory (its resident memory reached ")
    assert "GiB of the 0.3 GiB limit)" in hog["error"]
    assert plain["error"].startswith("worker died: SIGKILL during setup"), plain["error"]


def test_a_message_too_long_fails_its_row_only(hostile) -> None:
    proc = hostile.run("--plugins", "hostile-flood,numpy", "--steps", "5", timeout=90)
    assert proc.returncode == 1, proc.stderr
    flood, good = _rows(hostile)
    assert flood["status"] == "failed" and flood["error"] == "worker: a message longer than 64 MiB during setup"
    assert good["status"] == "ok"
