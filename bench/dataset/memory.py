"""Allocation of the large dataset arrays.

numpy asks the kernel for transparent huge pages for every array of 4 MiB or more. On the
small virtual machines this harness runs on, memory the guest has not touched recently is
slow to fault in, and huge-page faults are the slowest of all and do not overlap across
threads. Loading and preprocessing the real CIFAR-10 (737 MB of float32 output) in a fresh
process took a median 1.63 s with numpy's allocation and 0.81 s with ordinary 4 KiB pages,
which the two preprocessing threads fault in side by side (8 alternating runs each). So the
big arrays come from a plain anonymous ``mmap``, and the memory goes back to the system when
the array is garbage-collected. On a machine with warm memory huge pages would be ~0.2 s
faster; that is the price.
"""

from __future__ import annotations

import mmap

import numpy as np

_SMALL = 1 << 22  # below numpy's huge-page threshold: nothing to gain


def empty(shape: tuple[int, ...], dtype: np.dtype | type = np.float32) -> np.ndarray:
    """An uninitialised, writeable, C-contiguous array backed by an anonymous mapping."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < _SMALL:
        return np.empty(shape, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(shape)
