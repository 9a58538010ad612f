"""Hostile plugins, through the real ``bench run``: none of them is credited with what it did
not do (docs/trust.md). Each cheat can be switched off (``HOSTILE_HONEST=1``), so the same
plugin also gives an honest baseline for ``bench compare``."""

from __future__ import annotations

import pytest

HOSTILE_PLUGIN = '''
"""Classifiers that cheat: each takes the numpy softmax and lies about what it did."""

import json
import os
import sys
import time

import numpy as np

from bench import linear_softmax_work
from bench.classifier import ClassifierSpec
from bench.hookspecs import hookimpl
from bench_numpy.softmax import NumpySoftmax

HONEST = os.environ.get("HOSTILE_HONEST") == "1"
FORGED_ROW = {"status": "ok", "test_accuracy": 0.9876, "steps_completed": 200, "node": {"host": "elsewhere"},
              "observed_training_seconds": 0.2,
              "step_seconds": [1e-6] * 200, "load_seconds": 0.0, "setup_seconds": 0.0,
              "eval_seconds": 0.001, "wall_seconds": 0.2}


def _pipe():
    """The worker's report channel: its descriptor is the child's first argument."""
    return os.fdopen(int(sys.argv[1]), "w", buffering=1)


def _job_dir():
    return sys.argv[3]


class Forger(NumpySoftmax):
    """Writes a finished row of its own on the report channel, then exits."""

    def __init__(self):
        super().__init__()
        if HONEST:
            return
        pipe = _pipe()
        pipe.write(json.dumps({"event": "done", "row": FORGED_ROW,
                               "environment": {"numpy": "0.0.0-fake"}}) + "\\n")
        pipe.flush()
        os._exit(0)


class FullForger(NumpySoftmax):
    """Forges the whole protocol with believable pauses, and predictions of its own."""

    def __init__(self):
        super().__init__()
        if HONEST:
            return
        # its job first: started ahead of its row, it has none yet and raises (bench ignores
        # that and builds it again for the row); a report channel opened before would be
        # closed with the exception, and the worker with it
        count = int(json.loads(open(os.path.join(_job_dir(), "job.json")).read())["job"]["schedule"]["steps"])
        pipe = _pipe()
        for phase in ("setup", "training"):  # bench reported "load" before the classifier was made
            pipe.write(json.dumps({"event": "phase", "phase": phase}) + "\\n")
        time.sleep(0.2)
        for phase in ("evaluation", "report"):
            pipe.write(json.dumps({"event": "phase", "phase": phase}) + "\\n")
        prepared = json.loads(open(os.path.join(_job_dir(), "job.json")).read())["prepared"]
        test = np.load(os.path.join(prepared, "test_images.npy"), mmap_mode="r")
        np.save(os.path.join(_job_dir(), "predictions.npy"), np.zeros((1, len(test)), dtype=np.int16))
        row = dict(FORGED_ROW, steps_completed=count, step_seconds=[1e-6] * count)
        pipe.write(json.dumps({"event": "done", "row": row,
                               "predictions": {"steps": [count], "seconds": [0.2], "final": True}}) + "\\n")
        pipe.flush()
        os._exit(0)


class SlowClock(NumpySoftmax):
    """Replaces the process's clock with one that runs a hundred times slow."""

    def __init__(self):
        super().__init__()
        if not HONEST:
            real = time.perf_counter
            start = real()
            time.perf_counter = lambda: start + (real() - start) / 100

    def train_step(self, images, labels):
        time.sleep(0.003)
        return super().train_step(images, labels)


class PrepareDataReader(NumpySoftmax):
    """Looks for the test labels in the prepared copy the job file names."""

    def predict(self, images):
        if not HONEST:
            job = json.loads(open(os.path.join(_job_dir(), "job.json")).read())
            for name in os.listdir(job["prepared"]):
                if "label" in name and "train" not in name:
                    return np.load(os.path.join(job["prepared"], name)).astype(np.int64)
        return super().predict(images)


class FrameReader(NumpySoftmax):
    """Looks for the test labels in the harness's stack frames."""

    def predict(self, images):
        frame = sys._getframe(1)
        while frame is not None and not HONEST:
            for value in frame.f_locals.values():
                labels = getattr(value, "test_labels", None)
                if isinstance(labels, np.ndarray) and labels.shape == (len(images),):
                    return labels.astype(np.int64)
            frame = frame.f_back
        return super().predict(images)


class Deferred(NumpySoftmax):
    """Returns a constant from train_step and trains in parameters() and predict()."""

    def setup(self, config):
        super().setup(config)
        self.pending = []

    def train_step(self, images, labels):
        if HONEST:
            return super().train_step(images, labels)
        self.pending.append((images.copy(), labels.copy()))
        return 2.3

    def _catch_up(self):
        for images, labels in self.pending:
            time.sleep(0.01)
            super().train_step(images, labels)
        self.pending = []

    def parameters(self):
        self._catch_up()
        return super().parameters()

    def predict(self, images):
        self._catch_up()
        return super().predict(images)


HOSTILE = {"forger": Forger, "full-forger": FullForger, "slow-clock": SlowClock,
           "prepared-reader": PrepareDataReader, "frame-reader": FrameReader, "deferred": Deferred}


@hookimpl
def bench_register_classifiers(register):
    for name, kind in HOSTILE.items():
        register(ClassifierSpec(f"hostile-{name}", kind.__doc__, kind, work=linear_softmax_work))
    register(ClassifierSpec("hostile-fake-numpy", "reports a numpy version of its own", NumpySoftmax,
                            environment=lambda: {"numpy": "0.0.0-fake"}))
'''


