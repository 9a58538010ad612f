"""The prepared copy that workers map is checked, rebuilt when damaged, and kept while in use
(issue 19): the real ``bench run`` against a cache that a plugin, a hand, a full disk, a killed
run or a concurrent run got at."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from cli_sandbox import in_mount_namespace, official_archive_is, rlimits, run_bench

DAMAGED = "is damaged: "
REBUILDING = "rebuilding it from the verified source"

VANDAL_PLUGIN = '''
"""A classifier that, in close(), zeroes the test labels of every prepared copy (size and
modification time kept, the read-only mode undone first)."""

import glob
import os

import numpy as np

from bench.classifier import ClassifierSpec
from bench.hookspecs import hookimpl
from bench_numpy.softmax import NumpySoftmax


class Vandal(NumpySoftmax):
    def close(self):
        for path in glob.glob(os.path.join(os.environ["BENCH_CACHE_DIR"], "prepared", "*", "test_labels.npy")):
            info = os.stat(path)
            os.chmod(path, 0o644)
            labels = np.load(path)
            np.save(path, np.zeros_like(labels))
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        super().close()


@hookimpl
def bench_register_classifiers(register):
    register(ClassifierSpec("vandal", "numpy softmax that damages the prepared copy in close()", Vandal))
'''


@pytest.fixture
def cache(bench, tmp_path: Path) -> Path:
    bench.env["BENCH_CACHE_DIR"] = str(tmp_path / "cache")
    return tmp_path / "cache"


def _copies(cache: Path) -> list[Path]:
    root = cache / "prepared"
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def _run(bench, *args: str):
    proc = bench.run("--plugins", "numpy", "--steps", "20", "--batch-size", "50", *args)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def _accuracy(bench) -> float:
    document = json.loads(max(bench.results.glob("*.json"), key=lambda p: p.stat().st_mtime_ns).read_text())
    [row] = [row for row in document["results"] if row["plugin"] == "numpy"]
    assert row["status"] == "ok", row
    return row["test_accuracy"]


def _damage_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if DAMAGED in line]


def _writable(copy: Path) -> None:
    os.chmod(copy, 0o755)
    for file in copy.iterdir():
        os.chmod(file, 0o644)


def _zero_labels(copy: Path) -> None:
    path = copy / "test_labels.npy"
    info = path.stat()
    np.save(path, np.zeros_like(np.load(path)))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def _truncate(copy: Path) -> None:
    with open(copy / "train_images.npy", "r+b") as handle:
        handle.truncate(1000)


def _bad_meta(copy: Path) -> None:
    (copy / "meta.json").write_text('{"format": 2, "name": ')


def _missing_file(copy: Path) -> None:
    (copy / "test_images.npy").unlink()


def _flip_byte(copy: Path) -> None:
    with open(copy / "train_images.npy", "r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 0xFF]))


DAMAGES = {"zeroed labels": _zero_labels, "one byte changed": _flip_byte, "truncated": _truncate,
           "invalid meta.json": _bad_meta, "a file missing": _missing_file}


def test_the_copy_is_written_read_only_with_a_digest_of_every_file(bench, cache) -> None:
    _run(bench)
    [copy] = _copies(cache)
    meta = json.loads((copy / "meta.json").read_text())
    assert set(meta["files"]) == {"train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"}
    for name, entry in meta["files"].items():
        assert entry["size"] == (copy / name).stat().st_size and len(entry["xxh3_128"]) == 32
        assert (copy / name).stat().st_mode & 0o222 == 0
    assert copy.stat().st_mode & 0o222 == 0


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_copy_is_rebuilt_with_one_line_and_the_same_accuracy(bench, cache, damage: str) -> None:
    _run(bench)
    expected = _accuracy(bench)
    [copy] = _copies(cache)
    _writable(copy)
    DAMAGES[damage](copy)

    proc = _run(bench)

    [line] = _damage_lines(proc.stderr)
    assert str(copy) in line and REBUILDING in line
    assert _accuracy(bench) == expected
    assert _copies(cache) == [copy]
    again = _run(bench)  # rebuilt: intact now
    assert not _damage_lines(again.stderr) and _accuracy(bench) == expected


def test_a_plugin_damaging_the_copy_fails_the_next_row_naming_it_and_the_next_run_rebuilds_it(bench, cache) -> None:
    _run(bench)
    expected = _accuracy(bench)
    bench.add_distribution("bench-vandal", {"vandal": "fakeplugin_vandal"}, {"fakeplugin_vandal": VANDAL_PLUGIN})
    [copy] = _copies(cache)

    proc = bench.run("--plugins", "vandal,numpy", "--steps", "20", "--batch-size", "50")

    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    rows = {row["plugin"]: row for row in json.loads(max(bench.results.glob("*.json")).read_text())["results"]}
    assert rows["vandal"]["status"] == "ok"
    assert rows["numpy"]["status"] == "failed"
    assert "DamagedCopyError" in rows["numpy"]["error"] and str(copy) in rows["numpy"]["error"]
    assert "test_labels.npy" in rows["numpy"]["error"]

    proc = _run(bench)
    [line] = _damage_lines(proc.stderr)
    assert str(copy) in line and "test_labels.npy" in line
    assert _accuracy(bench) == expected


@pytest.fixture
def small_cifar(bench, tmp_path: Path) -> Path:
    """Small files in the official python format (tests/dataset/cifar_files.py), accepted as
    the official ones."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dataset"))
    from cifar_files import write_python

    fake = write_python(tmp_path / "data" / "cifar-10-batches-py", sizes=[40, 40, 40, 40, 40, 20])
    official_archive_is(bench, files=fake.manifest)
    return fake.directory.parent


