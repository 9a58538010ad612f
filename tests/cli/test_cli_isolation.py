"""Every row in its own worker process: crashes, hangs, signals, lies and memory, through the real command."""

from __future__ import annotations

import json
import signal
import time

import pytest

LIARS_PLUGIN = '''
"""Classifiers that crash their process, hang, or break the interface on purpose."""

import math
import os
import signal
import time

import numpy as np

from bench import ClassifierSpec, hookimpl
from bench_numpy.softmax import NumpySoftmax


def _mark(text):
    marker = os.environ.get("FAKE_MARKER")
    if marker:
        with open(marker, "w") as handle:
            handle.write(text)


class Fault(NumpySoftmax):
    fault = ""

    def setup(self, config):
        super().setup(config)
        self.step = 0

    def train_step(self, images, labels):
        self.step += 1
        loss = super().train_step(images, labels)
        if self.step < 3:
            return loss
        if self.fault == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if self.fault == "exit7":
            os._exit(7)
        if self.fault in ("hang", "stubborn"):
            if self.fault == "stubborn":
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            _mark("training")
            while True:
                time.sleep(0.05)
        if self.fault == "str":
            return "0.5"
        if self.fault == "none":
            return None
        if self.fault == "pair":
            return np.array([loss, loss])
        if self.fault == "complex":
            return complex(loss, 1.0)
        return loss

    def predict(self, images):
        predictions = super().predict(images)
        if self.fault == "float-predictions":
            return predictions.astype(np.float32)
        if self.fault == "nan-predictions":
            return np.full(len(images), np.nan)
        return predictions

    def parameters(self):
        if self.fault == "live-views":
            return {"weights": self.weights, "biases": self.biases}
        params = super().parameters()
        if self.fault == "nan-params":
            params["biases"][0] = math.nan
        return params

    def close(self):
        if self.fault == "slow-close" and self.weights is not None:
            _mark("closing")
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            time.sleep(60)
        super().close()


class LazyLoss:
    """A loss whose value is computed only when it is read: 2 ms of work each."""

    def __init__(self, value):
        self.value = value

    def __float__(self):
        end = time.perf_counter() + 0.002
        while time.perf_counter() < end:
            pass
        return float(self.value)


class Lazy(NumpySoftmax):
    def train_step(self, images, labels):
        return LazyLoss(super().train_step(images, labels))


def _factory(fault):
    def make():
        clf = Fault()
        clf.fault = fault
        return clf

    return make


FAULTS = ("segfault", "exit7", "hang", "stubborn", "str", "none", "pair", "complex", "float-predictions",
          "nan-predictions", "live-views", "nan-params", "slow-close")


@hookimpl
def bench_register_classifiers(register):
    for fault in FAULTS:
        register(ClassifierSpec(f"liar-{fault}", f"numpy softmax that does: {fault}", _factory(fault)))
    register(ClassifierSpec("liar-lazy", "numpy softmax returning a lazily computed loss", Lazy))
    register(ClassifierSpec("liar-pid", "numpy softmax reporting its process id", NumpySoftmax,
                            environment=lambda: {"liar_pid_" + str(os.getpid()): "yes"}))
    register(ClassifierSpec("numpy", "a third-party classifier that takes the reference's name", Fault))
'''


@pytest.fixture
def liars(bench):
    bench.add_distribution("bench-liars", {"liars": "fakeplugin_liars"}, {"fakeplugin_liars": LIARS_PLUGIN})
    return bench


def _rows(bench) -> list[dict]:
    [document] = bench.saved()
    return document["results"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [("segfault", "worker died: SIGSEGV during training (step"), ("exit7", "worker exited with code 7 during training")],
)
def test_a_dying_worker_fails_its_row_and_the_run_goes_on(liars, fault: str, message: str) -> None:
    proc = liars.run("--plugins", f"liar-{fault},numpy", "--steps", "20")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = _rows(liars)
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert rows[0]["error"].startswith(message), rows[0]["error"]
    assert rows[1]["test_accuracy"] is not None


def test_a_hung_row_times_out_and_the_run_goes_on(liars) -> None:
    start = time.monotonic()
    proc = liars.run("--plugins", "liar-stubborn,numpy", "--steps", "20", "--timeout", "3")
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr
    rows = _rows(liars)
    assert [r["status"] for r in rows] == ["timeout", "ok"]
    assert rows[0]["error"].startswith("timed out after 3 s during training (step 2 of 20)"), rows[0]["error"]
    assert elapsed < 30


def test_timeout_needs_process_isolation(liars, clean_error) -> None:
    clean_error(liars.run("--plugins", "numpy", "--timeout", "3", "--isolation", "none"), 2, "--executor process")


def test_a_lazy_loss_is_timed_when_it_is_computed(liars) -> None:
    """The harness reads the float inside the timed region: 2 ms of deferred work per step shows."""
    proc = liars.run("--plugins", "liar-lazy,numpy", "--steps", "60")
    assert proc.returncode == 0, proc.stderr
    lazy, reference = _rows(liars)
    assert lazy["steps_per_second"] < 1 / 0.002  # each step waited for its 2 ms
    assert lazy["steps_per_second"] < reference["steps_per_second"]
    assert lazy["parity_max_abs_diff"] == 0.0


@pytest.mark.parametrize("fault", ["str", "none", "pair", "complex"])
def test_a_loss_that_is_not_a_real_number_fails_the_row(liars, fault: str) -> None:
    proc = liars.run("--plugins", f"liar-{fault}", "--steps", "5")
    assert proc.returncode == 1
    [row] = _rows(liars)
    assert row["status"] == "failed"
    assert "train_step must return the batch's mean loss as a real number" in row["error"], row["error"]
    assert "step 3 returned" in row["error"]


