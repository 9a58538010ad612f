"""Reading the parameter snapshots a worker leaves (``parity.npz``, ``final.npz``), with limits.

A worker runs plugin code, so its files are untrusted input: a file that is not a zip of
``.npy`` arrays, an object array, a member whose header declares more than the limit (a
small file of compressed zeros that would unpack to gigabytes), or a total above it is a
:class:`SnapshotError`, which fails that row only. Sizes are read from the zip directory
and each array's header before any array data is read.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

MAX_SNAPSHOT_BYTES = 2 * 2**30
"""The most a snapshot may hold, its arrays' data unpacked (and the most its file may take)."""
MAX_ARRAYS = 100_000


class SnapshotError(ValueError):
    """A snapshot file that cannot be read as the parameters of a row."""


def load_snapshot(path: Path, limit: int = MAX_SNAPSHOT_BYTES) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file ``path``, checked: numbers only, at most ``limit`` bytes."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise SnapshotError(f"{path.name} takes {size} bytes, more than the limit of {limit}")
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARRAYS:
                raise SnapshotError(f"{path.name} holds {len(members)} arrays, more than {MAX_ARRAYS}")
            declared = sum(member.file_size for member in members)
            if declared > limit:
                raise SnapshotError(f"{path.name} unpacks to {declared} bytes, more than the limit of {limit}")
            return {_name(member): _read_array(archive, member, path.name) for member in members}
    except SnapshotError:
        raise
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, RuntimeError) as exc:
        raise SnapshotError(f"{path.name} is not a readable .npz file ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from None


def _name(member: zipfile.ZipInfo) -> str:
    return member.filename[: -len(".npy")] if member.filename.endswith(".npy") else member.filename


def _read_array(archive: zipfile.ZipFile, member: zipfile.ZipInfo, where: str) -> np.ndarray:
    if not member.filename.endswith(".npy"):
        raise SnapshotError(f"{where}: {member.filename[:80]!r} is not an .npy array")
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise SnapshotError(f"{where}: {member.filename[:80]!r} has an unknown .npy version")
        if dtype.hasobject or dtype.kind not in "biuf":
            raise SnapshotError(f"{where}: {member.filename[:80]!r} holds {dtype} values, not numbers")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > member.file_size:
            raise SnapshotError(f"{where}: {member.filename[:80]!r} declares more data than it holds")
        data = handle.read(nbytes)
        if len(data) != nbytes:
            raise SnapshotError(f"{where}: {member.filename[:80]!r} is cut short")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()
