"""The preprocessed dataset as ``.npy`` files, for worker processes to memory-map read-only.

The parent process verifies and preprocesses CIFAR-10 once; :func:`prepare` writes the
float32 arrays into the user cache directory (``<cache>/bench/prepared/<key>/``, never
beside the user's data), through a temporary directory and a rename, so a reader sees a
complete copy or none. The key names what went in: the dataset, the md5 of every source
file (or the synthetic seed), the preprocessing and this module's format. Each worker then
:func:`open_prepared` maps the copy read-only: no parsing, no preprocessing, and
the pages are shared with every other process that maps them.

:func:`find_prepared` lets a later run skip reading the source files altogether while
none of them changed (same path, size and modification time as when they were verified).

The test labels are not in that directory: they are written beside it, as
``<key>.test_labels.npy`` (:func:`labels_path`), and only the harness reads them
(:func:`open_prepared` with ``test_labels=True``). A worker maps the directory alone, so a
plugin gets no labels from bench; the harness scores its predictions (see docs/trust.md).

A copy is not trusted blindly:

* ``meta.json`` records the size and xxh3-128 digest of every ``.npy`` file when the copy
  is written; :func:`find_prepared` and :func:`prepare` check them (once per process) and
  :func:`open_prepared` checks them again in every process that maps the copy (a worker, a
  node). Its files and directory are made read-only.
* A damaged copy (edited, truncated, an unreadable ``meta.json``) found by the parent is
  removed and rebuilt from the verified source, with one line on stderr saying so; in a
  worker it is a :class:`DamagedCopyError` naming the path.
* Every process that uses a copy holds a shared ``flock`` on its directory until it exits;
  pruning takes the lock exclusively without waiting and skips copies in use.
* A writer holds an exclusive lock on its temporary directory; a temporary directory
  nobody holds (its writer was killed) is removed by the next run.
* A copy is found again by the size and modification time of the source files it was made
  from. The same content read from other files (CIFAR-10 in another directory) gives the
  same copy; those files are then remembered beside it (``<key>.sources.json``,
  :func:`sources_path`), so that later runs reading them reuse the copy too.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import mmap
import os
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from bench.dataset.base import Dataset
from bench.dataset.lock import flock, is_current
from bench.errors import DataError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl on this platform: no locks

FORMAT = 3
"""2: ``meta.json`` holds each file's size and xxh3-128 digest (1 had none); 3: the test
labels are kept beside the directory, not in it."""
KEEP = 6
"""Prepared copies kept in the cache; older ones not in use are removed when one is written."""
HASH = "xxh3_128"
_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
_WORKER_ARRAYS = ("train_images", "train_labels", "test_images")
"""What a worker's directory holds; the test labels are kept apart (:func:`labels_path`)."""


def labels_path(copy: Path) -> Path:
    """Where the test labels of the prepared copy ``copy`` are: beside it, not in it."""
    return copy.parent / f"{copy.name}.test_labels.npy"


def sources_path(copy: Path) -> Path:
    """Where other source files known to give the copy ``copy`` are listed: beside it (the
    copy itself is read-only), so that the same CIFAR-10 in another directory, or the same
    files touched, is recognised after one more read instead of never again."""
    return copy.parent / f"{copy.name}.sources.json"


MAX_SOURCES = 8
"""Source-file stats remembered per copy beyond the ones it was written from (newest first)."""


def _known_sources(copy: Path, meta: dict[str, Any]) -> list[Any]:
    """The source stats the copy was written from, then those remembered beside it."""
    try:
        more = json.loads(sources_path(copy).read_text())
    except (OSError, ValueError):
        more = []
    return [meta.get("source_stats"), *(more if isinstance(more, list) else [])]


def _remember_sources(copy: Path, stats: dict[str, list[int]], meta: dict[str, Any]) -> None:
    """Record that the unchanged files of ``stats`` give ``copy`` too (best effort: a run
    that cannot write it reads the source files again next time, nothing worse)."""
    known = _known_sources(copy, meta)
    if stats in known:
        return
    remembered = [stats, *known[1:]][:MAX_SOURCES]
    target = sources_path(copy)
    part = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    try:
        part.write_text(json.dumps(remembered))
        os.replace(part, target)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()


def _file(copy: Path, name: str) -> Path:
    """The ``.npy`` file of the array ``name`` of the copy ``copy``."""
    return labels_path(copy) if name == "test_labels" else copy / f"{name}.npy"
_CHUNK = 16 << 20

