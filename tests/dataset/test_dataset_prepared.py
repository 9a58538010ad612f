"""The prepared copy that workers map holds no test labels; only the harness reads them."""

from __future__ import annotations

import numpy as np

from bench.dataset import load_dataset, prepared


def test_the_worker_s_directory_has_no_test_labels(tmp_path) -> None:
    dataset = load_dataset("synthetic", seed=0)
    copy = prepared.prepare(dataset, root=tmp_path)
    assert sorted(p.name for p in copy.iterdir()) == ["meta.json", "test_images.npy", "train_images.npy",
                                                     "train_labels.npy"]
    assert prepared.labels_path(copy).parent == copy.parent
    worker = prepared.open_prepared(copy, test_labels=False)
    assert worker.test_labels.size == 0 and len(worker.test_images) == len(dataset.test_images)
    harness = prepared.open_prepared(copy)
    np.testing.assert_array_equal(harness.test_labels, dataset.test_labels)


def test_a_copy_with_the_labels_inside_is_never_used(tmp_path) -> None:
    dataset = load_dataset("synthetic", seed=0)
    copy = prepared.prepare(dataset, root=tmp_path)
    copy.chmod(0o755)
    np.save(copy / "test_labels.npy", dataset.test_labels)
    assert not prepared._complete(copy)


def test_pruning_removes_a_copy_s_labels_too(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(prepared, "KEEP", 1)
    first = prepared.prepare(load_dataset("synthetic", seed=0), root=tmp_path)
    prepared.prepare(load_dataset("synthetic", seed=1), root=tmp_path)
    assert not first.exists() and not prepared.labels_path(first).exists()
