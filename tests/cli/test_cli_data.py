"""Missing, truncated, altered or malicious CIFAR-10 files: refused before use, with a clear line.

The loader-level cases with small hand-made files live in tests/dataset:

* altered file, named with both md5s: test_dataset_cifar10.py::test_wrong_checksum_is_refused_naming_file_and_md5s
* pickle that runs code, refused even with a matching md5:
  test_dataset_cifar10.py::test_pickle_that_runs_code_is_refused_even_with_matching_md5
* archive members escaping the target: test_dataset_download.py::test_unsafe_archive_members_are_refused_and_nothing_is_written
* interrupted / failing / timed-out download, resume and restart:
  test_dataset_download.py::test_interrupted_download_then_resume, ::test_resume_ignored_by_the_server_starts_over,
  ::test_corrupt_resumed_download_is_deleted, ::test_http_error, ::test_connection_refused, ::test_socket_timeout

Here the same refusals go through the real command, which always checks the official md5s.
"""

from __future__ import annotations

import os
import pickle
import re
import time
from pathlib import Path

import numpy as np
import pytest
from cli_sandbox import rlimits, run_bench

PY_FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch", "batches.meta"]


def test_missing_data_offline_says_where_it_looked_and_how_to_get_it(bench, clean_error) -> None:
    where = bench.cwd / "no data here"
    proc = bench.run("--plugins", "numpy", "--data-dir", str(where), "--offline", "--steps", "2")
    line = clean_error(proc, 1, f"CIFAR-10 not found in {where}", "cifar-10-batches-py/", "--data-dir")
    assert "to download it" in line and "BENCH_OFFLINE unset" in line  # BENCH_OFFLINE=1 is set for the tests
    assert "BENCH_CIFAR10_URL" in line and "--dataset synthetic" in line
    assert not where.exists()  # offline: nothing created
    assert not bench.results.exists()


def test_bench_data_reports_missing_data(bench) -> None:
    where = bench.cwd / "empty"
    proc = bench("data", "--data-dir", str(where))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"CIFAR-10 location: {where}" in proc.stdout and "missing; pass --data-dir" in proc.stdout


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _fake_copy(directory: Path, marker: Path) -> Path:
    """A python-version layout whose first batch is a pickle that would run code."""
    directory.mkdir(parents=True)
    (directory / "data_batch_1").write_bytes(pickle.dumps(_RunsCode(marker), protocol=2))
    for name in PY_FILES[1:]:
        (directory / name).write_bytes(b"not the real file")
    return directory


def test_malicious_pickle_is_refused_and_never_runs(bench, clean_error) -> None:
    marker = bench.cwd / "pwned"
    data = _fake_copy(bench.cwd / "data" / "cifar-10-batches-py", marker)
    proc = bench.run("--plugins", "numpy", "--data-dir", str(data.parent), "--steps", "2")
    clean_error(proc, 1, f"checksum mismatch for {data / 'data_batch_1'}", "expected md5 c99cafc152244af753f735de768cd75f")
    assert not marker.exists()
    assert proc.stdout == "" and not bench.results.exists()  # refused before any training


def _real_data() -> Path:
    directory = os.environ.get("BENCH_CIFAR10_DIR")
    if not directory:
        pytest.skip("set BENCH_CIFAR10_DIR to the directory holding the real CIFAR-10")
    path = Path(directory)
    return path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path


@pytest.mark.realdata
@pytest.mark.parametrize("damage", ["truncated", "one byte altered"])
def test_damaged_real_file_is_refused_naming_it_and_the_checksums(bench, clean_error, damage: str) -> None:
    real = _real_data()
    copy = bench.cwd / "cifar" / "cifar-10-batches-py"
    copy.mkdir(parents=True)
    for name in PY_FILES:
        if name != "data_batch_3":
            (copy / name).symlink_to(real / name)
    data = (real / "data_batch_3").read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
    (copy / "data_batch_3").write_bytes(data)

    proc = bench.run("--plugins", "numpy", "--data-dir", str(copy.parent), "--dataset", "cifar10", "--steps", "2")
    line = clean_error(proc, 1, f"checksum mismatch for {copy / 'data_batch_3'}", "54ebc095f3ab1f0389bbae665268c751")
    assert re.search(r"got [0-9a-f]{32}", line)
    assert proc.stdout == "" and not bench.results.exists()

    report = bench("data", "--data-dir", str(copy.parent))
    assert report.returncode == 1
    assert re.search(r"data_batch_3\s+BAD: md5 [0-9a-f]{32}, expected 54ebc095f3ab1f0389bbae665268c751", report.stdout)


# -- files that are not what they claim: special files, huge files, wrong class lists -------

SPECIAL = ["symlink to /dev/zero", "fifo", "40 GB sparse file"]
MEMORY_CAP = 2 << 30  # a regression reads into a MemoryError, not into the machine's memory


