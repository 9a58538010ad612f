"""Read the official CIFAR-10 files (python or binary version), verified and unpickled safely.

Each known file is read into memory once, its md5 is checked against the manifest, and only
then are those same bytes parsed. Pickles go through :class:`RestrictedUnpickler`, which
resolves exactly the numpy globals that the official batches use and refuses everything else,
so a tampered pickle cannot run code even if its checksum was (wrongly) accepted.

Before anything is read, each file must be a regular file (after following symlinks) no
larger than its official size, so a FIFO, a device or a huge sparse file is refused at once
instead of blocking or filling memory. Files that have no md5 in the manifest
(``batches.meta.txt`` of the binary version has no published one) are checked structurally
only: ``.bin`` files must be whole 3073-byte records with labels below ten, and the class list
must be exactly the ten official names in their official order.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import time
from collections import deque
from collections.abc import Generator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from bench.dataset import checksums as cs
from bench.dataset import memory
from bench.errors import DataError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]  # numpy < 2 names it here

IMAGE_BYTES = 3072
RECORD_BYTES = 1 + IMAGE_BYTES

_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


@dataclass(frozen=True)
class Layout:
    """Where a CIFAR-10 copy lies and which version it is (``"python"`` or ``"binary"``)."""

    format: str
    path: Path

    @property
    def train_files(self) -> tuple[str, ...]:
        return cs.PY_TRAIN_FILES if self.format == "python" else cs.BIN_TRAIN_FILES

    @property
    def test_file(self) -> str:
        return cs.PY_TEST_FILE if self.format == "python" else cs.BIN_TEST_FILE

    @property
    def meta_file(self) -> str:
        return cs.PY_META_FILE if self.format == "python" else cs.BIN_META_FILE

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file, self.meta_file)


@dataclass
class RawCifar10:
    """CIFAR-10 as stored: uint8 rows (R plane, G plane, B plane) and int64 labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    layout: Layout
    md5: dict[str, str] = field(default_factory=dict)
    """File name to md5, for every file that matched the manifest."""
    structural_only: list[str] = field(default_factory=list)
    """Files the manifest has no md5 for, checked by their structure only."""
    seconds: float = 0.0


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the numpy globals a CIFAR-10 batch needs."""

    def __init__(self, file: Any, *, label: str = "pickle") -> None:
        super().__init__(file, encoding="bytes")
        self._label = label

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._label}: refused to unpickle global {module}.{name} "
                "(only numpy array reconstruction is allowed in CIFAR-10 files)"
            ) from None

    def persistent_load(self, pid: object) -> object:
        raise DataError(f"{self._label}: refused a persistent id in the pickle")


class _BytesReader:
    """A read-only file over bytes whose reads are zero-copy memoryview slices.

    The C unpickler accepts any buffer from ``read``; unlike ``io.BytesIO`` this saves one
    copy of each 30 MB image array.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._view = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> memoryview:
        end = len(self._data) if n < 0 else min(self._pos + n, len(self._data))
        chunk = self._view[self._pos : end]
        self._pos = end
        return chunk

    def readline(self) -> memoryview:
        end = self._data.find(b"\n", self._pos)
        return self.read(-1 if end < 0 else end + 1 - self._pos)


def restricted_loads(data: bytes, label: str = "pickle") -> object:
    """Unpickle ``data`` (a Python-2 pickle) allowing only numpy array globals."""
    try:
        return RestrictedUnpickler(_BytesReader(data), label=label).load()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure means a corrupt file
        raise DataError(f"{label}: not a readable CIFAR-10 pickle ({type(exc).__name__}: {exc})") from None


def md5_hex(data: bytes | memoryview) -> str:
    """md5 of bytes already in memory (hashlib drops the GIL for large buffers)."""
    return hashlib.md5(data).hexdigest()


def file_md5(path: Path, chunk: int = 1 << 22) -> str:
    """md5 of a known CIFAR-10 file, read in 4 MiB chunks (refused unread, like
    :func:`read_file`, if it is not a regular file of at most its official size)."""
    digest = hashlib.md5()
    limit = cs.MAX_BYTES.get(path.name)
    read = 0
    with open_data_file(path) as f:
        while block := f.read(chunk):
            read += len(block)
            if limit is not None and read > limit:
                raise _too_large(path, read, limit)
            digest.update(block)
    return digest.hexdigest()


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a plain file")


