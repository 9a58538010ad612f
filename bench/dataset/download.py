"""Fetch and unpack the official CIFAR-10 archive, carefully.

* One process at a time: the download and extraction run under a lock in the data directory
  (:mod:`bench.dataset.lock`); processes that start meanwhile wait, then use what the first
  one unpacked.
* The download goes to ``<name>.part`` and is renamed only once its md5 matches; a failed
  or interrupted download leaves at most that ``.part`` file, which the next attempt
  resumes with an HTTP Range request (starting over if the server ignores the range).
* Limits: every socket operation has a timeout; the whole download has a deadline and a
  minimum rate (:class:`Limits`, settable through ``BENCH_DOWNLOAD_*``); and no download may
  be larger than the official archive, so an endless or oversized response cannot fill the
  disk. A progress bar (tqdm) goes to stderr when it is a terminal.
* Local failures (a read-only directory, a full disk, a file size limit) are named as such,
  never as an interrupted download. Directories created for a download that fails are removed
  again when nothing worth keeping is in them.
* The archive's md5 is checked before anything is extracted. Extraction refuses absolute
  names, ``..``, anything that would land outside the target, and every member that is not
  a regular file or a directory (links, devices, fifos). It unpacks into a temporary
  directory next to the target and renames the result into place, so a failure leaves no
  half-extracted directory behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import math
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING

from bench.dataset.checksums import PYTHON_ARCHIVE, Archive
from bench.dataset.lock import directory_lock
from bench.errors import DataError, UsageError

if TYPE_CHECKING:
    from tqdm import tqdm

DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 20
_USER_AGENT = "bench-dataset/1 (+python urllib)"
ENV_URL = "BENCH_CIFAR10_URL"
_LOCAL_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
ENV_LIMITS: Mapping[str, str] = MappingProxyType(
    {
        "deadline": "BENCH_DOWNLOAD_DEADLINE",
        "min_rate": "BENCH_DOWNLOAD_MIN_RATE",
        "rate_window": "BENCH_DOWNLOAD_RATE_WINDOW",
    }
)
"""The environment variables that set each of :class:`Limits`' fields."""


