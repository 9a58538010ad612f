"""Run the real ``bench`` command under hostile local conditions: a file size limit, a memory
limit, a full or read-only file system, and a stand-in for the official archive.

* ``rlimits``: RLIMIT_FSIZE makes writes past N bytes fail with EFBIG (SIGXFSZ is ignored so
  the write returns the error instead of killing the process); RLIMIT_AS turns a runaway read
  into a MemoryError instead of eating the machine's memory.
* ``in_mount_namespace``: the command runs in a private user and mount namespace
  (``unshare -rm``) with a small tmpfs mounted at a directory, read-only or full. Nothing is
  mounted outside that namespace, so nothing needs unmounting; where unprivileged namespaces
  are not allowed the test is skipped.
* ``official_archive_is``: the real command with the official archive's md5 and size (and, if
  given, the official per-file md5s) replaced by those of a small test archive, through a
  ``sitecustomize`` module on the child's ``PYTHONPATH``. Everything else is the shipped code.
"""

from __future__ import annotations

import functools
import io
import json
import pickle
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

CLASS_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
PY_FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]


LAUNCHER = Path(__file__).with_name("launch.py")


def rlimits(*, fsize: int | None = None, address_space: int | None = None) -> list[str]:
    """A command prefix setting the limits (and SIGINT to default, as the ``bench`` fixture
    does) before it execs the command (:mod:`launch`, no ``preexec_fn``)."""
    limits = [f"fsize={fsize}"] * (fsize is not None) + [f"as={address_space}"] * (address_space is not None)
    return [sys.executable, str(LAUNCHER), *limits, "--"]


def run_bench(bench, *args: str, limits: list[str] | None = None, timeout: float = 60,
              prefix: list[str] | None = None, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """``bench ARGS`` like the fixture does, with ``limits`` (:func:`rlimits`) and an optional
    command prefix."""
    return subprocess.run(
        [*(prefix or []), *(limits or []), *bench.args(*args)],
        cwd=bench.cwd, env=bench.environment(**extra_env), capture_output=True, text=True, timeout=timeout,
    )


@functools.cache
def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt || "
                            "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True, timeout=30)
    return probe.returncode == 0


def in_mount_namespace(directory: Path, *, options: str, fill: bool = False) -> list[str]:
    """A command prefix: run in a new mount namespace with a tmpfs (``options``) at ``directory``.

    ``fill``: write zeros until the tmpfs is full before the command starts. What the tmpfs
    holds when the command ends (the filler left out) is written, one name a line, to
    ``listing_of(directory)``, since the tmpfs itself goes with the namespace.
    """
    if not _namespaces_work():
        pytest.skip("needs unshare -rm and tmpfs mounts in a user namespace")
    directory.mkdir(parents=True, exist_ok=True)
    script = 'dir="$2"; list="$3"; mount -t tmpfs -o "$1" tmpfs "$dir" || exit 97; '
    if fill:
        script += 'cat /dev/zero > "$dir/.filler" 2>/dev/null; [ -s "$dir/.filler" ] || exit 98; '
    script += 'shift 3; "$@"; rc=$?; ls -A "$dir" | grep -vx .filler > "$list"; exit $rc'
    return ["unshare", "-rm", "sh", "-c", script, "sh", options, str(directory), str(listing_of(directory))]


def listing_of(directory: Path) -> Path:
    """Where :func:`in_mount_namespace` writes what was left in ``directory``."""
    return directory.with_name(directory.name + ".listing")


def left_in(directory: Path) -> list[str]:
    return listing_of(directory).read_text().split()


# -- a small stand-in for the official archive ------------------------------------------------

def _pickle(obj: object) -> bytes:
    # Protocol 4 stores bytes natively and arrays through numpy's _reconstruct, like the
    # official (protocol 2, Python 2) files: both are what bench's restricted unpickler admits.
    return pickle.dumps(obj, protocol=4)


def fake_python_files(images_per_batch: int = 8, seed: int = 0) -> dict[str, bytes]:
    """The seven python-version files, small: name -> bytes."""
    rng = np.random.default_rng(seed)
    files = {}
    for name in PY_FILES[:-1]:
        data = rng.integers(0, 256, size=(images_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=images_per_batch)]
        files[name] = _pickle({b"batch_label": name.encode(), b"labels": labels, b"data": data})
    files["batches.meta"] = _pickle({b"num_cases_per_batch": images_per_batch, b"label_names": CLASS_NAMES})
    return files


def tarball(files: dict[str, bytes], directory: str = "cifar-10-batches-py") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(directory)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for name, data in files.items():
            member = tarfile.TarInfo(f"{directory}/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return buf.getvalue()


_SITECUSTOMIZE = '''
"""Test stand-in: the official CIFAR-10 archive (and files) are the test's small ones."""
import json
import os
from types import MappingProxyType

import bench.dataset.checksums as cs

_spec = json.loads(os.environ["BENCH_TEST_OFFICIAL"])
for _key in ("md5", "size"):
    if _key in _spec:
        object.__setattr__(cs.PYTHON_ARCHIVE, _key, _spec[_key])  # the same object everywhere
if "files" in _spec:
    cs.OFFICIAL_MD5 = MappingProxyType({**cs.OFFICIAL_MD5, **_spec["files"]})
'''


def official_archive_is(bench, *, md5: str | None = None, size: int | None = None,
                        files: dict[str, str] | None = None) -> None:
    """Make the child see ``md5``/``size`` as the official archive's (and ``files`` as the
    official per-file md5s)."""
    bench.site.mkdir(exist_ok=True)
    (bench.site / "sitecustomize.py").write_text(textwrap.dedent(_SITECUSTOMIZE))
    spec: dict[str, object] = {}
    if md5 is not None:
        spec["md5"] = md5
    if size is not None:
        spec["size"] = size
    if files is not None:
        spec["files"] = files
    bench.env["BENCH_TEST_OFFICIAL"] = json.dumps(spec)