Notice = Callable[[str], None]


class DamagedCopyError(DataError):
    """A prepared copy whose files are not what was written (or that is gone)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(
            f"the prepared copy {path} is damaged: {reason}; the next bench run rebuilds it "
            f"from the verified source (or remove {path})"
        )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cache_root() -> Path:
    """``prepared/`` in bench's user cache directory (``$BENCH_CACHE_DIR`` sets it)."""
    from bench.paths import user_cache_dir

    return user_cache_dir() / "prepared"


def dataset_key(dataset: Dataset) -> str:
    """What identifies ``dataset``'s arrays: its sources' checksums (or seed) and preprocessing.

    A dataset with neither (one built in memory by a test) is identified by its contents.
    """
    details = dataset.details or {}
    identity: dict[str, Any] = {"format": FORMAT, "name": dataset.name, "preprocessing": dataset.preprocessing}
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


# -- locks -----------------------------------------------------------------------------------

_HELD: dict[str, int] = {}
"""Copies this process uses: path -> the directory's descriptor holding a shared lock."""


def _open_dir(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


def hold(path: str | os.PathLike[str]) -> bool:
    """Hold a shared lock on the copy at ``path`` until this process exits (or :func:`release`),
    so that no other run prunes it; ``False`` when there is no copy there any more."""
    path = Path(path)
    if fcntl is None:  # pragma: no cover - Windows: no locks
        return path.is_dir()
    key = str(path)
    if key in _HELD:
        if is_current(_HELD[key], path):
            return True
        release(path)
    fd = _open_dir(path)
    if fd is None:
        return False
    if not flock(fd, fcntl.LOCK_SH) or not is_current(fd, path):
        os.close(fd)
        return False
    _HELD[key] = fd
    return True


def release(path: str | os.PathLike[str]) -> None:
    """Stop holding the copy at ``path`` (it may be pruned again)."""
    fd = _HELD.pop(str(Path(path)), None)
    if fd is not None:
        os.close(fd)


# -- digests ---------------------------------------------------------------------------------

_VERIFIED: dict[str, tuple[Any, ...]] = {}
"""Copies this process verified: path -> the files' identities then (inode, size, times)."""


def _identity(path: Path) -> tuple[Any, ...]:
    meta = os.stat(path / "meta.json")
    out: list[tuple[int, ...]] = [(meta.st_ino, meta.st_size)]  # its times change on every use (utime)
    for name in _ARRAYS:
        st = os.stat(_file(path, name))
        out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


def _digest(data: Any) -> str:
    return xxhash.xxh3_128(data).hexdigest()


def _file_digest(path: Path) -> str:
    hasher = xxhash.xxh3_128()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb") as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
    return hasher.hexdigest()


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / "meta.json").read_text())
    except FileNotFoundError:
        if not path.is_dir():
            raise DamagedCopyError(path, "it is gone: removed by another process?") from None
        raise DamagedCopyError(path, "meta.json is missing") from None
    except (OSError, ValueError) as exc:
        raise DamagedCopyError(path, f"meta.json cannot be read: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("files"), dict):
        raise DamagedCopyError(path, "meta.json is not a prepared copy's of this bench version")
    return meta


def _expected(path: Path, meta: dict[str, Any], name: str) -> tuple[int, str]:
    entry = meta["files"].get(f"{name}.npy")
    if not isinstance(entry, dict) or not isinstance(entry.get("size"), int) or not isinstance(entry.get(HASH), str):
        raise DamagedCopyError(path, f"meta.json has no digest of {name}.npy")
    return entry["size"], entry[HASH]


def verify(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every file of the copy at ``path`` against the sizes and digests in its ``meta.json``
    (once per process while the files stay the same); return the meta, or raise
    :class:`DamagedCopyError`."""
    path = Path(path)
    meta = _read_meta(path)
    with contextlib.suppress(OSError):
        if _VERIFIED.get(str(path)) == _identity(path):
            return meta
    for name in _ARRAYS:
        size, digest = _expected(path, meta, name)
        file = _file(path, name)
        try:
            actual = file.stat().st_size
            if actual != size:
                raise DamagedCopyError(path, f"{name}.npy has {actual} bytes, {size} when written")
            if _file_digest(file) != digest:
                raise DamagedCopyError(path, f"{name}.npy is not what was written (its {HASH} digest differs)")
        except OSError as exc:
            raise DamagedCopyError(path, f"{name}.npy cannot be read: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):
        _VERIFIED[str(path)] = _identity(path)
    return meta


# -- writing ---------------------------------------------------------------------------------


def prepare(
    dataset: Dataset,
    *,
    source_stats: dict[str, list[int]] | None = None,
    root: Path | None = None,
    notice: Notice | None = None,
) -> Path:
    """Write ``dataset`` to the cache unless an identical, intact copy is there; return its directory.

    ``source_stats`` (file -> [size, mtime_ns]) is recorded so that :func:`find_prepared`
    can recognise the unchanged source files next time. A damaged copy is removed and written
    again, and ``notice`` (default: a line on stderr) is told. This process then holds the copy
    (:func:`hold`) so that no other run prunes it.
    """
    root = root or cache_root()
    _make_root(root)
    _remove_stale(root)
    key = dataset_key(dataset)
    target = root / key
    for _ in range(5):
        if not os.path.lexists(target):
            _write(dataset, target, source_stats)
        if not hold(target):
            continue  # removed by another run between writing and locking: write it again
        try:
            meta = verify(target)
        except DamagedCopyError as exc:
            _discard(target, exc.reason, notice)
            continue
        if source_stats is not None:  # an identical copy, made from files elsewhere: know these too
            _remember_sources(target, source_stats, meta)
        with contextlib.suppress(OSError):
            os.utime(target / "meta.json")  # most recently used: kept longest
        return target
    raise DataError(f"cannot keep a prepared copy at {target}: something keeps removing or damaging it")


def _make_root(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        if root.is_dir():
            return
    except OSError as exc:
        why: str = exc.strerror or str(exc)
    else:
        why = "not a directory"
    for part in (root, *root.parents):
        if part.is_symlink() and not part.exists():
            why = f"{part} is a symbolic link to {os.readlink(part)}, which does not exist"
            break
    raise DataError(
        f"cannot create the prepared-data cache directory {root}: {why}; fix that path, "
        "or set BENCH_CACHE_DIR to a writable directory"
    )


def _write(dataset: Dataset, target: Path, source_stats: dict[str, list[int]] | None) -> None:
    try:
        tmp, fd = _temporary(target)
    except OSError as exc:
        raise _cannot_write(dataset, target, exc) from None
    labels = tmp / "test_labels.npy"  # moved beside the directory before the directory is renamed
    try:
        files = {}
        for name in _ARRAYS:
            file = labels if name == "test_labels" else tmp / f"{name}.npy"
            with open(file, "wb") as handle:
                np.save(handle, np.ascontiguousarray(getattr(dataset, name)), allow_pickle=False)
            files[f"{name}.npy"] = {"size": file.stat().st_size, HASH: _file_digest(file)}
        meta = {
            "format": FORMAT,
            "name": dataset.name,
            "class_names": list(dataset.class_names),
            "source": dataset.source,
            "preprocessing": dataset.preprocessing,
            "details": dataset.details,
            "source_stats": source_stats,
            "created": time.time(),
            "files": files,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, default=str))
        for file in [*tmp.iterdir(), labels]:
            file.chmod(0o444)
        tmp.chmod(0o555)
        os.replace(labels, labels_path(target))  # before the directory: a complete copy has its labels
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished the same copy first: use theirs
            if not target.is_dir():
                raise
    except OSError as exc:
        raise _cannot_write(dataset, target, exc) from None
    finally:
        if os.path.lexists(tmp):
            _remove(tmp)
        os.close(fd)
    _prune(target.parent, keep=target)


def _cannot_write(dataset: Dataset, target: Path, exc: OSError) -> DataError:
    needed = sum(np.asarray(getattr(dataset, name)).nbytes for name in _ARRAYS)
    return DataError(
        f"cannot write the prepared copy of {dataset.name} into {target.parent} "
        f"({needed / 1e6:.0f} MB): {_why(exc)}; free some space there, or set "
        "BENCH_CACHE_DIR to a writable directory with room"
    )


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC or "free space" in str(exc):
        return "the disk is full"
    if exc.errno == errno.EFBIG:
        return "a file size limit was reached"
    return exc.strerror or str(exc)


def _temporary(target: Path) -> tuple[Path, int]:
    """A new temporary directory beside ``target``, locked (exclusively) while it is written."""
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        tmp.mkdir()
        fd = _open_dir(tmp)
        if fd is not None:
            if flock(fd, (fcntl.LOCK_EX if fcntl else 0)) and is_current(fd, tmp):
                return tmp, fd  # not removed as stale between mkdir and the lock
            os.close(fd)


def _remove(path: Path) -> None:
    """Remove a directory that may have been made read-only."""
    for directory, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(directory, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def _take_away(entry: Path) -> OSError | None:
    """Rename ``entry`` to a temporary name nobody holds and remove it; the error if it cannot."""
    trash = entry.parent / f".{entry.name}.{secrets.token_hex(4)}.tmp"
    for beside in (labels_path(entry), sources_path(entry)):
        with contextlib.suppress(OSError):
            beside.unlink()
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        return None  # another process took it away first
    except OSError as exc:
        return exc
    _remove(trash)
    return None


def _discard(path: Path, reason: str, notice: Notice | None) -> None:
    """Remove a damaged copy, saying so in one line."""
    release(path)
    _VERIFIED.pop(str(path), None)
    error = _take_away(path)
    if error is not None:
        raise DataError(
            f"the prepared copy {path} is damaged: {reason}; and it cannot be removed "
            f"({error.strerror or error}): remove it by hand, or set BENCH_CACHE_DIR to another directory"
        )
    (notice or _stderr)(f"bench: the prepared copy {path} is damaged: {reason}; rebuilding it from the verified source")


def _remove_stale(root: Path) -> None:
    """Remove temporary directories that nobody holds: their writer was killed."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        fd = _open_dir(entry)
        if fd is None:
            continue
        try:
            if flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if fcntl else 0):
                _remove(entry)
        finally:
            os.close(fd)


def _prune(root: Path, keep: Path) -> None:
    """Remove the least recently used copies beyond :data:`KEEP` that no process holds."""
    copies = []
    for entry in root.iterdir():
        if entry.name.startswith(".") or entry == keep or not entry.is_dir():
            continue  # (a copy's labels file beside it goes with the copy)
        try:
            used = entry.joinpath("meta.json").stat().st_mtime
        except OSError:
            used = 0.0
        copies.append((used, entry))
    for _, entry in sorted(copies, reverse=True)[max(0, KEEP - 1) :]:
        if str(entry) in _HELD:
            continue  # this run uses it
        fd = _open_dir(entry)
        if fd is None:
            continue
        try:
            if flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if fcntl else 0) and is_current(fd, entry):
                _take_away(entry)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class CachedCopy:
    """One prepared copy in the cache, as ``bench data --cache`` lists it."""

    path: Path
    size: int
    """Bytes of its files, and of the files beside it that belong to it (``<key>.*``)."""
    last_used: float
    """When a run last used it (its ``meta.json``'s modification time; 0 when unreadable)."""
    in_use: bool
    """Whether a running bench (or one of its workers) holds it now."""


