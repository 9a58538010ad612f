"""The prepared copy and the one find-or-prepare step (bench.dataset.provide): digests checked
on open, damaged copies rebuilt, copies in use held, reuse of unchanged verified files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from cifar_files import FakeCifar

from bench.dataset import Dataset, prepared
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
    np.save(copy / "test_labels.npy", np.zeros(10, dtype=np.int64))
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
    np.save(first.prepared / "test_labels.npy", np.zeros(5, dtype=np.int64))
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


def test_provide_data_without_a_copy_only_loads(root: Path) -> None:
    provided = provide_data(DataSettings(dataset="synthetic", seed=3), prepare=False, root=root)
    assert provided.prepared is None and not provided.reused and provided.dataset.name == "synthetic"
    assert not root.exists()


def test_the_node_settings_are_the_datasets() -> None:
    from bench.execute import node

    assert node.DataSettings is DataSettings
    settings = DataSettings(dataset="synthetic")
    with pytest.raises(AttributeError):
        settings.seed = 1  # type: ignore[misc]  # frozen
    assert json.dumps(vars(settings))
