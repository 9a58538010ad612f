"""Small hand-made CIFAR-10 copies in both official formats, with their own md5 manifests."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_NAMES = [f"data_batch_{i}" for i in range(1, 6)]


class Py2Pickler(pickle._Pickler):  # the pure-Python pickler, so its dispatch table can be changed
    """Protocol 2 as Python 2's cPickle wrote it: bytes and str as (SHORT_)BINSTRING."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_binstring(self, obj: bytes | str) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_binstring
    dispatch[str] = save_binstring


def py2_dumps(obj: object, numpy_module: str = "numpy.core.multiarray") -> bytes:
    """Pickle ``obj`` like the official files (``numpy.core.multiarray._reconstruct`` by default)."""
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue()
    return data.replace(b"cnumpy._core.multiarray\n", f"c{numpy_module}\n".encode())


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class FakeCifar:
    """What was written: the directory, the arrays, and an md5 manifest of every file."""

    directory: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    manifest: dict[str, str] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        return self.directory / name


def make_arrays(sizes: list[int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per batch: images whose R, G and B planes are distinguishable, and labels 0..9."""
    rng = np.random.default_rng(seed)
    batches = []
    for n in sizes:
        images = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        images[:, 0] = 11  # first red pixel
        images[:, 1024] = 22  # first green pixel
        images[:, 2048] = 33  # first blue pixel
        labels = rng.integers(0, 10, size=n).astype(np.int64)
        batches.append((images, labels))
    return batches


def write_python(
    directory: Path, sizes: list[int] | None = None, seed: int = 0, numpy_module: str = "numpy.core.multiarray"
) -> FakeCifar:
    """Write ``data_batch_1..5``, ``test_batch`` and ``batches.meta`` (python version)."""
    sizes = sizes or [4, 4, 4, 4, 4, 5]
    directory.mkdir(parents=True, exist_ok=True)
    batches = make_arrays(sizes, seed)
    manifest = {}
    for i, (name, (images, labels)) in enumerate(zip([*TRAIN_NAMES, "test_batch"], batches, strict=True)):
        label = f"training batch {i + 1} of 5" if name != "test_batch" else "testing batch 1 of 1"
        obj = {
            b"batch_label": label.encode(),
            b"labels": [int(v) for v in labels],
            b"data": images,
            b"filenames": [f"img_{i}_{j}.png".encode() for j in range(len(labels))],
        }
        manifest[name] = _write(directory / name, py2_dumps(obj, numpy_module))
    meta = {b"num_cases_per_batch": sizes[0], b"label_names": [n.encode() for n in CLASS_NAMES], b"num_vis": 3072}
    manifest["batches.meta"] = _write(directory / "batches.meta", py2_dumps(meta))
    return _fake(directory, batches, manifest)


def write_binary(directory: Path, sizes: list[int] | None = None, seed: int = 0) -> FakeCifar:
    """Write ``data_batch_1..5.bin``, ``test_batch.bin`` and ``batches.meta.txt`` (binary version)."""
    sizes = sizes or [4, 4, 4, 4, 4, 5]
    directory.mkdir(parents=True, exist_ok=True)
    batches = make_arrays(sizes, seed)
    manifest = {}
    for name, (images, labels) in zip([*TRAIN_NAMES, "test_batch"], batches, strict=True):
        records = np.concatenate([labels.astype(np.uint8)[:, None], images], axis=1)
        manifest[f"{name}.bin"] = _write(directory / f"{name}.bin", records.tobytes())
    _write(directory / "batches.meta.txt", ("\n".join(CLASS_NAMES) + "\n\n").encode())
    return _fake(directory, batches, manifest)  # like the official manifest: no md5 for the meta


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return md5(data)


def _fake(directory: Path, batches: list[tuple[np.ndarray, np.ndarray]], manifest: dict[str, str]) -> FakeCifar:
    return FakeCifar(
        directory=directory,
        train_images=np.concatenate([b[0] for b in batches[:5]]),
        train_labels=np.concatenate([b[1] for b in batches[:5]]),
        test_images=batches[5][0],
        test_labels=batches[5][1],
        manifest=manifest,
    )