def _belongs(entry: Path) -> list[Path]:
    """The copy's directory and the files beside it named after it."""
    try:
        beside = [p for p in entry.parent.iterdir() if p.name.startswith(entry.name + ".") and p.is_file()]
    except OSError:
        beside = []
    return [entry, *beside]


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
            continue
        for directory, _, names in os.walk(path):
            for name in names:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _in_use(entry: Path) -> bool:
    if str(entry) in _HELD:
        return True
    fd = _open_dir(entry)
    if fd is None:
        return False
    try:
        if not flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if fcntl else 0):
            return True
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def cached_copies(root: Path | None = None) -> list[CachedCopy]:
    """Every prepared copy in the cache (``$BENCH_CACHE_DIR``/prepared), most recently used first."""
    root = cache_root() if root is None else root
    try:
        entries = [e for e in root.iterdir() if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return []
    copies = []
    for entry in entries:
        try:
            used = entry.joinpath("meta.json").stat().st_mtime
        except OSError:
            used = 0.0
        copies.append(CachedCopy(entry, _size(_belongs(entry)), used, _in_use(entry)))
    return sorted(copies, key=lambda c: c.last_used, reverse=True)


def remove_copies(root: Path | None = None) -> tuple[list[CachedCopy], list[CachedCopy]]:
    """Remove every prepared copy that no process uses now (and the temporaries of killed runs).

    Returns ``(removed, kept)``: a copy in use is kept. The next run rebuilds a copy it
    needs from the verified source.
    """
    root = cache_root() if root is None else root
    removed, kept = [], []
    for copy in cached_copies(root):
        fd = _open_dir(copy.path)
        if fd is None:
            continue
        try:
            free = str(copy.path) not in _HELD and flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if fcntl else 0)
            if free and is_current(fd, copy.path):
                beside = _belongs(copy.path)[1:]
                error = _take_away(copy.path)
                if error is not None:
                    raise DataError(f"cannot remove the prepared copy {copy.path}: {error.strerror or error}")
                for path in beside:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                _VERIFIED.pop(str(copy.path), None)
                removed.append(copy)
            else:
                kept.append(copy)
        finally:
            os.close(fd)
    if root.is_dir():
        _remove_stale(root)
    return removed, kept


