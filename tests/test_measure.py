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


def test_the_noise_probe_records_how_busy_the_machine_was_around_training():
    import time
    from types import SimpleNamespace

    from bench.measure import NoiseProbe

    probe = NoiseProbe()
    end = time.process_time() + 0.2
    while time.process_time() < end:  # 0.2 s of this process's own CPU time: not the others'
        pass
    row = SimpleNamespace()
    probe.fill(row)
    assert row.noise_window_seconds >= 0.19 and row.cpu_count >= 1  # wall clock around 0.2 s of CPU time
    assert row.own_cpu_seconds >= 0.15 and row.involuntary_switches >= 0 and row.load_average >= 0
    assert row.active_threads >= 1  # the spinning thread
    # The others' share is what the machine was busy with besides this process (never negative).
    assert 0 <= row.others_cpu_seconds <= row.cpu_count * row.noise_window_seconds + 0.1