@dataclass(frozen=True)
class Limits:
    """How long a download may take and how slow it may get.

    ``deadline``: seconds for the whole download (checked between reads, so it can be passed
    by at most one socket timeout). ``min_rate``: bytes per second, averaged over each
    ``rate_window`` seconds, below which the download is given up (0: no minimum). Either
    way the ``.part`` file stays, and the next run resumes it.
    """

    deadline: float = 3600.0
    min_rate: float = 10 * 1024
    rate_window: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, overridden by ``BENCH_DOWNLOAD_DEADLINE`` (s), ``BENCH_DOWNLOAD_MIN_RATE``
        (bytes/s) and ``BENCH_DOWNLOAD_RATE_WINDOW`` (s); a bad value is a UsageError."""
        environ = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for field, name in ENV_LIMITS.items():
            text = environ.get(name, "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and (value >= 0 if field == "min_rate" else value > 0)):
                kind = "a number >= 0" if field == "min_rate" else "a number of seconds > 0"
                raise UsageError(f"{name} must be {kind}, got {text!r}")
            values[field] = value
        return cls(**values)


def check_url(url: str, what: str = "download URL") -> str:
    """``url`` if it is an http(s) URL with a host (and a valid port); else a UsageError."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number in 0..65535
        host = parts.hostname
    except ValueError as exc:
        raise UsageError(f"{what} {url!r} is not a usable URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host or port == 0:
        raise UsageError(f"{what} {url!r} is not a usable URL (expected http:// or https:// and a host name)")
    return url


def ensure_cifar10(
    root: Path,
    archive: Archive = PYTHON_ARCHIVE,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    limits: Limits | None = None,
) -> Path:
    """Download ``archive`` into ``root``, verify it, extract it, and return the data directory.

    Runs under the data directory's lock; when another process has unpacked the data while
    this one waited, that copy is used. The archive is deleted afterwards, also when its
    contents were refused (but kept when extraction ran out of space, for the next run).
    """
    limits = limits or Limits.from_env()
    check_url(archive.url)
    created: list[Path] = []
    try:
        with directory_lock(root, wait=limits.deadline + 600, prepare=lambda: _make_dirs(root, created)):
            return _fetch_and_unpack(root, archive, timeout, limits)
    except BaseException:
        _remove_empty(created)
        raise


def _fetch_and_unpack(root: Path, archive: Archive, timeout: float, limits: Limits) -> Path:
    """The work of :func:`ensure_cifar10`, done while holding the lock."""
    from bench.dataset.cifar10 import find_layout  # here: cifar10 is heavy and a download needs it once

    layout = find_layout(root)
    if layout is not None:  # another process put it there while this one waited
        return layout.path
    if (root / archive.directory).exists():
        raise DataError(
            f"{root / archive.directory} exists but is not a complete CIFAR-10 copy; remove it and run again"
        )
    tarball = root / archive.filename
    download(archive.url, tarball, md5=archive.md5, size=archive.size, timeout=timeout, limits=limits)
    try:
        path = extract_archive(tarball, root, archive.directory)
    except _NoSpace:
        raise  # the verified archive stays: the next run extracts it without downloading again
    except BaseException:
        tarball.unlink(missing_ok=True)  # refused: not needed again
        raise
    tarball.unlink(missing_ok=True)
    return path


def _make_dirs(root: Path, created: list[Path]) -> None:
    """``mkdir -p root``, remembering (in ``created``) each directory this call made."""
    missing = []
    for directory in (root, *root.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # made by another process meanwhile: not ours to remove
        except OSError as exc:
            raise DataError(f"cannot create the data directory {root}: {exc.strerror or exc}") from None
        created.append(directory)
    if not root.is_dir():
        raise DataError(f"cannot create the data directory {root}: it exists and is not a directory")


def _remove_empty(created: list[Path]) -> None:
    """Remove the directories bench created, deepest first, as long as they are empty."""
    for directory in sorted(set(created), key=lambda p: len(p.parts), reverse=True):
        try:
            directory.rmdir()
        except OSError:
            return  # not empty (a .part to resume, another process's lock): keep it and its parents


def download(
    url: str,
    dest: Path,
    *,
    md5: str,
    size: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    limits: Limits | None = None,
) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right md5 is already there.

    ``size``: the expected size in bytes; a larger download is refused and deleted.
    """
    check_url(url)
    limits = limits or Limits.from_env()
    if dest.is_file():
        if (size is None or dest.stat().st_size == size) and _file_md5(dest) == md5.lower():
            return dest
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    with contextlib.suppress(_RangeNotSatisfiable):  # the .part file is already whole; the md5 decides
        _fetch(url, part, timeout, size, limits)
    actual = _file_md5(part)
    if actual != md5.lower():
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {url}: expected md5 {md5}, got {actual}; "
            "the download was deleted, run again to retry"
        )
    os.replace(part, dest)
    return dest


class _RangeNotSatisfiable(Exception):
    """HTTP 416 on a resume: the partial file already holds everything."""


class _NoSpace(DataError):
    """Extraction ran out of space (or hit a size limit): the verified archive is worth keeping."""


def _fetch(url: str, part: Path, timeout: float, size: int | None, limits: Limits) -> None:
    """Stream ``url`` into ``part``, resuming from its current size if the server allows."""
    offset = part.stat().st_size if part.is_file() else 0
    if size is not None and offset > size:  # cannot be the start of the archive
        part.unlink()
        offset = 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=min(timeout, limits.deadline))
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            raise _RangeNotSatisfiable from None
        raise DataError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"could not download {url}: {reason}; check the network, set {ENV_URL} to a mirror of the "
            "official archive, pass --data-dir to a copy you have, or use --dataset synthetic"
        ) from None

    with response:
        if offset and response.status == 206:
            if _range_start(response.headers.get("Content-Range")) != offset:
                part.unlink(missing_ok=True)
                raise DataError(
                    f"{url} answered the resume with the wrong range; the partial file was removed, run again"
                )
            mode = "ab"
        else:
            offset, mode = 0, "wb"  # no resume: the server sent the whole file
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        if size is not None and total is not None and total > size:
            if mode == "wb":
                part.unlink(missing_ok=True)
            raise DataError(
                f"{url} offers {total} bytes, more than the official archive's {size}; refusing to download it"
            )
        received = _stream(response, url, part, mode, offset, total, size, limits)
    if total is not None and received < total:
        raise _interrupted(url, received, f"connection closed at {received} of {total} bytes")


def _stream(
    response: http.client.HTTPResponse,
    url: str,
    part: Path,
    mode: str,
    offset: int,
    total: int | None,
    size: int | None,
    limits: Limits,
) -> int:
    """Copy the body into ``part`` within ``limits`` and ``size``; return the bytes now in it."""
    try:
        out = open(part, mode, buffering=0)  # noqa: SIM115 - closed below; unbuffered: errors surface at write
    except OSError as exc:
        raise DataError(f"cannot write {part}: {exc.strerror or exc}") from None
    received = offset
    start = window_start = time.monotonic()
    window_bytes = 0
    try:
        with out, _progress(total, offset, part.name[: -len(".part")]) as bar:
            while True:
                try:
                    chunk = response.read1(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _interrupted(url, received, exc) from None
                if not chunk:
                    break
                if size is not None and received + len(chunk) > size:
                    raise _TooLarge
                try:
                    _write_all(out, chunk)
                except OSError as exc:
                    raise _write_error(part, received, total, exc) from None
                received += len(chunk)
                window_bytes += len(chunk)
                bar.update(len(chunk))
                now = time.monotonic()
                if now - start > limits.deadline:
                    raise DataError(
                        f"download of {url} passed its deadline of {limits.deadline:g} s after {received} bytes "
                        f"(set {ENV_LIMITS['deadline']} to allow longer); run again to resume"
                    )
                if now - window_start >= limits.rate_window:
                    rate = window_bytes / (now - window_start)
                    if rate < limits.min_rate:
                        raise DataError(
                            f"download of {url} is too slow: {rate:.0f} bytes/s over the last "
                            f"{now - window_start:.1f} s, below the minimum of {limits.min_rate:g} bytes/s "
                            f"(set {ENV_LIMITS['min_rate']} to change it); run again to resume"
                        )
                    window_start, window_bytes = now, 0
    except _TooLarge:
        part.unlink(missing_ok=True)
        raise DataError(
            f"{url} sent more than the {size} bytes of the official archive; "
            "stopped and deleted the download (is the URL a mirror of the official archive?)"
        ) from None
    except BaseException:
        if part.exists() and part.stat().st_size == 0:
            part.unlink()  # nothing worth resuming
        raise
    return received


class _TooLarge(Exception):
    pass


def _write_all(out: object, data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file (whose writes may be partial)."""
    view = memoryview(data)
    while view:
        written = out.write(view)  # type: ignore[attr-defined]  # a raw binary file
        if not written:
            raise OSError(errno.EIO, "write returned nothing")
        view = view[written:]


def _write_error(part: Path, received: int, total: int | None, exc: OSError) -> DataError:
    got = f"{received} of {total}" if total is not None else f"{received}"
    if exc.errno == errno.ENOSPC:
        return DataError(
            f"no space left on device for {part} ({got} bytes written); free some space in {part.parent} "
            "(CIFAR-10 needs about 350 MB while it is unpacked, 180 MB after) and run again to resume"
        )
    if exc.errno == errno.EDQUOT:
        return DataError(
            f"disk quota exceeded writing {part} ({got} bytes written); free some space and run again to resume"
        )
    if exc.errno == errno.EFBIG:
        return DataError(
            f"cannot write {part} past {received} bytes: File too large (a file size limit, see ulimit -f, "
            "or the file system's); run again to resume"
        )
    return DataError(f"cannot write {part} ({got} bytes written): {exc.strerror or exc}; run again to resume")


def _interrupted(url: str, received: int, reason: object) -> DataError:
    return DataError(
        f"download of {url} interrupted after {received} bytes ({reason or type(reason).__name__}); run again to resume"
    )


def _range_start(content_range: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-", content_range or "")
    return int(match.group(1)) if match else None


def _progress(total: int | None, initial: int, name: str) -> tqdm:
    from tqdm import tqdm  # imported here: only a download needs it

    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=False,
    )


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(4 * _CHUNK):
            digest.update(block)
    return digest.hexdigest()


def extract_archive(archive: Path, parent: Path, directory: str) -> Path:
    """Safely extract ``archive`` and move its ``directory/`` to ``parent / directory``."""
    final = parent / directory
    if final.exists():
        raise DataError(f"{final} exists but is not a complete CIFAR-10 copy; remove it and run again")
    try:
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=parent))
    except OSError as exc:
        raise _extract_error(archive, parent, exc) from None
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    _extract_member(tar, member, staging)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise _extract_error(archive, parent, exc) from None
        extracted = staging / directory
        if not extracted.is_dir():
            raise DataError(f"{archive} holds no {directory}/ directory")
        os.replace(extracted, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _extract_error(archive: Path, parent: Path, exc: BaseException) -> DataError:
    code = getattr(exc, "errno", None)
    if code in _LOCAL_WRITE_ERRORS:
        what = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}.get(
            code, "File too large (a file size limit)"
        )
        return _NoSpace(
            f"{what} while extracting {archive} into {parent} (CIFAR-10 needs about 180 MB unpacked); "
            "the verified archive was kept: free some space and run again"
        )
    return DataError(f"cannot extract {archive}: {exc}")


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    """Write one regular file or directory under ``root``; refuse anything else."""
    name = member.name
    where = f"unsafe archive member {name!r}"
    path = PurePosixPath(name)
    if not name or path.is_absolute() or name.startswith("\\") or re.match(r"^[A-Za-z]:", name):
        raise DataError(f"{where}: absolute path")
    if ".." in path.parts or "\\" in name:
        raise DataError(f"{where}: contains '..' or a backslash")
    if not (member.isreg() or member.isdir()):
        raise DataError(f"{where}: not a regular file or directory (link, device or fifo)")
    dest = root.joinpath(*path.parts)
    if not dest.resolve().is_relative_to(root.resolve()):
        raise DataError(f"{where}: escapes the target directory")
    if member.isdir():
        dest.mkdir(parents=True, exist_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - isreg() members always have data
        raise DataError(f"{where}: no data")
    with source, open(dest, "wb") as out:
        shutil.copyfileobj(source, out, _CHUNK)
    os.chmod(dest, 0o644)