# -- reading ---------------------------------------------------------------------------------


def open_prepared(path: str | os.PathLike[str], *, populate: bool = True, test_labels: bool = True) -> Dataset:
    """The dataset in a prepared directory, its images memory-mapped read-only.

    Every file is checked against its size and digest in ``meta.json`` (raising
    :class:`DamagedCopyError`, naming the path, when one differs), and this process holds
    the copy (:func:`hold`) so that no other run prunes it while it is mapped.
    ``populate`` maps every page in at once (``MAP_POPULATE``), so that no timed step
    later pays for a page fault on its first touch of an image. Without ``test_labels``
    (a worker) the dataset's ``test_labels`` are empty: their file is not opened.
    """
    path = Path(path)
    if not hold(path):
        raise DamagedCopyError(path, "it is gone: removed by another process?")
    meta = _read_meta(path)
    known = False
    with contextlib.suppress(OSError):
        known = _VERIFIED.get(str(path)) == _identity(path)
    arrays = {"test_labels": np.empty(0, dtype=np.int64)}
    for name in _ARRAYS if test_labels else _WORKER_ARRAYS:
        expected = None if known else _expected(path, meta, name)
        array = _map_npy(path, name, populate, expected)
        arrays[name] = array if name.endswith("images") else np.array(array)
    if not known:
        with contextlib.suppress(OSError):
            _VERIFIED[str(path)] = _identity(path)
    return Dataset(
        name=meta["name"],
        class_names=list(meta["class_names"]),
        source=meta["source"],
        preprocessing=meta["preprocessing"],
        details=dict(meta.get("details") or {}),
        **arrays,
    )


