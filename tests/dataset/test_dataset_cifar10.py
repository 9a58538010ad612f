"""Reading both official CIFAR-10 formats: layout, checksums, the restricted unpickler."""

from __future__ import annotations

import builtins
import os
import pickle
import re
import time
from pathlib import Path

import numpy as np
import pytest
from cifar_files import CLASS_NAMES, FakeCifar, md5, py2_dumps, write_binary, write_python

from bench.dataset import checksums as cs
from bench.dataset.cifar10 import RestrictedUnpickler, find_layout, load_cifar10, restricted_loads
from bench.errors import DataError


def test_python_version_loads_exactly_what_was_written(python_copy: FakeCifar) -> None:
    raw = load_cifar10(python_copy.directory, python_copy.manifest)

    assert raw.layout.format == "python"
    assert raw.train_images.dtype == np.uint8 and raw.train_images.shape == (20, 3072)
    assert raw.train_images.flags.c_contiguous
    assert raw.train_labels.dtype == np.int64 and raw.test_labels.dtype == np.int64
    np.testing.assert_array_equal(raw.train_images, python_copy.train_images)
    np.testing.assert_array_equal(raw.train_labels, python_copy.train_labels)
    np.testing.assert_array_equal(raw.test_images, python_copy.test_images)
    np.testing.assert_array_equal(raw.test_labels, python_copy.test_labels)
    assert raw.class_names == CLASS_NAMES
    assert raw.md5 == python_copy.manifest
    assert raw.structural_only == []


def test_channel_order_is_kept_as_stored(python_copy: FakeCifar) -> None:
    raw = load_cifar10(python_copy.directory, python_copy.manifest)
    # R plane first, then G, then B: the values the writer put at 0, 1024 and 2048.
    assert set(raw.train_images[:, 0]) == {11}
    assert set(raw.train_images[:, 1024]) == {22}
    assert set(raw.train_images[:, 2048]) == {33}


def test_both_numpy_module_names_are_accepted(tmp_path: Path) -> None:
    fake = write_python(tmp_path / "cifar-10-batches-py", numpy_module="numpy._core.multiarray")
    raw = load_cifar10(tmp_path, fake.manifest)
    np.testing.assert_array_equal(raw.train_images, fake.train_images)


def test_uneven_batches_are_concatenated_in_order(tmp_path: Path) -> None:
    fake = write_python(tmp_path / "cifar-10-batches-py", sizes=[2, 5, 1, 3, 4, 2])
    raw = load_cifar10(tmp_path, fake.manifest, workers=3)
    np.testing.assert_array_equal(raw.train_images, fake.train_images)
    np.testing.assert_array_equal(raw.train_labels, fake.train_labels)


def test_binary_version_loads_the_same_data(tmp_path: Path) -> None:
    py = write_python(tmp_path / "py" / "cifar-10-batches-py", seed=3)
    binary = write_binary(tmp_path / "bin" / "cifar-10-batches-bin", seed=3)

    a = load_cifar10(tmp_path / "py", py.manifest)
    b = load_cifar10(tmp_path / "bin", binary.manifest)

    assert b.layout.format == "binary"
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert b.train_images.flags.c_contiguous and b.test_images.flags.c_contiguous
    assert b.class_names == CLASS_NAMES
    assert b.structural_only == ["batches.meta.txt"]
    assert set(b.md5) == {
        f"{n}.bin"
        for n in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
    }


def test_layout_detection(tmp_path: Path) -> None:
    assert find_layout(tmp_path) is None
    write_binary(tmp_path / "cifar-10-batches-bin")
    assert find_layout(tmp_path).format == "binary"
    assert find_layout(tmp_path / "cifar-10-batches-bin").path == tmp_path / "cifar-10-batches-bin"
    write_python(tmp_path / "cifar-10-batches-py")
    layout = find_layout(tmp_path)
    assert (layout.format, layout.path) == ("python", tmp_path / "cifar-10-batches-py")
    assert find_layout(tmp_path / "cifar-10-batches-py") == layout


