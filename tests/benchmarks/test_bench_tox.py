"""benchmarks/tox_bench.py, behind ``tox -e bench``: compare with the last saved run, save only a pass.

Nothing here is timed: pytest is faked by a function that writes a fabricated
pytest-benchmark JSON file where ``--benchmark-json`` points.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")
from pytest_benchmark.utils import get_machine_id  # noqa: E402 - after the skip

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tox_bench.py"
_spec = importlib.util.spec_from_file_location("tox_bench", SCRIPT)
tox_bench = sys.modules["tox_bench"] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(tox_bench)

STEP = "tests/benchmarks/test_bench_speed.py::test_train_step[tf-graph]"
LOAD = "tests/benchmarks/test_bench_speed.py::test_load_dataset[synthetic]"
SHORT_STEP = "test_bench_speed.py::test_train_step[tf-graph]"  # as the table shows it


SPREAD = [1.0 + 0.005 * i for i in range(20)]
"""Each benchmark's 20 rounds, as multiples of its min: up to 9.5 % above it."""


def run_document(mins: dict[str, float], *, commit: str = "abc123", dirty: bool = False,
                 rounds: list[float] | None = SPREAD) -> dict:
    """A pytest-benchmark --benchmark-json document, with only the fields tox_bench reads and
    a few more; each benchmark's rounds (``stats.data``) are its min times ``rounds``."""
    return {
        "machine_info": {"node": "ci", "python_version": "3.11.0"},
        "commit_info": {"id": commit, "dirty": dirty, "branch": "main"},
        "benchmarks": [
            {
                "group": None,
                "name": name.split("::")[-1],
                "fullname": name,
                "params": None,
                "stats": {"min": value, "max": 3 * value, "mean": 1.5 * value, "median": 1.4 * value,
                          "stddev": 0.1 * value, "iqr": 0.2 * value, "rounds": 50,
                          **({"data": [value * f for f in rounds]} if rounds is not None else {})},
            }
            for name, value in mins.items()
        ],
        "datetime": "2026-01-01T00:00:00+00:00",
        "version": "5.3.1",
    }


class FakePytest:
    """Stands in for ``subprocess.call(pytest ...)``: writes the next document where --benchmark-json points."""

    def __init__(self, *documents: dict, status: int = 0) -> None:
        self.documents, self.status, self.commands = list(documents), status, []

    def __call__(self, command: list[str]) -> int:
        self.commands.append(command)
        (target,) = [a.split("=", 1)[1] for a in command if a.startswith("--benchmark-json=")]
        Path(target).write_text(json.dumps(self.documents.pop(0)))
        return self.status


@pytest.fixture(autouse=True)
def _default_checks(monkeypatch):
    monkeypatch.delenv("BENCH_COMPARE_FAIL", raising=False)


def saved(storage: Path) -> list[str]:
    return [p.name for p in tox_bench.saved_runs(storage)]


def main(storage: Path, fake: FakePytest, argv: list[str] | None = None) -> tuple[int, str]:
    lines: list[str] = []
    code = tox_bench.main(argv or [], storage=storage, run=fake, out=lines.append)
    return code, "\n".join(lines)


# --- the command -------------------------------------------------------------------------


def test_pytest_measures_into_a_temporary_file_and_never_autosaves(tmp_path):
    fake = FakePytest(run_document({STEP: 1e-3}))
    main(tmp_path, fake, ["-q", "-k", "train_step"])
    (command,) = fake.commands
    assert command[:4] == [sys.executable, "-m", "pytest", "tests/benchmarks"]
    assert "--benchmark-enable" in command
    assert not any(a.startswith(("--benchmark-autosave", "--benchmark-save", "--benchmark-compare")) for a in command)
    assert command[-3:] == ["-q", "-k", "train_step"]
    (json_arg,) = [a for a in command if a.startswith("--benchmark-json=")]
    assert not Path(json_arg.split("=", 1)[1]).exists()  # the temporary file is gone


# --- saving: the first run, a pass, never a failure ----------------------------------------


def test_first_run_becomes_the_baseline(tmp_path):
    code, out = main(tmp_path, FakePytest(run_document({STEP: 1e-3})))
    assert code == 0
    assert "this run becomes the baseline" in out
    (name,) = saved(tmp_path)
    assert name.startswith("0001_abc123_") and name.endswith(".json") and "uncommitted" not in name
    saved_doc = json.loads((tmp_path / get_machine_id() / name).read_text())
    assert saved_doc["benchmarks"][0]["stats"]["min"] == 1e-3


