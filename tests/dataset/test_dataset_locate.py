"""Finding the data, the offline error, load_dataset and describe_data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cifar_files import FakeCifar

from bench.dataset import describe_data, load_dataset, resolve_data_dir
from bench.errors import DataError, UsageError


def test_resolve_data_dir_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import platformdirs

    assert resolve_data_dir(None) == Path(platformdirs.user_cache_dir("bench")) / "cifar-10"
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    assert resolve_data_dir("~/x") == Path.home() / "x"


def test_offline_and_missing_is_one_clear_line(tmp_path: Path) -> None:
    empty = tmp_path / "nothing here"
    with pytest.raises(DataError) as err:
        load_dataset("cifar10", data_dir=str(empty), offline=True)
    assert str(err.value) == (
        f"CIFAR-10 not found in {empty} (looked for cifar-10-batches-py/ or cifar-10-batches-bin/); "
        "run without --offline to download it (from $BENCH_CIFAR10_URL if set, else the official site), "
        "pass --data-dir to a copy you have, or use --dataset synthetic"
    )
    assert not empty.exists()  # nothing created


def test_offline_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=f"CIFAR-10 not found in {tmp_path}"):
        load_dataset()


def test_unknown_names_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown dataset 'mnist'; available: cifar10, synthetic"):
        load_dataset("mnist")
    with pytest.raises(UsageError, match="unknown preprocessing 'zca'"):
        load_dataset("synthetic", preprocessing="zca")


@pytest.mark.parametrize("copy", ["python_copy", "binary_copy"])
def test_load_dataset_from_either_version(copy: str, request: pytest.FixtureRequest) -> None:
    fake: FakeCifar = request.getfixturevalue(copy)
    dataset = load_dataset(data_dir=str(fake.directory.parent), offline=True, checksums=fake.manifest)

    assert dataset.name == "cifar10"
    assert dataset.source == str(fake.directory)
    assert dataset.preprocessing == "reference"
    assert dataset.train_images.dtype == np.float32 and dataset.train_images.shape == (20, 3072)
    assert dataset.test_images.shape == (5, 3072)
    assert dataset.num_classes == 10 and dataset.input_dim == 3072
    mean = fake.train_images.astype(np.float64).mean(axis=0)
    np.testing.assert_array_equal(dataset.test_images, (fake.test_images - mean).astype(np.float32))
    details = dataset.details
    assert details["md5_ok"] is True and details["downloaded"] is False
    assert details["format"] == ("python" if copy == "python_copy" else "binary")
    assert details["files_md5_verified"] == fake.manifest
    assert details["files_checked_structurally"] == ([] if copy == "python_copy" else ["batches.meta.txt"])
    for key in ("seconds_read_verify", "seconds_preprocess", "train_channel_mean_0_255"):
        assert key in details


def test_load_dataset_never_writes_beside_found_data(python_copy: FakeCifar) -> None:
    before = sorted(p.name for p in python_copy.directory.parent.rglob("*"))
    python_copy.directory.chmod(0o555)
    try:
        load_dataset(data_dir=str(python_copy.directory), checksums=python_copy.manifest, preprocessing="standardize")
    finally:
        python_copy.directory.chmod(0o755)
    assert sorted(p.name for p in python_copy.directory.parent.rglob("*")) == before


def test_describe_data_all_ok(python_copy: FakeCifar) -> None:
    location, rows, ok = describe_data(str(python_copy.directory.parent), checksums=python_copy.manifest)
    assert location == str(python_copy.directory)
    assert ok is True
    assert [name for name, _ in rows] == [*python_copy.manifest]
    assert all(status.startswith("ok (md5 ") for _, status in rows)


def test_describe_data_reports_each_problem(binary_copy: FakeCifar) -> None:
    binary_copy.path("data_batch_2.bin").write_bytes(b"corrupt")
    binary_copy.path("test_batch.bin").unlink()
    _, rows, ok = describe_data(str(binary_copy.directory), checksums=binary_copy.manifest)
    status = dict(rows)
    assert ok is False
    assert status["data_batch_1.bin"].startswith("ok (md5")
    assert status["data_batch_2.bin"].startswith("BAD: md5 ")
    assert binary_copy.manifest["data_batch_2.bin"] in status["data_batch_2.bin"]
    assert status["test_batch.bin"] == "MISSING"
    assert status["batches.meta.txt"].startswith("ok (10 class names")


def test_describe_data_with_the_official_manifest(python_copy: FakeCifar) -> None:
    _, rows, ok = describe_data(str(python_copy.directory))
    assert ok is False
    assert "expected c99cafc152244af753f735de768cd75f" in dict(rows)["data_batch_1"]


def test_describe_data_missing(tmp_path: Path) -> None:
    location, rows, ok = describe_data(str(tmp_path), offline=True)
    assert (location, ok) == (str(tmp_path), False)
    assert len(rows) == 1 and "missing" in rows[0][1]


def test_describe_data_names_special_files_without_reading_them(python_copy: FakeCifar) -> None:
    import os

    python_copy.path("data_batch_2").unlink()
    os.mkfifo(python_copy.path("data_batch_2"))
    python_copy.path("test_batch").unlink()
    python_copy.path("test_batch").symlink_to("/dev/zero")
    with open(python_copy.path("data_batch_4"), "r+b") as f:
        f.truncate(40 * 10**9)
    _, rows, ok = describe_data(str(python_copy.directory), checksums=python_copy.manifest)
    status = dict(rows)
    assert ok is False
    assert status["data_batch_1"].startswith("ok (md5")
    assert status["data_batch_2"].startswith("BAD: ") and "is not a regular file (a FIFO)" in status["data_batch_2"]
    assert "a character device, via a symlink to /dev/zero" in status["test_batch"]
    assert "is 40000000000 bytes, more than the official file's 31035696" in status["data_batch_4"]


def test_describe_data_checks_the_binary_class_list(binary_copy: FakeCifar) -> None:
    binary_copy.path("batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(11)))
    _, rows, ok = describe_data(str(binary_copy.directory), checksums=binary_copy.manifest)
    assert ok is False
    assert dict(rows)["batches.meta.txt"].startswith("BAD: ") and "11 class names" in dict(rows)["batches.meta.txt"]