@pytest.mark.parametrize(("fault", "needle"), [("float-predictions", "not float32"), ("nan-predictions", "NaN")])
def test_predictions_must_be_integer_class_indices(liars, fault: str, needle: str) -> None:
    proc = liars.run("--plugins", f"liar-{fault}", "--steps", "5")
    assert proc.returncode == 1
    [row] = _rows(liars)
    assert row["status"] == "failed" and row["test_accuracy"] is None
    assert "predict must return integer class indices" in row["error"] and needle in row["error"], row["error"]
    assert "RuntimeWarning" not in proc.stderr


def test_live_parameter_views_cannot_fake_parity(liars) -> None:
    """Snapshots are the harness's copies: the @10 column is the state after step 10, not the end."""
    proc = liars.run("--plugins", "numpy,liar-live-views", "--steps", "40", "--preprocessing", "standardize")
    assert proc.returncode == 0, proc.stderr
    _, liar = _rows(liars)
    assert liar["parity_max_abs_diff"] == 0.0 and liar["final_max_abs_diff"] == 0.0


def test_nan_parameters_show_as_nan_in_the_parity_columns(liars) -> None:
    proc = liars.run("--plugins", "numpy,liar-nan-params", "--steps", "20")
    assert proc.returncode == 0, proc.stderr
    _, liar = _rows(liars)
    assert liar["parity_max_abs_diff"] == "nan" and liar["final_max_abs_diff"] == "nan"
    assert "nan" in proc.stdout.split("liar-nan-params", 1)[1].splitlines()[0]


def test_each_row_runs_in_its_own_process(liars) -> None:
    proc = liars.run("--plugins", "liar-pid,liar-pid,numpy", "--steps", "5")
    assert proc.returncode == 0, proc.stderr
    [document] = liars.saved()
    pids = {key for row in document["results"] for key in row["environment"] if key.startswith("liar_pid_")}
    assert len(pids) == 2  # the same classifier twice: two processes
    assert all(row["isolation"] == "process" and row["worker_start_seconds"] > 0 for row in document["results"])
    [path] = liars.results.glob("*.json")
    assert "numpy (cpu): worker start, bench import, data mapping" in liars("report", str(path)).stdout


def test_isolation_none_runs_rows_in_this_process(liars) -> None:
    proc = liars.run("--plugins", "liar-pid,liar-pid", "--steps", "5", "--isolation", "none")
    assert proc.returncode == 0, proc.stderr
    [document] = liars.saved()
    assert len({k for row in document["results"] for k in row["environment"] if k.startswith("liar_pid_")}) == 1
    assert {row["isolation"] for row in document["results"]} == {"none"}


def test_memory_columns(liars) -> None:
    proc = liars.run("--plugins", "numpy", "--steps", "20")
    assert proc.returncode == 0, proc.stderr
    [row] = _rows(liars)
    assert 20 * 2**20 < row["peak_host_memory_bytes"] < 16 * 2**30
    assert row["peak_device_memory_bytes"] is None  # numpy on the CPU cannot tell
    assert "host MiB" in proc.stdout


def test_a_builtin_name_cannot_be_taken_over(liars) -> None:
    listing = liars("plugins")
    assert listing.returncode == 0
    assert "already registered by bench's built-in plugin 'numpy'" in " ".join(listing.stdout.split())  # wrapped
    proc = liars.run("--plugins", "numpy", "--steps", "5")
    assert proc.returncode == 0, proc.stderr
    [row] = _rows(liars)
    assert row["distribution"] == "bench-harness"


@pytest.mark.parametrize("threads", ["0", "100000"])
def test_threads_out_of_range_is_a_usage_error(liars, clean_error, threads: str) -> None:
    proc = liars.run("--plugins", "numpy", "--threads", threads)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _start(bench, plugins: str, marker_text: str, *extra: str):
    marker = bench.cwd / "marker"
    proc = bench.popen("run", "--plugins", plugins, "--steps", "20", "--dataset", "synthetic", "--quiet",
                       "--results-dir", str(bench.results), *extra, FAKE_MARKER=str(marker))
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text() == marker_text):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the plugin never reached its fault"
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize(("signum", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_stops_a_plugin_that_ignores_signals_within_two_seconds(liars, signum, code, name) -> None:
    proc = _start(liars, "numpy,liar-stubborn,numpy", "training")
    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0 + 1.0  # the 2 s promise, and the table printing
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    [document] = liars.saved()
    assert document["interrupted"] == name
    assert [r["status"] for r in document["results"]] == ["ok", "interrupted"]
    assert document["results"][1]["error"] == f"interrupted ({name}) during training (step 2 of 20)"


def test_ctrl_c_during_close_keeps_the_measured_row(liars) -> None:
    proc = _start(liars, "liar-slow-close,numpy", "closing")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    [document] = liars.saved()
    [row] = document["results"]
    assert row["status"] == "ok" and row["test_accuracy"] is not None
    assert "close did not finish" in row["error"]


def test_many_ctrl_c_still_leave_the_document_marked_interrupted(liars) -> None:
    proc = _start(liars, "numpy,liar-stubborn", "training")
    for _ in range(6):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    [document] = liars.saved()
    assert document["interrupted"] == "SIGINT"
    assert document["results"][0]["status"] == "ok"
    json.dumps(document)
