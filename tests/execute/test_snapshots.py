"""Parameter snapshots from a worker are untrusted: read with limits, numbers only."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.execute.snapshots import SnapshotError, load_snapshot


def test_arrays_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "final.npz"
    weights = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.savez(path, weights=weights, biases=np.ones(4, dtype=np.float64), fortran=np.asfortranarray(weights))
    loaded = load_snapshot(path)
    assert sorted(loaded) == ["biases", "fortran", "weights"]
    np.testing.assert_array_equal(loaded["weights"], weights)
    np.testing.assert_array_equal(loaded["fortran"], weights)
    assert loaded["biases"].dtype == np.float64


def test_an_object_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "final.npz"
    np.savez(path, weights=np.array([{"a": 1}], dtype=object))
    with pytest.raises(SnapshotError, match="holds object values, not numbers"):
        load_snapshot(path)


def test_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "final.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(SnapshotError, match=r"not a readable \.npz file"):
        load_snapshot(path)


def test_a_declared_size_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "final.npz"
    np.savez_compressed(path, weights=np.zeros(10_000))  # 80 kB of zeros, a few hundred bytes packed
    assert path.stat().st_size < 2_000
    with pytest.raises(SnapshotError, match="unpacks to 80128 bytes, more than the limit of 50000"):
        load_snapshot(path, limit=50_000)


def test_an_array_header_declaring_more_than_the_member_holds_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "final.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(10))
    header["shape"] = (10**9,)
    with zipfile.ZipFile(path, "w") as archive, archive.open("w.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, header)
        member.write(b"\0" * 80)
    with pytest.raises(SnapshotError, match="declares more data than it holds"):
        load_snapshot(path)


def test_a_member_that_is_not_an_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "final.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(SnapshotError, match=r"is not an \.npy array"):
        load_snapshot(path)