def test_a_passing_run_is_compared_and_saved(tmp_path):
    fake = FakePytest(run_document({STEP: 1e-3, LOAD: 0.5}), run_document({STEP: 1.2e-3, LOAD: 0.45}, commit="def456"))
    main(tmp_path, fake)
    code, out = main(tmp_path, fake)
    assert code == 0, out
    assert out.startswith("compared with 0001_abc123_")
    assert "ok: all 2 checks within their limits" in out
    assert [n[:11] for n in saved(tmp_path)] == ["0001_abc123", "0002_def456"]


def test_a_failing_run_prints_a_table_is_not_saved_and_keeps_failing(tmp_path):
    """The bug this fixes: a failing run was autosaved, so the slowdown passed the next time."""
    slow = run_document({STEP: 1.5e-3, LOAD: 0.5})  # the step's rounds 50 % slower: speed x0.667
    fake = FakePytest(run_document({STEP: 1e-3, LOAD: 0.5}), slow, slow, run_document({STEP: 1.1e-3, LOAD: 0.5}))
    main(tmp_path, fake)

    for _ in range(2):  # the same slowdown fails every time, against the same baseline
        code, out = main(tmp_path, fake)
        assert code == 1
        assert len(saved(tmp_path)) == 1
        assert "Traceback" not in out
        table = out.splitlines()
        header = next(line for line in table if "benchmark" in line)
        assert header.split() == ["benchmark", "stat", "baseline", "new", "change", "limit", "test"]
        (fail_row,) = [line for line in table if line.startswith("FAIL ")]
        assert fail_row.split()[:9] == ["FAIL", SHORT_STEP, "verdict", "1.048", "ms", "1.571", "ms", "+50.0%", "not"]
        assert "slower: speed x0.667 (95% CI 0.65" in fail_row and "p=6.8e-08" in fail_row
        (ok_row,) = [line for line in table if line.startswith("ok ")]
        assert "test_load_dataset[synthetic]" in ok_row and "+0.0%" in ok_row
        assert "FAILED: 1 of 2 checks over their limit, in 1 benchmark(s)" in out
        assert "not saved; the next one is compared with 0001_abc123_" in out

    code, out = main(tmp_path, fake)  # fixed: passes, and only now a second run is saved
    assert code == 0, out
    assert len(saved(tmp_path)) == 2


def test_a_failed_pytest_saves_nothing(tmp_path):
    code, out = main(tmp_path, FakePytest(run_document({STEP: 1e-3}), status=1))
    assert code == 1 and "pytest failed (exit status 1): this run is not saved" in out
    assert saved(tmp_path) == []


def test_a_run_sharing_nothing_with_the_baseline_fails(tmp_path):
    fake = FakePytest(run_document({STEP: 1e-3}), run_document({LOAD: 0.5}))
    main(tmp_path, fake)
    code, out = main(tmp_path, fake)
    assert code == 1
    assert "nothing compared with 0001_" in out and f"not in the baseline (not compared): {LOAD}" in out
    assert f"not in this run: {STEP}" in out
    assert len(saved(tmp_path)) == 1


def test_new_and_dropped_benchmarks_are_listed_not_failed(tmp_path):
    fake = FakePytest(run_document({STEP: 1e-3, LOAD: 0.5}), run_document({STEP: 1e-3, "x::test_new": 1.0}))
    main(tmp_path, fake)
    code, out = main(tmp_path, fake)
    assert code == 0, out
    assert "not in the baseline (not compared): x::test_new" in out and f"not in this run: {LOAD}" in out


