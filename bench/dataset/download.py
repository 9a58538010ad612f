"""Fetch and unpack the official CIFAR-10 archive, carefully.

* The download goes to ``<name>.part`` and is renamed only once its md5 matches; a failed
  or interrupted download leaves at most that ``.part`` file, which the next attempt
  resumes with an HTTP Range request (starting over if the server ignores the range).
* Every socket operation has a timeout. A progress bar (tqdm) goes to stderr when it is a
  terminal.
* The archive's md5 is checked before anything is extracted. Extraction refuses absolute
  names, ``..``, anything that would land outside the target, and every member that is not
  a regular file or a directory (links, devices, fifos). It unpacks into a temporary
  directory next to the target and renames the result into place, so a failure leaves no
  half-extracted directory behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from bench.dataset.checksums import PYTHON_ARCHIVE, Archive
from bench.errors import DataError

if TYPE_CHECKING:
    from tqdm import tqdm

DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 20
_USER_AGENT = "bench-dataset/1 (+python urllib)"


def ensure_cifar10(root: Path, archive: Archive = PYTHON_ARCHIVE, *, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Download ``archive`` into ``root``, verify it, extract it, and return the data directory.

    The archive is deleted afterwards, also when its contents were refused.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data directory {root}: {exc.strerror or exc}") from None
    if (root / archive.directory).exists():
        raise DataError(
            f"{root / archive.directory} exists but is not a complete CIFAR-10 copy; remove it and run again"
        )
    tarball = root / archive.filename
    download(archive.url, tarball, md5=archive.md5, timeout=timeout)
    try:
        return extract_archive(tarball, root, archive.directory)
    finally:
        tarball.unlink(missing_ok=True)  # extracted, or refused: either way not needed again


def download(url: str, dest: Path, *, md5: str, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right md5 is already there."""
    if dest.is_file():
        if _file_md5(dest) == md5.lower():
            return dest
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    with contextlib.suppress(_RangeNotSatisfiable):  # the .part file is already whole; the md5 decides
        _fetch(url, part, timeout)
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


def _fetch(url: str, part: Path, timeout: float) -> None:
    """Stream ``url`` into ``part``, resuming from its current size if the server allows."""
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            raise _RangeNotSatisfiable from None
        raise DataError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"could not download {url}: {reason}; check the network or pass --data-dir") from None

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
        received = offset
        with open(part, mode) as out, _progress(total, offset, part.name[: -len(".part")]) as bar:
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise _interrupted(url, received, exc) from None
    if total is not None and received < total:
        raise _interrupted(url, received, f"connection closed at {received} of {total} bytes")


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
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    _extract_member(tar, member, staging)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"cannot extract {archive}: {exc}") from None
        extracted = staging / directory
        if not extracted.is_dir():
            raise DataError(f"{archive} holds no {directory}/ directory")
        os.replace(extracted, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


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
