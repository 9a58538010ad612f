"""benchmarks/tox_bench.py, behind ``tox -e bench``: compare only when there is a saved run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tox_bench.py"
_spec = importlib.util.spec_from_file_location("tox_bench", SCRIPT)
tox_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tox_bench)

pytest.importorskip("pytest_benchmark")
from pytest_benchmark.utils import get_machine_id  # noqa: E402 - after the skip


def test_first_run_only_saves(tmp_path, capsys):
    args = tox_bench.command(["-q"], tmp_path)
    assert args[:3] == [sys.executable, "-m", "pytest"]
    assert "--benchmark-enable" in args and "--benchmark-autosave" in args
    assert f"--benchmark-storage=file://{tmp_path}" in args
    assert not any(a.startswith("--benchmark-compare") for a in args)
    assert args[-1] == "-q"
    assert "this run becomes the baseline" in capsys.readouterr().out


def test_later_runs_compare_with_the_last_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BENCH_COMPARE_FAIL", raising=False)
    runs = tmp_path / get_machine_id()
    runs.mkdir()
    for name in ("0001_abc_20260101_000000.json", "0002_def_20260102_000000.json", "notes.json"):
        (runs / name).write_text("{}")
    args = tox_bench.command([], tmp_path)
    assert "--benchmark-compare" in args and "--benchmark-compare-fail=min:25%" in args
    assert "comparing with 0002_def" in capsys.readouterr().out


def test_compare_checks_come_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / get_machine_id()).mkdir()
    (tmp_path / get_machine_id() / "0001_x.json").write_text("{}")
    monkeypatch.setenv("BENCH_COMPARE_FAIL", "min:10%, median:50%")
    args = tox_bench.command([], tmp_path)
    assert [a for a in args if a.startswith("--benchmark-compare-fail")] == [
        "--benchmark-compare-fail=min:10%",
        "--benchmark-compare-fail=median:50%",
    ]
