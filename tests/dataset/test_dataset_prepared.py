"""The prepared copy and the one find-or-prepare step (bench.dataset.provide): digests checked
on open, damaged copies rebuilt, copies in use held, reuse of unchanged verified files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from cifar_files import FakeCifar

from bench.dataset import Dataset, load_dataset, prepared
from bench.dataset.provide import DataSettings, ProvidedData, provide_data


def _tiny(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(name="tiny", train_images=rng.random((20, 12), dtype=np.float32), train_labels=np.arange(20) % 10,
                   test_images=rng.random((10, 12), dtype=np.float32), test_labels=np.arange(10),
                   class_names=[str(i) for i in range(10)])


@pytest.fixture
def root(tmp_path: Path):
    yield tmp_path / "prepared"
    for path in list(prepared._HELD):
        prepared.release(path)


def _writable(copy: Path) -> None:
    os.chmod(copy, 0o755)
    for file in copy.iterdir():
        os.chmod(file, 0o644)


def test_open_prepared_checks_every_file_and_names_the_copy(root: Path) -> None:
    copy = prepared.prepare(_tiny(), root=root)
    assert np.array_equal(prepared.open_prepared(copy).test_labels, np.arange(10))
    _writable(copy)
    np.save(prepared.labels_path(copy), np.zeros(10, dtype=np.int64))
    prepared._VERIFIED.clear()  # a fresh process, as a worker is

    with pytest.raises(prepared.DamagedCopyError, match=f"{copy}.*test_labels.npy"):
        prepared.open_prepared(copy)
    with open(copy / "train_images.npy", "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(prepared.DamagedCopyError, match=r"train_images\.npy has 100 bytes"):
        prepared.open_prepared(copy)
    (copy / "meta.json").write_text("{")
    with pytest.raises(prepared.DamagedCopyError, match=r"meta\.json cannot be read"):
        prepared.open_prepared(copy)


def test_prepare_rebuilds_a_damaged_copy_and_says_so_once(root: Path) -> None:
    copy = prepared.prepare(_tiny(), root=root)
    _writable(copy)
    (copy / "meta.json").write_text("not json")
    notes: list[str] = []
    assert prepared.prepare(_tiny(), root=root, notice=notes.append) == copy
    [note] = notes
    assert str(copy) in note and "rebuilding" in note
    assert prepared.open_prepared(copy).train_images.shape == (20, 12)
    assert prepared.prepare(_tiny(), root=root, notice=notes.append) == copy and len(notes) == 1


def test_a_copy_held_by_this_process_is_not_pruned(root: Path) -> None:
    first = prepared.prepare(_tiny(0), root=root)  # held: this process uses it
    for seed in range(1, prepared.KEEP + 3):
        prepared.prepare(_tiny(seed), root=root)
    assert first.is_dir()
    prepared.release(first)
    prepared.prepare(_tiny(100), root=root)
    assert not first.exists()


def test_provide_data_writes_then_reuses_a_copy_of_unchanged_cifar10_files(
    python_copy: FakeCifar, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.dataset.checksums as cs

    monkeypatch.setattr(cs, "OFFICIAL_MD5", {**cs.OFFICIAL_MD5, **python_copy.manifest})
    settings = DataSettings(data_dir=str(python_copy.directory.parent), offline=True)
    first = provide_data(settings, root=root)
    again = provide_data(settings, root=root)
    assert first.prepared is not None
    _writable(first.prepared)
    np.save(prepared.labels_path(first.prepared), np.zeros(5, dtype=np.int64))
    prepared._VERIFIED.clear()
    rebuilt = provide_data(settings, root=root)

    assert isinstance(first, ProvidedData)
    assert not first.reused and first.prepared is not None and first.write_seconds > 0 and first.note is None
    assert again.reused and again.prepared == first.prepared and again.write_seconds == 0.0
    assert np.array_equal(again.dataset.test_labels, first.dataset.test_labels)
    assert again.dataset.details["prepared_copy"] == str(first.prepared)
    assert not rebuilt.reused and rebuilt.prepared == first.prepared
    assert rebuilt.note is not None and "is damaged" in rebuilt.note and "test_labels.npy" in rebuilt.note
    assert rebuilt.prepared is not None
    assert np.array_equal(prepared.open_prepared(rebuilt.prepared).test_labels, first.dataset.test_labels)


def test_the_same_cifar10_in_another_directory_reuses_the_copy_after_one_read(
    python_copy: FakeCifar, root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil

    import bench.dataset.checksums as cs

    monkeypatch.setattr(cs, "OFFICIAL_MD5", {**cs.OFFICIAL_MD5, **python_copy.manifest})
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(python_copy.directory.parent, elsewhere)
    here = DataSettings(data_dir=str(python_copy.directory.parent), offline=True)
    there = DataSettings(data_dir=str(elsewhere), offline=True)

    first = provide_data(here, root=root)
    read_there = provide_data(there, root=root)  # other files: read and verified once
    assert not first.reused and not read_there.reused and read_there.prepared == first.prepared
    assert provide_data(there, root=root).reused and provide_data(here, root=root).reused
    assert first.prepared is not None and prepared.sources_path(first.prepared).is_file()
    remembered = json.loads(prepared.sources_path(first.prepared).read_text())
    assert remembered == [prepared.cifar10_source_stats(str(elsewhere))]

    os.utime(next(p for p in elsewhere.rglob("data_batch_1")), ns=(1, 1))  # touched: read again, remembered
    assert not provide_data(there, root=root).reused and provide_data(there, root=root).reused
    assert len(json.loads(prepared.sources_path(first.prepared).read_text())) == 2

    prepared.release(first.prepared)
    assert prepared._take_away(first.prepared) is None
    assert not prepared.sources_path(first.prepared).exists() and not prepared.labels_path(first.prepared).exists()


def test_provide_data_without_a_copy_only_loads(root: Path) -> None:
    provided = provide_data(DataSettings(dataset="synthetic", seed=3), prepare=False, root=root)
    assert provided.prepared is None and not provided.reused and provided.dataset.name == "synthetic"
    assert not root.exists()


def test_the_node_settings_are_the_datasets() -> None:
    from bench.execute.ray import node

    assert node.DataSettings is DataSettings
    settings = DataSettings(dataset="synthetic")
    with pytest.raises(AttributeError):
        settings.seed = 1  # type: ignore[misc]  # frozen
    assert json.dumps(vars(settings))


def test_the_worker_s_directory_has_no_test_labels(tmp_path) -> None:
    """Only the harness reads the test labels: they are kept beside the copy's directory."""
    dataset = load_dataset("synthetic", seed=0)
    copy = prepared.prepare(dataset, root=tmp_path)
    assert sorted(p.name for p in copy.iterdir()) == ["meta.json", "test_images.npy", "train_images.npy",
                                                     "train_labels.npy"]
    assert prepared.labels_path(copy).parent == copy.parent
    worker = prepared.open_prepared(copy, test_labels=False)
    assert worker.test_labels.size == 0 and len(worker.test_images) == len(dataset.test_images)
    harness = prepared.open_prepared(copy)
    np.testing.assert_array_equal(harness.test_labels, dataset.test_labels)


def test_pruning_removes_a_copy_s_labels_too(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(prepared, "KEEP", 1)
    first = prepared.prepare(load_dataset("synthetic", seed=0), root=tmp_path)
    prepared.release(first)  # this process no longer uses it
    prepared.prepare(load_dataset("synthetic", seed=1), root=tmp_path)
    assert not first.exists() and not prepared.labels_path(first).exists()
