"""The preprocessed dataset as ``.npy`` files, for worker processes to memory-map read-only.

The parent process verifies and preprocesses CIFAR-10 once; :func:`prepare` writes the
float32 arrays into the user cache directory (``<cache>/bench/prepared/<key>/``, never
beside the user's data), through a temporary directory and a rename, so a reader sees a
complete copy or none. The key names what went in: the dataset, the md5 of every source
file (or the synthetic seed), the preprocessing and this module's format. Each worker then
:func:`open_prepared` maps the copy read-only: no parsing, no preprocessing, and
the pages are shared with every other process that maps them.

The test labels are not in that directory: they are written beside it, as
``<key>.test_labels.npy``, and only the harness reads them (:func:`open_prepared` with
``test_labels=True``). A worker maps the directory alone, so a plugin gets no labels from
bench; it scores nothing, the harness scores its predictions (see docs/trust.md).

:func:`find_prepared` lets a later run skip reading the source files altogether while
none of them changed (same path, size and modification time as when they were verified).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.dataset.base import Dataset

FORMAT = 1
LABELS = "apart"
"""The layout of the test labels, in the key and the metadata: beside the directory
(:func:`labels_path`), never in it. A copy without this tag (an older bench's, which has
the labels inside) is never used."""
KEEP = 6
"""Prepared copies kept in the cache; older ones are removed when a new one is written."""
_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
_WORKER_ARRAYS = ("train_images", "train_labels", "test_images")
"""What a worker's directory holds; the test labels are kept apart (:func:`labels_path`)."""


def labels_path(copy: Path) -> Path:
    """Where the test labels of the prepared copy ``copy`` are: beside it, not in it."""
    return copy.parent / f"{copy.name}.test_labels.npy"


def cache_root() -> Path:
    """``prepared/`` in bench's user cache directory (``$BENCH_CACHE_DIR`` sets it)."""
    from bench.paths import user_cache_dir

    return user_cache_dir() / "prepared"


