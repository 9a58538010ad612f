"""``bench sweep --resume FILE`` (any executor): the finished rows are kept, the rest measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.results.model import Row, Status
from bench.results.storage import DocumentWriter, load_run

SWEEP = ["sweep", "--plugins", "numpy", "--dataset", "synthetic", "--seed", "0,1,2", "--steps", "20",
         "--no-roofline", "--quiet"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")


def _partial(tmp_path: Path) -> tuple[Path, list[Row]]:
    """A saved sweep whose second row failed and whose third is missing (a run cut short)."""
    assert main([*SWEEP, "--results-dir", str(tmp_path / "r"), "--output", str(tmp_path / "full.json")]) == 0
    document = load_run(tmp_path / "full.json")
    full = list(document.results)
    document.results = [full[0], Row.failed(full[1].identity, Status.FAILED, "boom")]
    document.interrupted = "SIGINT"
    DocumentWriter(tmp_path / "partial.json").save(document)
    return tmp_path / "partial.json", full


def test_resume_measures_only_the_rows_without_an_ok_row(cache, tmp_path, capsys):
    partial, full = _partial(tmp_path)
    capsys.readouterr()
    out = tmp_path / "resumed.json"
    argv = [a for a in SWEEP if a != "--quiet"]
    assert main([*argv, "--results-dir", str(tmp_path / "r"), "--output", str(out), "--resume", str(partial)]) == 0
    assert "resuming: 1 finished row(s) kept, 2 to measure" in capsys.readouterr().err
    resumed = load_run(out)
    assert resumed.interrupted is None and [r.status for r in resumed.results] == [Status.OK] * 3
    assert resumed.results[0] == load_run(partial).results[0]  # kept as it was, its wall time too
    by_seed = {r.settings["seed"]: r for r in resumed.results}
    for row in full:
        assert by_seed[row.settings["seed"]].loss_curve == row.loss_curve


def test_resume_refuses_a_document_of_other_settings(cache, tmp_path, capsys):
    partial, _ = _partial(tmp_path)
    capsys.readouterr()
    other = [a if a != "0,1,2" else "0,1" for a in SWEEP]
    assert main([*other, "--results-dir", str(tmp_path / "r2"), "--resume", str(partial)]) == 2
    err = capsys.readouterr().err
    assert "--resume: " in err and "was run with other settings (sweep:" in err and "Traceback" not in err
    assert not (tmp_path / "r2").exists()


def test_resume_of_a_missing_file_is_a_clear_error(cache, tmp_path, capsys):
    assert main([*SWEEP, "--results-dir", str(tmp_path / "r"), "--resume", str(tmp_path / "none.json")]) != 0
    err = capsys.readouterr().err
    assert "none.json" in err and "Traceback" not in err