def _make_special(path: Path, kind: str) -> str:
    """Put ``kind`` at ``path``; return what the error must say about it."""
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
        return "not a regular file"
    if kind == "fifo":
        os.mkfifo(path)
        return "not a regular file"
    with open(path, "wb") as f:
        f.truncate(40 * 10**9)
    return "40000000000 bytes"


def _run_limited(bench, *args: str):
    return run_bench(bench, *args, limits=rlimits(address_space=MEMORY_CAP), timeout=30)


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_or_huge_batch_file_is_refused_without_reading_it(bench, clean_error, kind: str) -> None:
    copy = bench.cwd / "data" / "cifar-10-batches-py"
    copy.mkdir(parents=True)
    for name in PY_FILES[1:]:
        (copy / name).write_bytes(b"not the real file")
    what = _make_special(copy / "data_batch_1", kind)

    start = time.monotonic()
    proc = _run_limited(bench, "run", "--plugins", "numpy", "--data-dir", str(copy.parent), "--steps", "2",
                        "--quiet", "--results-dir", str(bench.results))
    clean_error(proc, 1, str(copy / "data_batch_1"), what)
    report = _run_limited(bench, "data", "--data-dir", str(copy.parent))
    assert report.returncode == 1 and "Traceback" not in report.stderr, report.stderr
    assert re.search(rf"data_batch_1\s+BAD: .*{what}", report.stdout), report.stdout
    assert time.monotonic() - start < 20  # nothing was read


@pytest.mark.realdata
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_file_after_good_ones_is_refused_and_never_blocks(bench, clean_error, kind: str) -> None:
    """The batches before it are real and verify; the reads in flight must not hang on it."""
    real = _real_data()
    copy = bench.cwd / "cifar" / "cifar-10-batches-py"
    copy.mkdir(parents=True)
    for name in PY_FILES:
        if name != "test_batch":
            (copy / name).symlink_to(real / name)
    what = _make_special(copy / "test_batch", kind)
    proc = _run_limited(bench, "run", "--plugins", "numpy", "--data-dir", str(copy.parent), "--steps", "2",
                        "--quiet", "--results-dir", str(bench.results))
    clean_error(proc, 1, str(copy / "test_batch"), what)
    assert not bench.results.exists()


@pytest.fixture(scope="module")
def real_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The binary version, derived from the real python batches (label byte + 3072 pixel bytes a
    record, which gives exactly the official ``.bin`` md5s), with the official class list."""
    real = _real_data()
    from bench.dataset.cifar10 import parse_python_batch

    directory = tmp_path_factory.mktemp("binary") / "cifar-10-batches-bin"
    directory.mkdir()
    for name in PY_FILES[:-1]:
        images, labels = parse_python_batch((real / name).read_bytes(), name)
        records = np.concatenate([labels.astype(np.uint8)[:, None], images], axis=1)
        (directory / f"{name}.bin").write_bytes(records.tobytes())
    return directory


OFFICIAL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.mark.realdata
@pytest.mark.parametrize(("names", "says"), [
    (OFFICIAL_NAMES + ["unicorn"], "11 class names"),
    ([f"class{i}" for i in range(1000)], "more than the official file's"),  # refused unread, for its size
    ([str(i) for i in range(1000)], "1000 class names"),  # small enough to be read, then refused
    (OFFICIAL_NAMES[:9], "9 class names"),
    (OFFICIAL_NAMES[1:] + OFFICIAL_NAMES[:1], "10 class names (automobile"),
], ids=["11 names", "1000 names", "1000 short names", "9 names", "reordered"])
def test_a_binary_class_list_other_than_the_official_ten_is_refused(bench, clean_error, real_binary, names, says):
    meta = real_binary / "batches.meta.txt"
    meta.write_text("\n".join(names) + "\n\n")
    proc = bench.run("--plugins", "numpy", "--data-dir", str(real_binary), "--steps", "2")
    clean_error(proc, 1, str(meta), says)
    assert proc.stdout == "" and not bench.saved()
    report = bench("data", "--data-dir", str(real_binary))
    assert report.returncode == 1
    assert re.search(rf"batches\.meta\.txt\s+BAD: .*{re.escape(says)}", report.stdout), report.stdout


@pytest.mark.realdata
def test_the_derived_binary_version_with_the_official_names_runs(bench, real_binary) -> None:
    """The control for the test above: the same files with the official list train fine."""
    (real_binary / "batches.meta.txt").write_text("\n".join(OFFICIAL_NAMES) + "\n\n")
    proc = bench.run("--plugins", "numpy", "--data-dir", str(real_binary), "--steps", "2")
    assert proc.returncode == 0, proc.stderr
    (doc,) = bench.saved()
    assert doc["results"][0]["status"] == "ok"