def test_wrong_checksum_is_refused_naming_file_and_md5s(python_copy: FakeCifar) -> None:
    path = python_copy.path("data_batch_3")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(DataError) as err:
        load_cifar10(python_copy.directory, python_copy.manifest)
    message = str(err.value)
    assert "data_batch_3" in message
    assert python_copy.manifest["data_batch_3"] in message
    assert md5(bytes(data)) in message


def test_official_manifest_refuses_other_files(python_copy: FakeCifar) -> None:
    with pytest.raises(DataError, match=r"checksum mismatch .*data_batch_1.*c99cafc152244af753f735de768cd75f"):
        load_cifar10(python_copy.directory)


def test_official_manifest_contents() -> None:
    assert cs.OFFICIAL_MD5["data_batch_1"] == "c99cafc152244af753f735de768cd75f"
    assert cs.OFFICIAL_MD5["batches.meta"] == "5ff9c542aee3614f3951f8cda6e48888"
    assert cs.OFFICIAL_MD5["test_batch.bin"] == "803d5f7f4d78ea53de84dbe85f74fb6d"
    assert len(cs.PYTHON_MD5) == 7 and len(cs.BINARY_MD5) == 6
    assert "batches.meta.txt" not in cs.OFFICIAL_MD5
    assert cs.PYTHON_ARCHIVE.md5 == "c58f30108f718f92721af3b95e74349a"
    assert cs.BINARY_ARCHIVE.md5 == "c32a1d4ab5d03f1284b67883e8d87530"


class _RunsCode:
    def __init__(self, func: object, arg: str) -> None:
        self.func, self.arg = func, arg

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return self.func, (self.arg,)


def _evil_payloads(marker: Path) -> dict[str, object]:
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "os.system": _RunsCode(os.system, f"touch {marker}"),
        "builtins.eval": _RunsCode(builtins.eval, code),
        "builtins.exec": _RunsCode(builtins.exec, code),
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "builtins.exec"])
@pytest.mark.parametrize("where", ["whole file", "inside the labels"])
def test_pickle_that_runs_code_is_refused_even_with_matching_md5(
    python_copy: FakeCifar, tmp_path: Path, kind: str, where: str
) -> None:
    marker = tmp_path / "pwned"
    payload = _evil_payloads(marker)[kind]
    if where == "whole file":
        data = pickle.dumps(payload, protocol=2)
    else:
        obj = {b"data": python_copy.train_images[:4], b"labels": [1, 2, payload, 3], b"batch_label": b"x"}
        data = py2_dumps(obj)
    python_copy.path("data_batch_2").write_bytes(data)
    manifest = {**python_copy.manifest, "data_batch_2": md5(data)}

    with pytest.raises(DataError, match=r"data_batch_2.*refused to unpickle global"):
        load_cifar10(python_copy.directory, manifest)
    assert not marker.exists()