def test_saved_name_is_autosave_style_and_found_by_pytest_benchmark(tmp_path):
    source = tmp_path / "run.json"
    source.write_text(json.dumps(run_document({STEP: 1e-3}, commit="0123abc", dirty=True)))
    storage = tmp_path / "storage"
    first = tox_bench.save_run(source, storage, now=datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc))
    assert first.name == "0001_0123abc_20260304_050607_uncommitted-changes.json"
    second = tox_bench.save_run(source, storage)
    assert second.name.startswith("0002_0123abc_")
    listing = subprocess.run(
        [str(Path(sys.executable).with_name("pytest-benchmark")), "--storage", f"file://{storage}", "list"],
        capture_output=True, text=True, timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    assert [Path(line).name for line in listing.stdout.split()] == [first.name, second.name]


# --- checks and bad input ----------------------------------------------------------------


def test_the_default_is_compares_verdict_noise_and_small_changes_pass(tmp_path):
    # the same rounds in another order, and a 20 % slower step: significant, not past 25 %
    fake = FakePytest(run_document({STEP: 1e-3, LOAD: 0.5}),
                      run_document({STEP: 1e-3, LOAD: 0.5}, rounds=SPREAD[::-1]),
                      run_document({STEP: 1.2e-3, LOAD: 0.5}))
    main(tmp_path, fake)
    code, out = main(tmp_path, fake)
    assert code == 0 and out.count("same: speed x1.000") == 2, out
    code, out = main(tmp_path, fake)
    assert code == 0 and "same: speed x0.833" in out and "p=6.8e-08" in out, out


def test_a_run_without_rounds_gets_no_verdict(tmp_path):
    fake = FakePytest(run_document({STEP: 1e-3}), run_document({STEP: 1e-3}, rounds=None))
    main(tmp_path, fake)
    code, out = main(tmp_path, fake)
    assert code == 1  # a gate that compared nothing fails
    assert f"no verdict (fewer than two rounds kept in a run): {STEP}" in out


def test_checks_default_and_from_the_environment(tmp_path, monkeypatch):
    assert tox_bench.parse_checks(None) == [tox_bench.Check("verdict", 25.0, True)]
    assert tox_bench.parse_checks(" , ") == [tox_bench.Check("verdict", 25.0, True)]
    assert tox_bench.parse_checks("min:10%, median:0.001, verdict:10%") == [
        tox_bench.Check("min", 10.0, True),
        tox_bench.Check("median", 0.001, False),
        tox_bench.Check("verdict", 10.0, True),
    ]
    monkeypatch.setenv("BENCH_COMPARE_FAIL", "median:50%")
    fake = FakePytest(run_document({STEP: 1e-3}), run_document({STEP: 1.3e-3}))  # median +30 %
    main(tmp_path, fake)
    code, out = main(tmp_path, fake)
    assert code == 0 and " median " in out and " min " not in out


def test_a_seconds_check_fails_on_the_difference(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_COMPARE_FAIL", "min:0.0001")
    fake = FakePytest(run_document({STEP: 1e-3, LOAD: 0.5}), run_document({STEP: 1.05e-3, LOAD: 0.6}))
    main(tmp_path, fake)
    code, out = main(tmp_path, fake)
    assert code == 1
    (fail_row,) = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert "test_load_dataset" in fail_row and "+100 us" in fail_row  # 50 us slower passed, 100 ms slower did not


@pytest.mark.parametrize("text", ["min", "min:fast", "p99:10%", "min:-5%", "min:10%,mean"])
def test_bad_checks_are_one_line_errors(tmp_path, monkeypatch, capsys, text):
    monkeypatch.setenv("BENCH_COMPARE_FAIL", text)
    fake = FakePytest(run_document({STEP: 1e-3}))
    assert tox_bench.main([], storage=tmp_path, run=fake) == 2
    err = capsys.readouterr().err
    assert err.startswith("tox_bench: error: BENCH_COMPARE_FAIL: cannot read") and err.count("\n") == 1
    assert fake.commands == []  # nothing measured for nothing


@pytest.mark.parametrize("text", ["verdict:0.5", "verdict:0%", "verdict:100%"])
def test_a_verdict_threshold_is_a_percentage_in_0_100(tmp_path, monkeypatch, capsys, text):
    monkeypatch.setenv("BENCH_COMPARE_FAIL", text)
    assert tox_bench.main([], storage=tmp_path, run=FakePytest()) == 2
    err = capsys.readouterr().err
    assert err.startswith("tox_bench: error: BENCH_COMPARE_FAIL: ") and "a percentage in (0, 100)" in err


@pytest.mark.parametrize("content", ["{not json", "[]", '{"benchmarks": [{"name": "x"}]}'])
def test_an_unreadable_baseline_is_a_one_line_error(tmp_path, capsys, content):
    folder = tmp_path / get_machine_id()
    folder.mkdir()
    (folder / "0001_abc_20260101_000000.json").write_text(content)
    fake = FakePytest(run_document({STEP: 1e-3}))
    code = tox_bench.main([], storage=tmp_path, run=fake, out=lambda line: None)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("tox_bench: error: ") and err.count("\n") == 1
    assert len(saved(tmp_path)) == 1


def test_a_zero_baseline_fails_a_percentage_check():
    row = tox_bench.Row("x", tox_bench.Check("min", 25.0, True), 0.0, 1e-3)
    assert not row.ok
