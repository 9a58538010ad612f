"""Run the real ``bench`` command in a subprocess, with throwaway plugins when a test needs them.

Every run gets ``BENCH_OFFLINE=1``, no ``BENCH_DATA_DIR``, its own working directory and
results directory, and (when plugins are added) a site directory on ``PYTHONPATH`` holding
modules and a ``*.dist-info/entry_points.txt`` with a ``[bench]`` group, which is how
importlib.metadata (and so pluggy) finds an installed plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

LAUNCHER = Path(__file__).with_name("launch.py")

FAULTS_PLUGIN = '''
"""Classifiers that fail on purpose: in setup, at a step, in predict, with a NaN or
infinite loss, or by sleeping in train_step (to be interrupted)."""

import os
import time

from bench.classifier import ClassifierSpec
from bench.hookspecs import hookimpl
from bench_numpy.softmax import NumpySoftmax


class Faulty(NumpySoftmax):
    fault = ""

    def setup(self, config):
        if self.fault == "setup":
            raise RuntimeError("boom in setup")
        super().setup(config)
        self.step = 0

    def train_step(self, images, labels):
        self.step += 1
        if self.fault == "step" and self.step == 3:
            raise RuntimeError("boom at step 3")
        if self.fault == "sleepy":
            marker = os.environ.get("FAKE_MARKER")
            if marker:
                with open(marker, "w") as handle:
                    handle.write("training")
            time.sleep(60)
        loss = super().train_step(images, labels)
        if self.fault == "nan" and self.step == 3:
            return float("nan")
        if self.fault == "inf" and self.step == 2:
            return float("inf")
        return loss

    def predict(self, images):
        if self.fault == "predict":
            raise RuntimeError("boom in predict")
        return super().predict(images)


def _factory(fault):
    def make():
        clf = Faulty()
        clf.fault = fault
        return clf

    return make


@hookimpl
def bench_register_classifiers(register):
    register(ClassifierSpec("fault-ok", "numpy softmax, no fault", _factory("")))
    for fault in ("setup", "step", "predict", "nan", "inf", "sleepy"):
        register(ClassifierSpec(f"fault-{fault}", f"numpy softmax with a fault: {fault}", _factory(fault)))
'''

BROKEN_PLUGIN = '''
raise ImportError("needs libfrobnicate, which is not installed")
'''


_CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass
class Bench:
    """The ``bench`` command, run as ``python -m bench`` in ``cwd`` with a clean environment."""

    cwd: Path
    site: Path
    results: Path
    env: dict[str, str] = field(default_factory=dict)

    def add_distribution(self, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        """Install a throwaway distribution whose ``[bench]`` entry points the subprocess finds."""
        self.site.mkdir(exist_ok=True)
        for module, source in modules.items():
            (self.site / f"{module}.py").write_text(textwrap.dedent(source))
        # The directory name carries the normalised name (dashes would make importlib.metadata
        # read "bench-faults-1.0" as distribution "bench" and hide bench's own entry points).
        info = self.site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[bench]\n{lines}\n")

    def add_fault_plugins(self) -> None:
        self.add_distribution("bench-faults", {"faults": "fakeplugin_faults"}, {"fakeplugin_faults": FAULTS_PLUGIN})

    def add_broken_plugin(self, name: str) -> None:
        """A plugin whose module raises ImportError."""
        module = f"fakeplugin_{name}"
        self.add_distribution(f"bench-{name}", {name: module}, {module: BROKEN_PLUGIN})

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_") and k != "PYTHONPATH"}
        env.update(BENCH_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1", TF_CPP_MIN_LOG_LEVEL="3")
        env.update(self.env)
        env.update(extra)
        # The checkout under test, not whichever copy of bench the interpreter has installed
        # (an editable install of another checkout would otherwise be the one tested).
        paths = [str(self.site)] if self.site.is_dir() else []
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(_CHECKOUT), str(_CHECKOUT / "plugins")])
        return env

    def args(self, *args: str) -> list[str]:
        """The command line: through the launcher, which lets the child see Ctrl-C even if this
        test runs where SIGINT is ignored (a background job), without a ``preexec_fn``."""
        return [sys.executable, str(LAUNCHER), "--", sys.executable, "-m", "bench", *args]

    def __call__(self, *args: str, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args(*args),
            cwd=self.cwd,
            env=self.environment(**extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.args(*args),
            cwd=self.cwd,
            env=self.environment(**extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """``bench run ARGS --results-dir RESULTS --quiet`` on the synthetic set unless told otherwise."""
        extra = [] if "--dataset" in args or "--data-dir" in args else ["--dataset", "synthetic"]
        return self("run", *args, *extra, "--results-dir", str(self.results), "--quiet", timeout=timeout, **extra_env)

    def saved(self) -> list[dict[str, Any]]:
        """Every result file in the results directory, parsed."""
        if not self.results.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.results.glob("*.json"))]


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Bench(cwd=cwd, site=tmp_path / "site", results=tmp_path / "results")


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Exit ``code``, no traceback, and a one-line ``bench...: error: ...`` naming every needle."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@pytest.fixture
def clean_error() -> Any:
    return assert_clean_error