@pytest.fixture
def hostile(bench):
    bench.add_distribution("bench-hostile", {"hostile": "fakeplugin_hostile"}, {"fakeplugin_hostile": HOSTILE_PLUGIN})
    return bench


def _rows(bench) -> dict[str, dict]:
    [document] = bench.saved()
    return {row["plugin"]: row for row in document["results"]}


def test_a_forged_report_is_not_credited(hostile) -> None:
    proc = hostile.run("--plugins", "numpy,hostile-forger", "--steps", "50")
    assert proc.returncode == 1, proc.stderr
    rows = _rows(hostile)
    forged = rows["hostile-forger"]
    assert forged["status"] == "failed" and "final predictions" in forged["error"]
    assert forged["test_accuracy"] is None and forged["roofline_fraction"] is None
    assert rows["numpy"]["environment"]["numpy"] != "0.0.0-fake"
    [document] = hostile.saved()
    assert "0.0.0-fake" not in str(document["machine"])
    assert "hostile-forger" in proc.stdout and "failed" in proc.stdout


def test_a_report_forged_in_full_is_suspect_and_scored_by_the_parent(hostile) -> None:
    proc = hostile.run("--plugins", "numpy,hostile-full-forger", "--steps", "200")
    assert proc.returncode == 1, proc.stderr
    forged = _rows(hostile)["hostile-full-forger"]
    assert forged["status"] == "suspect", forged
    assert "measured ceilings" in forged["error"]
    assert forged["test_accuracy"] == pytest.approx(0.1, abs=0.02)  # its all-zero predictions, scored by bench
    assert "node" not in forged and forged["observed_training_seconds"] != 0.2
    assert "suspect" in proc.stdout


def test_a_slowed_clock_is_suspect(hostile) -> None:
    proc = hostile.run("--plugins", "hostile-slow-clock", "--steps", "300")
    assert proc.returncode == 1, proc.stderr
    row = _rows(hostile)["hostile-slow-clock"]
    assert row["status"] == "suspect", row
    assert "parent's clock saw" in row["error"]
    assert row["observed_training_seconds"] > 0.9  # 300 steps of at least 3 ms, on the parent's clock
    assert "suspect" in proc.stdout


@pytest.mark.parametrize("cheat", ["prepared-reader", "frame-reader"])
def test_the_test_labels_never_reach_a_worker(hostile, cheat: str) -> None:
    proc = hostile.run("--plugins", f"numpy,hostile-{cheat}", "--steps", "100", "--eval-every", "50")
    assert proc.returncode == 0, proc.stderr
    rows = _rows(hostile)
    cheater, reference = rows[f"hostile-{cheat}"], rows["numpy"]
    assert cheater["status"] == "ok"
    assert cheater["test_accuracy"] == reference["test_accuracy"] < 0.9
    assert [point[:2] for point in cheater["accuracy_curve"]] == [point[:2] for point in reference["accuracy_curve"]]


def test_training_moved_into_parameters_and_predict_is_suspect(hostile) -> None:
    proc = hostile.run("--plugins", "hostile-deferred", "--steps", "400")
    assert proc.returncode == 1, proc.stderr
    row = _rows(hostile)["hostile-deferred"]
    assert row["status"] == "suspect", row
    assert "outside the timed steps" in row["error"]
    assert row["parameters_seconds"] + row["eval_seconds"] > 3.0


def test_each_row_keeps_its_own_environment(hostile) -> None:
    proc = hostile.run("--plugins", "numpy,hostile-fake-numpy", "--steps", "5")
    assert proc.returncode == 0, proc.stderr
    rows = _rows(hostile)
    assert rows["numpy"]["environment"]["numpy"] != "0.0.0-fake"
    assert rows["numpy"]["environment"]["numpy_blas_threads"]
    assert rows["hostile-fake-numpy"]["environment"] == {"numpy": "0.0.0-fake"}
    [document] = hostile.saved()
    assert not document["machine"]["frameworks"]


def test_compare_fails_on_a_suspect_candidate(hostile) -> None:
    assert hostile.run("--plugins", "hostile-slow-clock", "--steps", "300", HOSTILE_HONEST="1").returncode == 0
    assert hostile.run("--plugins", "hostile-slow-clock", "--steps", "300").returncode == 1
    baseline, candidate = sorted(hostile.results.glob("*.json"), key=lambda path: path.stat().st_mtime_ns)
    proc = hostile("compare", str(baseline), str(candidate), "--fail-below", "0.5")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "suspect" in proc.stdout + proc.stderr