def _map_npy(directory: Path, name: str, populate: bool, expected: tuple[int, str] | None) -> np.ndarray:
    """A read-only view of a ``.npy`` file's array, mapped shared (never copied), checked
    against ``expected`` (size, digest) first."""
    path = _file(directory, name)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if expected is not None and size != expected[0]:
                raise DamagedCopyError(directory, f"{name}.npy has {size} bytes, {expected[0]} when written")
            flags = mmap.MAP_SHARED | (getattr(mmap, "MAP_POPULATE", 0) if populate else 0)
            mapped = mmap.mmap(handle.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
            if expected is not None and _digest(mapped) != expected[1]:
                raise DamagedCopyError(directory, f"{name}.npy is not what was written (its {HASH} digest differs)")
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
    except OSError as exc:
        raise DamagedCopyError(directory, f"{name}.npy cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise DamagedCopyError(directory, f"{name}.npy is not a readable array: {exc}") from None
    if dtype.hasobject or fortran:
        raise DamagedCopyError(directory, f"{name}.npy is not a plain C-ordered array")
    count = int(np.prod(shape, dtype=np.int64))
    if offset + count * dtype.itemsize > size:
        raise DamagedCopyError(directory, f"{name}.npy is shorter than its header says")
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
    name: str,
    preprocessing: str,
    stats: dict[str, list[int]],
    *,
    root: Path | None = None,
    notice: Notice | None = None,
) -> Path | None:
    """An intact prepared copy made from exactly these unchanged source files, if the cache has one.

    The copy found is verified (:func:`verify`) and held (:func:`hold`); a damaged one is
    removed, ``notice`` (default: a line on stderr) is told, and ``None`` returned, so that the
    caller rebuilds it from the source.
    """
    root = root or cache_root()
    if not root.is_dir():
        return None
    _remove_stale(root)
    for entry in sorted(root.iterdir()):
        meta_path = entry / "meta.json"
        if entry.name.startswith("."):
            continue
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if not (
            isinstance(meta, dict)
            and meta.get("format") == FORMAT
            and meta.get("name") == name
            and meta.get("preprocessing") == preprocessing
            and stats in _known_sources(entry, meta)
        ):
            continue
        if not hold(entry):
            continue  # pruned meanwhile
        try:
            verify(entry)
        except DamagedCopyError as exc:
            _discard(entry, exc.reason, notice)
            return None
        with contextlib.suppress(OSError):
            os.utime(meta_path)
        return entry
    return None