def _check_stat(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        target = os.path.realpath(path)
        via = f", via a symlink to {target}" if target != os.path.abspath(path) else ""
        raise DataError(f"{path} is not a regular file ({_kind(st.st_mode)}{via}); refusing to read it")
    limit = cs.MAX_BYTES.get(path.name)
    if limit is not None and st.st_size > limit:
        raise _too_large(path, st.st_size, limit)


def _too_large(path: Path, size: int, limit: int) -> DataError:
    return DataError(f"{path} is {size} bytes, more than the official file's {limit}; refusing to read it")


def open_data_file(path: Path) -> BinaryIO:
    """Open a CIFAR-10 file for reading once it is known to be a regular file of at most its
    official size (:data:`checksums.MAX_BYTES`); anything else is a DataError naming it.

    The type is checked with ``stat`` before opening (a device is never opened) and again on
    the open descriptor; the open is non-blocking, so a FIFO swapped in between cannot hang.
    """
    try:
        _check_stat(path, os.stat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise DataError(f"CIFAR-10 file missing: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        _check_stat(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_file(path: Path) -> bytes:
    """The bytes of a CIFAR-10 file, read whole after the checks of :func:`open_data_file`."""
    limit = cs.MAX_BYTES.get(path.name)
    with open_data_file(path) as f:
        try:
            data = f.read() if limit is None else f.read(limit + 1)
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if limit is not None and len(data) > limit:  # it grew after the check
        raise _too_large(path, len(data), limit)
    return data


def find_layout(directory: Path | str) -> Layout | None:
    """Return the CIFAR-10 copy in ``directory`` (the files themselves, or a
    ``cifar-10-batches-py/`` / ``cifar-10-batches-bin/`` inside it), or None.

    The python version wins when both are present. A directory counts when it holds the
    version's first training batch (whatever kind of file it is: the loader then says what is
    wrong with it, rather than looking elsewhere).
    """
    directory = Path(directory)
    for fmt, sub, probe in (
        ("python", cs.PY_DIR, cs.PY_TRAIN_FILES[0]),
        ("binary", cs.BIN_DIR, cs.BIN_TRAIN_FILES[0]),
    ):
        for candidate in (directory, directory / sub):
            if os.path.lexists(candidate / probe):
                return Layout(fmt, candidate)
    return None


def read_verified(path: Path, checksums: Mapping[str, str]) -> tuple[bytes, str | None]:
    """Read ``path`` whole and check its md5 against ``checksums[path.name]``.

    Returns the bytes and the md5 (None when the manifest has no entry for the file).
    """
    data = read_file(path)
    expected = checksums.get(path.name)
    if expected is None:
        return data, None
    actual = md5_hex(data)
    if actual != expected.lower():
        raise DataError(f"checksum mismatch for {path}: expected md5 {expected}, got {actual}")
    return data, actual


def parse_python_batch(data: bytes, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3072) uint8 and labels (n,) int64 of one python-version batch."""
    obj = restricted_loads(data, label)
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        raise DataError(f"{label}: not a CIFAR-10 batch (expected a dict with b'data' and b'labels')")
    images, labels = obj[b"data"], obj[b"labels"]
    if (
        not isinstance(images, np.ndarray)
        or images.dtype != np.uint8
        or images.ndim != 2
        or images.shape[1] != IMAGE_BYTES
    ):
        raise DataError(f"{label}: b'data' must be a uint8 array of shape (n, {IMAGE_BYTES})")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{label}: b'labels' must be a list of integers") from None
    if labels.shape != (images.shape[0],):
        raise DataError(f"{label}: {labels.size} labels for {images.shape[0]} images")
    return images, labels


def parse_binary_batch(data: bytes, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3072) uint8 (a view into ``data``) and labels (n,) int64 of one ``.bin`` file."""
    if not data or len(data) % RECORD_BYTES:
        raise DataError(f"{label}: {len(data)} bytes is not a whole number of {RECORD_BYTES}-byte records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    return records[:, 1:], records[:, 0].astype(np.int64)


def parse_python_meta(data: bytes, label: str) -> list[str]:
    obj = restricted_loads(data, label)
    names = obj.get(b"label_names") if isinstance(obj, dict) else None
    return _class_names(names, label)


def parse_binary_meta(data: bytes, label: str) -> list[str]:
    lines = [line.strip() for line in data.split(b"\n")]
    return _class_names([line for line in lines if line], label)


def _class_names(names: object, label: str) -> list[str]:
    """The class list, which must be exactly CIFAR-10's ten names in the official order."""
    if not isinstance(names, list) or not names or not all(isinstance(n, bytes) and n.strip() for n in names):
        raise DataError(f"{label}: no list of class names")
    try:
        decoded = [n.decode("ascii").strip() for n in names]
    except UnicodeDecodeError:
        raise DataError(f"{label}: class names are not ASCII") from None
    if decoded != list(cs.CLASS_NAMES):
        shown = ", ".join(decoded[:12]) + (", ..." if len(decoded) > 12 else "")
        raise DataError(
            f"{label}: {len(decoded)} class names ({shown}); CIFAR-10 has exactly these ten, in this order: "
            + ", ".join(cs.CLASS_NAMES)
        )
    return decoded


def load_cifar10(
    directory: Path | str,
    checksums: Mapping[str, str] = cs.OFFICIAL_MD5,
    *,
    workers: int = 2,
) -> RawCifar10:
    """Load CIFAR-10 from ``directory`` (see :func:`find_layout`), verifying every file.

    ``checksums`` maps file names to md5s; a mismatch raises DataError naming the file and
    both md5s. Files are read and hashed by ``workers`` threads ahead of the parsing, and
    the training batches are copied straight into one preallocated array.
    """
    start = time.perf_counter()
    layout = find_layout(directory)
    if layout is None:
        raise DataError(
            f"no CIFAR-10 in {directory} (looked for {cs.PY_DIR}/ or {cs.BIN_DIR}/ or the batch files themselves)"
        )
    parse = parse_python_batch if layout.format == "python" else parse_binary_batch
    parse_meta = parse_python_meta if layout.format == "python" else parse_binary_meta
    md5: dict[str, str] = {}
    structural: list[str] = []
    class_names: list[str] = []

    train, test = _Rows(len(layout.train_files)), _Rows(1)
    paths = [layout.path / name for name in layout.files]
    with (
        ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cifar-read") as pool,
        closing(_prefetch(pool, paths, checksums, ahead=max(1, workers))) as blobs,
    ):
        for path, (data, digest) in zip(paths, blobs, strict=True):
            if digest is None:
                structural.append(path.name)
            else:
                md5[path.name] = digest
            if path.name == layout.meta_file:
                class_names = parse_meta(data, str(path))
            else:
                rows = train if path.name in layout.train_files else test
                rows.add(*parse(data, str(path)))
            del data
    train_images, train_labels = train.result()
    test_images, test_labels = test.result()
    raw = RawCifar10(
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        class_names=class_names,
        layout=layout,
        md5=md5,
        structural_only=structural,
    )
    _check_labels(raw)
    raw.seconds = time.perf_counter() - start
    return raw


def _prefetch(
    pool: ThreadPoolExecutor, paths: list[Path], checksums: Mapping[str, str], ahead: int
) -> Generator[tuple[bytes, str | None], None, None]:
    """Yield read_verified(path) in order, keeping at most ``ahead`` reads in flight."""
    pending: deque[Future[tuple[bytes, str | None]]] = deque()
    try:
        for path in paths:
            pending.append(pool.submit(read_verified, path, checksums))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


class _Rows:
    """Batches copied, as they come, into one preallocated C-contiguous array.

    The size is guessed from the first batch (the official batches are equal); a batch that
    does not fit grows the array, which only happens for unusual hand-made files.
    """

    def __init__(self, batches: int) -> None:
        self._batches = batches
        self._images: np.ndarray | None = None
        self._labels: list[np.ndarray] = []
        self._filled = 0

    def add(self, images: np.ndarray, labels: np.ndarray) -> None:
        n = images.shape[0]
        self._labels.append(labels)
        if self._batches == 1 and self._images is None:
            self._images = np.ascontiguousarray(images)  # no copy for an unpickled batch
            self._filled = n
            return
        if self._images is None:
            self._images = memory.empty((n * self._batches, IMAGE_BYTES), np.uint8)
        elif self._filled + n > self._images.shape[0]:
            grown = memory.empty((self._filled + n, IMAGE_BYTES), np.uint8)
            grown[: self._filled] = self._images[: self._filled]
            self._images = grown
        self._images[self._filled : self._filled + n] = images
        self._filled += n

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        images = self._images if self._images is not None else np.empty((0, IMAGE_BYTES), np.uint8)
        if self._filled < images.shape[0]:
            images = images[: self._filled].copy()
        labels = np.concatenate(self._labels) if self._labels else np.empty(0, np.int64)
        return images, labels


def _check_labels(raw: RawCifar10) -> None:
    n = len(raw.class_names)
    for split, labels in (("train", raw.train_labels), ("test", raw.test_labels)):
        if labels.size and (labels.min() < 0 or labels.max() >= n):
            raise DataError(f"{raw.layout.path}: {split} labels outside 0..{n - 1}")