def dataset_key(dataset: Dataset) -> str:
    """What identifies ``dataset``'s arrays: its sources' checksums (or seed) and preprocessing.

    A dataset with neither (one built in memory by a test) is identified by its contents.
    """
    details = dataset.details or {}
    identity: dict[str, Any] = {"format": FORMAT, "name": dataset.name, "preprocessing": dataset.preprocessing,
                                "test_labels": LABELS}
    if details.get("files_md5_verified"):
        identity["md5"] = details["files_md5_verified"]
        identity["structural"] = details.get("files_checked_structurally")
    elif dataset.name == "synthetic" and "seed" in details:
        identity["source"] = dataset.source
    else:
        digest = hashlib.sha256()
        for name in _ARRAYS:
            array = np.ascontiguousarray(getattr(dataset, name))
            digest.update(f"{name}{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())  # only in-memory datasets (a test's) are hashed: small
        identity["contents"] = digest.hexdigest()
    identity["classes"] = list(dataset.class_names)
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def prepare(dataset: Dataset, *, source_stats: dict[str, list[int]] | None = None, root: Path | None = None) -> Path:
    """Write ``dataset`` to the cache unless an identical copy is there; return its directory.

    ``source_stats`` (file -> [size, mtime_ns]) is recorded so that :func:`find_prepared`
    can recognise the unchanged source files next time.
    """
    root = root or cache_root()
    key = dataset_key(dataset)
    target = root / key
    if not _complete(target):
        _write(dataset, target, source_stats)
    else:
        os.utime(target / "meta.json")  # most recently used: kept longest
    return target


def _write(dataset: Dataset, target: Path, source_stats: dict[str, list[int]] | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    labels = target.parent / f".{target.name}.{secrets.token_hex(4)}.labels.tmp"
    try:
        for name in _WORKER_ARRAYS:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(dataset, name)), allow_pickle=False)
        with open(labels, "wb") as handle:
            np.save(handle, np.ascontiguousarray(dataset.test_labels), allow_pickle=False)
        os.replace(labels, labels_path(target))  # before the directory: a complete copy has its labels
        meta = {
            "format": FORMAT,
            "test_labels": LABELS,
            "name": dataset.name,
            "class_names": list(dataset.class_names),
            "source": dataset.source,
            "preprocessing": dataset.preprocessing,
            "details": dataset.details,
            "source_stats": source_stats,
            "created": time.time(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, default=str))
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished the same copy first: use theirs
            if not _complete(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        labels.unlink(missing_ok=True)
    _prune(target.parent, keep=target)


def _complete(path: Path) -> bool:
    return ((path / "meta.json").is_file() and labels_path(path).is_file()
            and not (path / "test_labels.npy").exists()
            and all((path / f"{name}.npy").is_file() for name in _WORKER_ARRAYS))


def _prune(root: Path, keep: Path) -> None:
    """Remove the least recently used copies beyond :data:`KEEP`, and stale temporaries."""
    copies = []
    for entry in root.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            if time.time() - entry.stat().st_mtime > 3600:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry != keep and _complete(entry):
            copies.append((entry.joinpath("meta.json").stat().st_mtime, entry))
    for _, entry in sorted(copies, reverse=True)[max(0, KEEP - 1) :]:
        shutil.rmtree(entry, ignore_errors=True)
        labels_path(entry).unlink(missing_ok=True)


def open_prepared(path: str | os.PathLike[str], *, populate: bool = True, test_labels: bool = True) -> Dataset:
    """The dataset in a prepared directory, its images memory-mapped read-only.

    ``populate`` maps every page in at once (``MAP_POPULATE``), so that no timed step
    later pays for a page fault on its first touch of an image. Without ``test_labels``
    (a worker) the dataset's ``test_labels`` are empty: the file is not opened.
    """
    path = Path(path)
    meta = json.loads((path / "meta.json").read_text())
    arrays = {
        name: _map_npy(path / f"{name}.npy", populate)
        if name.endswith("images")
        else np.load(path / f"{name}.npy", allow_pickle=False)
        for name in _WORKER_ARRAYS
    }
    arrays["test_labels"] = (np.load(labels_path(path), allow_pickle=False) if test_labels
                             else np.empty(0, dtype=arrays["train_labels"].dtype))
    return Dataset(
        name=meta["name"],
        class_names=list(meta["class_names"]),
        source=meta["source"],
        preprocessing=meta["preprocessing"],
        details=dict(meta.get("details") or {}),
        **arrays,
    )


def _map_npy(path: Path, populate: bool) -> np.ndarray:
    """A read-only view of a ``.npy`` file's array, mapped shared (never copied)."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
        if dtype.hasobject or fortran:
            raise ValueError(f"{path}: not a plain C-ordered array")
        flags = mmap.MAP_SHARED | (getattr(mmap, "MAP_POPULATE", 0) if populate else 0)
        mapped = mmap.mmap(handle.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
    count = int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape)


def source_stats(directory: Path, files: tuple[str, ...]) -> dict[str, list[int]]:
    """``{file: [size, mtime_ns]}`` of the source files, resolved, to recognise them unchanged."""
    stats = {}
    for name in files:
        info = (directory / name).resolve().stat()
        stats[str((directory / name).resolve())] = [info.st_size, info.st_mtime_ns]
    return stats


def cifar10_source_stats(data_dir: str | os.PathLike[str] | None) -> dict[str, list[int]] | None:
    """:func:`source_stats` of the CIFAR-10 files in ``data_dir`` (resolved as the loader
    does), or ``None`` when they are not there or cannot be read."""
    from bench.dataset.cifar10 import find_layout
    from bench.dataset.locate import resolve_data_dir

    layout = find_layout(resolve_data_dir(data_dir))
    if layout is None:
        return None
    try:
        return source_stats(layout.path, layout.files)
    except OSError:
        return None


def find_prepared(
    name: str, preprocessing: str, stats: dict[str, list[int]], *, root: Path | None = None
) -> Path | None:
    """A prepared copy made from exactly these unchanged source files, if the cache has one."""
    root = root or cache_root()
    if not root.is_dir():
        return None
    for entry in sorted(root.iterdir()):
        meta_path = entry / "meta.json"
        if entry.name.startswith(".") or not _complete(entry):
            continue
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if (
            meta.get("format") == FORMAT
            and meta.get("test_labels") == LABELS
            and meta.get("name") == name
            and meta.get("preprocessing") == preprocessing
            and meta.get("source_stats") == stats
        ):
            os.utime(meta_path)
            return entry
    return None
