"""bench/measure.py helpers: the batch buffer the timed loop gathers into."""

from __future__ import annotations

import numpy as np
import pytest

from bench.measure import aligned_empty


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_the_batch_buffer_is_aligned_and_contiguous(dtype):
    for _ in range(20):  # numpy's own allocations land on varying 16-byte boundaries
        array = aligned_empty((100, 3072), dtype)
        assert array.ctypes.data % 64 == 0 and array.flags["C_CONTIGUOUS"] and array.flags["WRITEABLE"]
        assert array.shape == (100, 3072) and array.dtype == dtype