def test_restricted_unpickler_allows_only_the_array_globals(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(restricted_loads(py2_dumps({b"a": array}))[b"a"], array)
    with pytest.raises(DataError, match=r"numpy.*scalar"):  # a numpy global that is not on the list
        restricted_loads(pickle.dumps(np.float64(1.5), protocol=2))
    with pytest.raises(DataError, match=r"collections\.OrderedDict"):
        restricted_loads(pickle.dumps(__import__("collections").OrderedDict(a=1), protocol=2))
    assert issubclass(RestrictedUnpickler, pickle.Unpickler)


def test_garbage_pickle_is_a_data_error(python_copy: FakeCifar) -> None:
    data = b"\x80\x02not a pickle at all"
    python_copy.path("test_batch").write_bytes(data)
    with pytest.raises(DataError, match=r"test_batch: not a readable CIFAR-10 pickle"):
        load_cifar10(python_copy.directory, {**python_copy.manifest, "test_batch": md5(data)})


def test_batch_with_wrong_array_is_refused(python_copy: FakeCifar) -> None:
    data = py2_dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    python_copy.path("data_batch_1").write_bytes(data)
    with pytest.raises(DataError, match=r"data_batch_1: b'data' must be a uint8 array"):
        load_cifar10(python_copy.directory, {**python_copy.manifest, "data_batch_1": md5(data)})


def test_missing_file_is_named(python_copy: FakeCifar) -> None:
    python_copy.path("data_batch_4").unlink()
    with pytest.raises(DataError, match=r"missing.*data_batch_4"):
        load_cifar10(python_copy.directory, python_copy.manifest)


def test_binary_file_of_partial_records_is_refused(binary_copy: FakeCifar) -> None:
    path = binary_copy.path("data_batch_5.bin")
    path.write_bytes(path.read_bytes()[:-1])
    manifest = {k: v for k, v in binary_copy.manifest.items() if k != "data_batch_5.bin"}
    with pytest.raises(DataError, match=r"data_batch_5\.bin: .* not a whole number of 3073-byte records"):
        load_cifar10(binary_copy.directory, manifest)


def test_binary_label_out_of_range_is_refused(binary_copy: FakeCifar) -> None:
    path = binary_copy.path("test_batch.bin")
    data = bytearray(path.read_bytes())
    data[0] = 10
    path.write_bytes(bytes(data))
    manifest = {k: v for k, v in binary_copy.manifest.items() if k != "test_batch.bin"}
    with pytest.raises(DataError, match=r"test labels outside 0\.\.9"):
        load_cifar10(binary_copy.directory, manifest)


def test_binary_meta_without_names_is_refused(binary_copy: FakeCifar) -> None:
    binary_copy.path("batches.meta.txt").write_bytes(b"\n\n")
    with pytest.raises(DataError, match=r"batches\.meta\.txt: no list of class names"):
        load_cifar10(binary_copy.directory, binary_copy.manifest)


def test_no_data_at_all(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no CIFAR-10 in"):
        load_cifar10(tmp_path)


# -- class lists other than CIFAR-10's ten ------------------------------------------------


@pytest.mark.parametrize(
    ("names", "says"),
    [
        ([*CLASS_NAMES, "unicorn"], "11 class names"),
        (CLASS_NAMES[:9], "9 class names"),
        ([*CLASS_NAMES[1:], CLASS_NAMES[0]], "10 class names (automobile"),
        ([n.upper() for n in CLASS_NAMES], "10 class names (AIRPLANE"),
    ],
    ids=["11", "9", "reordered", "upper case"],
)
def test_python_meta_other_than_the_official_ten_is_refused(
    python_copy: FakeCifar, names: list[str], says: str
) -> None:
    data = py2_dumps({b"label_names": [n.encode() for n in names]})
    python_copy.path("batches.meta").write_bytes(data)
    with pytest.raises(DataError, match=rf"batches\.meta: {re.escape(says)}.*exactly these ten.*airplane, automobile"):
        load_cifar10(python_copy.directory, {**python_copy.manifest, "batches.meta": md5(data)})


def test_python_meta_with_1000_names_is_refused_for_its_size(python_copy: FakeCifar) -> None:
    data = py2_dumps({b"label_names": [f"c{i}".encode() for i in range(1000)]})
    python_copy.path("batches.meta").write_bytes(data)
    with pytest.raises(DataError, match=rf"batches\.meta is {len(data)} bytes, more than the official file's 158"):
        load_cifar10(python_copy.directory, {**python_copy.manifest, "batches.meta": md5(data)})


@pytest.mark.parametrize(
    "text",
    [b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\nunicorn\n",
     "\n".join(f"class{i}" for i in range(300)).encode(),
     b"automobile\nairplane\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"],
    ids=["11", "300", "swapped"],
)
def test_binary_meta_other_than_the_official_ten_is_refused(binary_copy: FakeCifar, text: bytes) -> None:
    binary_copy.path("batches.meta.txt").write_bytes(text)
    with pytest.raises(DataError, match=r"batches\.meta\.txt: \d+ class names .*exactly these ten"):
        load_cifar10(binary_copy.directory, binary_copy.manifest)


def test_binary_meta_tolerates_surrounding_whitespace(binary_copy: FakeCifar) -> None:
    binary_copy.path("batches.meta.txt").write_bytes(("\r\n".join(CLASS_NAMES) + "\r\n\r\n").encode())
    assert load_cifar10(binary_copy.directory, binary_copy.manifest).class_names == CLASS_NAMES


# -- files that are not regular, or larger than the official ones ---------------------------


def _special(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "sparse":
        with open(path, "wb") as f:
            f.truncate(40 * 10**9)
    elif kind == "one byte too many":
        path.write_bytes(b"x" * (cs.MAX_BYTES[path.name] + 1))


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("fifo", r"is not a regular file \(a FIFO\)"),
        ("dev-zero", r"is not a regular file \(a character device, via a symlink to /dev/zero\)"),
        ("directory", r"is not a regular file \(a directory\)"),
        ("sparse", r"is 40000000000 bytes, more than the official file's 31035999"),
        ("one byte too many", r"is 31036000 bytes, more than the official file's 31035999"),
    ],
)
def test_special_or_oversized_file_is_refused_unread(python_copy: FakeCifar, kind: str, says: str) -> None:
    """data_batch_3 is read while data_batch_1 and 2 are being parsed: no read may hang on it."""
    path = python_copy.path("data_batch_3")
    _special(path, kind)
    start = time.monotonic()
    with pytest.raises(DataError, match=re.escape(str(path)) + " " + says + "; refusing to read it"):
        load_cifar10(python_copy.directory, python_copy.manifest, workers=2)
    assert time.monotonic() - start < 5


def test_a_special_first_batch_still_counts_as_the_layout(python_copy: FakeCifar) -> None:
    _special(python_copy.path("data_batch_1"), "fifo")
    assert find_layout(python_copy.directory.parent).path == python_copy.directory
    with pytest.raises(DataError, match=r"data_batch_1 is not a regular file \(a FIFO\)"):
        load_cifar10(python_copy.directory, python_copy.manifest)


def test_a_dangling_symlink_is_a_missing_file(python_copy: FakeCifar) -> None:
    path = python_copy.path("test_batch")
    path.unlink()
    path.symlink_to(python_copy.directory / "nowhere")
    with pytest.raises(DataError, match=r"CIFAR-10 file missing: .*test_batch"):
        load_cifar10(python_copy.directory, python_copy.manifest)


def test_symlinks_to_regular_files_are_followed(python_copy: FakeCifar, tmp_path: Path) -> None:
    linked = tmp_path / "linked" / "cifar-10-batches-py"
    linked.mkdir(parents=True)
    for path in python_copy.directory.iterdir():
        (linked / path.name).symlink_to(path)
    raw = load_cifar10(linked, python_copy.manifest)
    np.testing.assert_array_equal(raw.train_images, python_copy.train_images)


def test_official_sizes_and_archive_sizes() -> None:
    assert cs.MAX_BYTES["data_batch_1"] == 31_035_704 and cs.MAX_BYTES["batches.meta"] == 158
    assert all(cs.MAX_BYTES[name] == 10_000 * 3073 for name in cs.BINARY_MD5)
    assert set(cs.MAX_BYTES) == {*cs.OFFICIAL_MD5, "batches.meta.txt"}
    assert cs.PYTHON_ARCHIVE.size == 170_498_071
    assert cs.BINARY_ARCHIVE.size == 170_052_171
    assert cs.CLASS_NAMES == tuple(CLASS_NAMES)
