"""bench/results/storage.py: atomic saves after every row, at a cost linear in the rows."""

from __future__ import annotations

import json
import os
import time

import pytest

from bench.errors import ResultFileError
from bench.results import storage
from bench.results.model import SCHEMA_VERSION, Row, RunDocument
from bench.results.storage import (
    DocumentWriter,
    check_replaceable,
    check_writable_directory,
    load_run,
    new_run_id,
    remove_stale_temporaries,
)


def _document(rows: int) -> RunDocument:
    document = RunDocument("run", "2026-12-01", ["bench", "run"], {"cpu": "x"}, {"parity_step": 10},
                           batch_schedule_sha256="ab")
    for i in range(rows):
        document.results.append(Row.of(plugin=f"p{i}", device="cpu", step_seconds=[0.1, 0.002, 0.003], loss_curve=[[1, 2.0]]))
    return document


def test_the_writer_serialises_each_row_once(tmp_path, monkeypatch):
    calls = []
    real = Row.to_dict
    monkeypatch.setattr(Row, "to_dict", lambda self: calls.append(self.plugin) or real(self))
    writer = DocumentWriter(tmp_path / "run.json")
    document = _document(0)
    for i in range(30):
        document.results.append(Row.of(plugin=f"p{i}", device="cpu", step_seconds=[0.1, 0.002]))
        writer.save(document)
    assert sorted(calls) == sorted(f"p{i}" for i in range(30))  # 30 saves, 30 serialisations
    loaded = load_run(tmp_path / "run.json")
    assert [row.plugin for row in loaded.results] == [f"p{i}" for i in range(30)]
    assert json.loads((tmp_path / "run.json").read_text())["schema_version"] == SCHEMA_VERSION == 3


def test_an_empty_document_is_valid_json(tmp_path):
    DocumentWriter(tmp_path / "run.json").save(_document(0))
    assert load_run(tmp_path / "run.json").results == []


def test_files_over_the_size_cap_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    DocumentWriter(path).save(_document(3))
    monkeypatch.setattr(storage, "MAX_RESULT_BYTES", 100)
    with pytest.raises(ResultFileError, match="too large for a bench result"):
        load_run(path)


def test_stale_temporaries_of_our_own_are_removed(tmp_path):
    stale = tmp_path / ".run.json.abc123xy.tmp"
    fresh = tmp_path / ".other.json.zz99yy88.tmp"
    foreign = tmp_path / ".notes.tmp"
    for path in (stale, fresh, foreign):
        path.write_text("x")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    assert remove_stale_temporaries(tmp_path) == 1
    assert not stale.exists() and fresh.exists() and foreign.exists()


def test_a_read_only_file_is_not_replaced(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("{}")
    path.chmod(0o444)
    with pytest.raises(ResultFileError, match="read-only or not yours"):
        check_replaceable(path)
    check_replaceable(tmp_path / "new.json")  # a new file is fine


def test_an_unwritable_directory_is_found_before_any_row(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ResultFileError, match="cannot write results to"):
        check_writable_directory(blocker / "results")


def test_the_run_id_counts_the_plugins_it_leaves_out():
    plugins = ["numpy", "tf-graph", "tf-eager", "tf-function", "tf-xla", "jax-jit", "jax-eager", "torch-eager",
               "torch-compile"]
    stem = new_run_id(plugins)
    names = stem.split("_")[1]
    assert names == "numpy+tf-graph+tf-eager+tf-function+tf-xla+jax-jit+3-more"
    assert len(names) <= 60
    assert new_run_id(["numpy", "tf-graph"]).split("_")[1] == "numpy+tf-graph"  # all fit: all named
    assert new_run_id([]).split("_")[1] == "run"
    assert new_run_id(["x" * 70]).split("_")[1] == "x" * 60  # one long name: cut, as safe_name does
    assert new_run_id(["x" * 70, "y"]).split("_")[1] == "2-plugins"
