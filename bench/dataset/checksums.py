"""Official CIFAR-10 file names, archive URLs and md5 checksums.

Python version (``cifar-10-batches-py/``): the per-file md5s and the archive md5 are the
official ones (torchvision's ``CIFAR10`` lists the same values).

Binary version (``cifar-10-batches-bin/``): the six ``.bin`` md5s are published in
``prabhuomkar/pytorch-cpp`` (``cmake/fetch_cifar10.cmake``, the list checked after downloading
the official ``cifar-10-binary.tar.gz``). Their SHA-1s agree with ``apache/mxnet``
(``python/mxnet/gluon/data/vision/datasets.py``, class ``CIFAR10``), and both were
re-derived from the verified python-version batches (label byte + 3072 pixel bytes per
record), which gave exactly these md5s and SHA-1s. No public md5 of ``batches.meta.txt``
was found, so that file is checked structurally instead: exactly the ten official class names.

Sizes: the python files' sizes are those of the verified copies (each md5 matches the official
one); a ``.bin`` file is 10,000 records of 3073 bytes; the binary ``batches.meta.txt`` is 61
bytes in the official archive (the loader allows a little more for whitespace). The archive
sizes are the official archives' (``Content-Length`` of the official host, recorded by many
public download logs). A file or download larger than its official size is refused unread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

PY_DIR = "cifar-10-batches-py"
BIN_DIR = "cifar-10-batches-bin"

PY_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
PY_TEST_FILE = "test_batch"
PY_META_FILE = "batches.meta"

BIN_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
BIN_TEST_FILE = "test_batch.bin"
BIN_META_FILE = "batches.meta.txt"

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
"""The official class names, in label order (``batches.meta`` and ``batches.meta.txt``)."""

PYTHON_MD5: Mapping[str, str] = MappingProxyType(
    {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    }
)

# Source: prabhuomkar/pytorch-cpp, cmake/fetch_cifar10.cmake (CIFAR_EXTRACTED_FILE_MD5s).
# Cross-checked: apache/mxnet gluon CIFAR10 SHA-1s, and re-derived from the python batches.
BINARY_MD5: Mapping[str, str] = MappingProxyType(
    {
        "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
        "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
        "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
        "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
        "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
        "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
        # batches.meta.txt: no published md5 found; verified structurally.
    }
)

OFFICIAL_MD5: Mapping[str, str] = MappingProxyType({**PYTHON_MD5, **BINARY_MD5})
"""Every known file name (both versions) to its official md5; the loaders' default manifest."""

_BIN_BYTES = 10_000 * 3073
MAX_BYTES: Mapping[str, int] = MappingProxyType(
    {
        "data_batch_1": 31_035_704,
        "data_batch_2": 31_035_320,
        "data_batch_3": 31_035_999,
        "data_batch_4": 31_035_696,
        "data_batch_5": 31_035_623,
        "test_batch": 31_035_526,
        "batches.meta": 158,
        **{name: _BIN_BYTES for name in BINARY_MD5},
        BIN_META_FILE: 4096,  # 61 bytes officially; checked by its contents, not its md5
    }
)
"""The most bytes a known file may have (its official size): larger files are refused unread."""


@dataclass(frozen=True)
class Archive:
    """A downloadable archive: where it is, its md5, and the directory it unpacks to."""

    url: str
    md5: str
    filename: str
    directory: str
    size: int | None = None
    """Bytes of the archive; a download that would be larger is refused (None: no cap)."""


PYTHON_ARCHIVE = Archive(
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    filename="cifar-10-python.tar.gz",
    directory=PY_DIR,
    size=170_498_071,
)

BINARY_ARCHIVE = Archive(
    url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    md5="c32a1d4ab5d03f1284b67883e8d87530",
    filename="cifar-10-binary.tar.gz",
    directory=BIN_DIR,
    size=170_052_171,
)