@pytest.mark.parametrize("damage", ["zeroed labels", "truncated", "invalid meta.json"])
def test_a_damaged_copy_of_unchanged_cifar10_files_is_not_reused_but_rebuilt(bench, cache, small_cifar,
                                                                            damage: str) -> None:
    args = ("--dataset", "cifar10", "--data-dir", str(small_cifar), "--batch-size", "20")
    _run(bench, *args)
    expected = _accuracy(bench)
    [copy] = _copies(cache)
    reused = bench("run", "--plugins", "numpy", "--steps", "20", *args, "--results-dir", str(bench.results))
    assert reused.returncode == 0 and "prepared copy (source files unchanged since verified)" in reused.stdout
    _writable(copy)
    DAMAGES[damage](copy)

    proc = _run(bench, *args)

    [line] = _damage_lines(proc.stderr)
    assert str(copy) in line
    assert _accuracy(bench) == expected
    assert not _damage_lines(_run(bench, *args).stderr)


def _prepare_in(root: Path, seed: int) -> Path:
    """A small copy in ``root``, made here and not held by this process."""
    from bench.dataset import Dataset, prepared

    rng = np.random.default_rng(seed)
    dataset = Dataset(name="tiny", train_images=rng.random((20, 12), dtype=np.float32),
                      train_labels=np.arange(20) % 10, test_images=rng.random((10, 12), dtype=np.float32),
                      test_labels=np.arange(10), class_names=[str(i) for i in range(10)])
    copy = prepared.prepare(dataset, root=root)
    prepared.release(copy)
    return copy


HOLDER = textwrap.dedent('''
    import sys, time
    from bench.dataset.prepared import open_prepared
    open_prepared(sys.argv[1])
    print("holding", flush=True)
    time.sleep(120)
''')


def test_pruning_skips_a_copy_that_a_concurrent_run_is_using(bench, cache, monkeypatch) -> None:
    from bench.dataset import prepared

    root = cache / "prepared"
    monkeypatch.setattr(prepared, "_prune", lambda root, keep: None)  # none while this test makes them
    copies = [_prepare_in(root, seed) for seed in range(100, 107)]  # 7: more than are kept
    for age, copy in enumerate(copies):  # copies[0] least recently used
        os.utime(copy / "meta.json", (time.time() - 10_000 + age, time.time() - 10_000 + age))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(copies[0])], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        _run(bench)  # writes its copy, then prunes
        left = _copies(cache)
        assert copies[0] in left  # in use: kept, however old
        assert copies[1] not in left  # the least recently used of the rest
        assert len(left) == prepared.KEEP + 1
    finally:
        holder.kill()
        holder.wait()
    _run(bench, "--seed", "1")  # nobody holds it now
    assert copies[0] not in _copies(cache)


KILLED_WRITER = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    from bench.dataset import prepared
    tmp, fd = prepared._temporary(Path(sys.argv[1]) / "0123")
    (tmp / "train_images.npy").write_bytes(bytes(1 << 20))
    os.kill(os.getpid(), signal.SIGKILL)
''')


def test_a_killed_writers_temporary_is_removed_and_a_live_ones_kept(bench, cache) -> None:
    root = cache / "prepared"
    root.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(root)], env=env, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    [stale] = [p for p in root.iterdir() if p.name.endswith(".tmp")]
    live = subprocess.Popen([sys.executable, "-c", KILLED_WRITER.replace("os.kill(os.getpid(), signal.SIGKILL)",
                             "print('writing', flush=True); import time; time.sleep(120)"), str(root)],
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == "writing"
        [young] = [p for p in root.iterdir() if p.name.endswith(".tmp") and p != stale]
        _run(bench)
        assert not stale.exists()
        assert young.exists()  # its writer is still at it
    finally:
        live.kill()
        live.wait()
    _run(bench)
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


def test_a_copy_that_cannot_be_written_is_a_clear_error_naming_the_cache(bench, cache, clean_error) -> None:
    proc = run_bench(bench, "run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "5",
                     "--results-dir", str(bench.results), "--quiet", limits=rlimits(fsize=4 << 20))
    line = clean_error(proc, 1, f"cannot write the prepared copy of synthetic into {cache / 'prepared'}",
                       "BENCH_CACHE_DIR")
    assert "MB" in line
    assert not list((cache / "prepared").iterdir())  # no temporary left behind


def test_a_full_disk_is_a_clear_error_naming_the_cache(bench, cache, clean_error) -> None:
    prefix = in_mount_namespace(cache, options="size=2m", fill=True)
    proc = run_bench(bench, "run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "5",
                     "--results-dir", str(bench.results), "--quiet", prefix=prefix)
    clean_error(proc, 1, f"cannot write the prepared copy of synthetic into {cache / 'prepared'}",
                "the disk is full", "BENCH_CACHE_DIR")


def test_a_dangling_symlink_as_the_cache_is_a_clear_error_naming_it(bench, tmp_path, clean_error) -> None:
    link = tmp_path / "cache-link"
    link.symlink_to(tmp_path / "gone")
    proc = bench.run("--plugins", "numpy", "--steps", "5", BENCH_CACHE_DIR=str(link))
    clean_error(proc, 1, str(link), "does not exist", "BENCH_CACHE_DIR")
