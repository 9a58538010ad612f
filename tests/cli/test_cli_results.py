"""Result files: unwritable places, a full disk, corrupt or foreign files; never half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from bench.results import storage as result
from bench.cli import main
from bench.errors import ResultFileError
from bench.results.model import SCHEMA_VERSION

VALID = {
    "schema_version": 1,
    "run_id": "r",
    "machine": {},
    "config": {"parity_step": 10},
    "batch_schedule_sha256": None,
    "results": [{"plugin": "numpy", "device": "cpu", "status": "ok", "test_accuracy": 0.4, "steps_per_second": 100.0}],
    "timeline": [["start-up", 0.25]],
}


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every result file bench creates is backed by /dev/full: its writes fail with ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, fd)  # the named temporary file exists, but writing to it hits a full disk
        os.close(full)
        return fd, name

    monkeypatch.setattr(result.tempfile, "mkstemp", mkstemp)


# -- unwritable results directory, full disk: the table is printed, the error is clear --------------


def test_results_dir_that_cannot_be_created(bench, clean_error) -> None:
    blocker = bench.cwd / "a-file"
    blocker.write_text("not a directory")
    proc = bench("run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "3", "--quiet",
                 "--results-dir", str(blocker / "results"))
    line = clean_error(proc, 1, f"cannot write results to {blocker / 'results'}")
    assert line.startswith("bench: error: ")
    assert proc.stdout == ""  # found before any row ran
    assert blocker.read_text() == "not a directory"
    assert _listing(bench.cwd) == ["a-file"]


def test_output_that_is_a_directory_is_refused_before_any_row(bench, clean_error) -> None:
    target = bench.cwd / "out"
    target.mkdir()
    proc = bench.run("--plugins", "numpy", "--steps", "3", "--output", str(target))
    clean_error(proc, 1, f"cannot write results to {target}: not a regular file")
    assert bench.saved() == [] and proc.stdout == ""
    assert _listing(target) == []


def test_full_disk_prints_the_table_and_leaves_nothing(tmp_path, monkeypatch, capsys) -> None:
    _full_disk(monkeypatch)
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    results = tmp_path / "results"
    code = main(["run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "3", "--quiet",
                 "--results-dir", str(results)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "numpy" in out and "saved" not in out
    assert "No space left on device" in err and "Traceback" not in err
    # notes (a first run measures this CPU's ceilings) may come first; the error is one last line
    errors = [line for line in err.splitlines() if line.startswith("bench: error: ")]
    assert len(errors) == 1 and errors[0] == err.splitlines()[-1]
    assert errors[0].startswith("bench: error: cannot write results to ")
    assert _listing(results) == []  # no result file, no temporary file


# -- atomic writes ---------------------------------------------------------------------------------


def test_write_is_atomic_and_cleans_up_on_a_full_disk(tmp_path, monkeypatch) -> None:
    path = tmp_path / "run.json"
    result.write_json_atomic(path, {"a": 1})
    _full_disk(monkeypatch)
    with pytest.raises(ResultFileError, match=rf"cannot write results to {path}: No space left on device"):
        result.write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}  # the old file, whole
    assert _listing(tmp_path) == ["run.json"]


def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    path = tmp_path / "run.json"
    result.write_json_atomic(path, {"a": 1})

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(result.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        result.write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert _listing(tmp_path) == ["run.json"]


def test_failed_rename_leaves_no_temporary(tmp_path) -> None:
    target = tmp_path / "dir"
    (target / "child").mkdir(parents=True)  # a non-empty directory cannot be replaced by a file
    with pytest.raises(ResultFileError, match=f"cannot write results to {target}"):
        result.write_json_atomic(target, {"a": 1})
    assert _listing(tmp_path) == ["dir"]


def test_written_file_is_strict_json_without_nan(tmp_path) -> None:
    np = pytest.importorskip("numpy")
    path = tmp_path / "run.json"
    result.write_json_atomic(path, {"nan": float("nan"), "inf": -np.inf, "np": np.float32(1.5), "t": (1, np.int64(2)),
                                    "a": np.arange(2), "bad": "\ud800"})
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c)) == {
        "nan": None, "inf": None, "np": 1.5, "t": [1, 2], "a": [0, 1], "bad": "\\ud800"
    }
    assert (path.stat().st_mode & 0o777) == 0o644


def test_saved_run_reads_back(bench) -> None:
    proc = bench.run("--plugins", "numpy", "--steps", "3")
    assert proc.returncode == 0
    [path] = bench.results.glob("*.json")
    assert result.load_run(path).results[0].plugin == "numpy"
    again = bench("report", str(path))
    assert again.returncode == 0 and "numpy" in again.stdout


# -- corrupt or foreign files for report / compare / plot ------------------------------------------

BAD_FILES = {
    "empty": b"",
    "truncated": json.dumps(VALID).encode()[:-20],
    "binary": bytes(range(256)),
    "not utf-8": b'{"schema_version": 1, "x": "\xff"}',
    "a list": b"[1, 2, 3]",
    "foreign object": b'{"name": "some other tool", "version": 3}',
    "future schema": json.dumps({**VALID, "schema_version": SCHEMA_VERSION + 1}).encode(),
    "results not a list": json.dumps({**VALID, "results": {"numpy": 1}}).encode(),
    "row without status": json.dumps({**VALID, "results": [{"plugin": "numpy"}]}).encode(),
    "accuracy as text": json.dumps({**VALID, "results": [{**VALID["results"][0], "test_accuracy": "high"}]}).encode(),
    "NaN accuracy": json.dumps({**VALID, "results": [{**VALID["results"][0], "test_accuracy": float("nan")}]}).encode(),
    "huge integer": b'{"schema_version": ' + b"9" * 5000 + b"}",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "bad timeline": json.dumps({**VALID, "timeline": [["a"]]}).encode(),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_load_run_names_the_file(tmp_path, kind: str) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_bytes(BAD_FILES[kind])
    with pytest.raises(ResultFileError, match=rf"^{path}: "):
        result.load_run(path)


@pytest.mark.parametrize("kind", ["truncated", "binary", "foreign object", "future schema", "NaN accuracy"])
def test_report_and_compare_refuse_a_bad_file_in_one_line(bench, clean_error, kind: str) -> None:
    bad = bench.cwd / f"{kind}.json"
    bad.write_bytes(BAD_FILES[kind])
    good = bench.cwd / "good.json"
    good.write_text(json.dumps(VALID))
    clean_error(bench("report", str(bad)), 1, f"bench: error: {bad}: ")
    clean_error(bench("compare", str(good), str(bad)), 1, f"bench: error: {bad}: ")
    clean_error(bench("compare", str(bad), str(good)), 1, f"bench: error: {bad}: ")


def test_report_on_missing_file_and_directory(bench, clean_error) -> None:
    clean_error(bench("report", "nosuch.json"), 1, "nosuch.json: cannot read: No such file or directory")
    clean_error(bench("report", str(bench.cwd)), 1, f"{bench.cwd}: not a regular file")
    clean_error(bench("plot", "nosuch.json"), 1, "nosuch.json: cannot read")


def test_save_failing_after_the_first_row_says_what_the_file_holds(tmp_path, monkeypatch, capsys) -> None:
    real_write = result.write_text_atomic
    calls = []

    def flaky(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) > 1:
            raise ResultFileError(f"cannot write results to {path}: No space left on device")
        real_write(path, text)

    monkeypatch.setattr(result, "write_text_atomic", flaky)
    results = tmp_path / "results"
    code = main(["run", "--plugins", "numpy,numpy", "--dataset", "synthetic", "--steps", "3", "--quiet",
                 "--results-dir", str(results)])
    out, err = capsys.readouterr()
    assert code == 1 and "saved" not in out
    [path] = results.glob("*.json")
    assert err == f"bench: error: cannot write results to {path}: No space left on device ({path} holds only the first 1 row(s))\n"
    assert len(result.load_run(path).results) == 1


def test_export_of_a_file_with_nothing_to_export_fails_and_writes_nothing(bench, clean_error) -> None:
    """A schema-1 file has no per-step times: exporting it is an error, not "0 benchmarks"."""
    old = bench.cwd / "old.json"
    old.write_text(json.dumps(VALID))
    proc = bench("export", str(old), "-o", str(bench.cwd / "out.json"))
    clean_error(proc, 1, "nothing to export", "schema-1 rows without per-step times")
    assert _listing(bench.cwd) == ["old.json"]
