"""The roofline arithmetic: attainable steps/s, a row's fraction, and the reasons for none."""

from __future__ import annotations

import math

import pytest

from bench.classifier import StepWork
from bench.roofline import (
    NO_CEILINGS_REASON,
    NO_SPEED_REASON,
    NO_WORK_REASON,
    arithmetic_intensity,
    attainable,
    fraction,
    limited_by,
    rate,
    ridge_point,
    step_seconds,
)
from bench.roofline.ceilings import Ceilings

# 200 GFLOP/s and 25 GB/s: the ridge at 8 FLOP/byte.
CEILINGS = {"peak_flops_per_second": 200e9, "memory_bytes_per_second": 25e9}


def test_compute_bound_step():
    work = StepWork(flops=12e6, bytes=1e6)  # 12 FLOP/byte, right of the ridge
    assert step_seconds(work, CEILINGS) == pytest.approx(60e-6)  # 12e6 / 200e9
    assert attainable(work, CEILINGS) == pytest.approx(1 / 60e-6)
    assert limited_by(work, CEILINGS) == "compute"
    assert fraction(1000.0, work, CEILINGS) == pytest.approx(1000 * 60e-6)


def test_memory_bound_step():
    work = StepWork(flops=4e6, bytes=1e6)  # 4 FLOP/byte, left of the ridge
    assert step_seconds(work, CEILINGS) == pytest.approx(40e-6)  # 1e6 / 25e9
    assert limited_by(work, CEILINGS) == "memory"
    assert fraction(25_000.0, work, CEILINGS) == pytest.approx(1.0)
    assert arithmetic_intensity(work) == 4.0 and ridge_point(CEILINGS) == 8.0


def test_at_the_ridge_both_ceilings_agree():
    work = StepWork(flops=8e6, bytes=1e6)
    assert pytest.approx(1e6 / 25e9) == 8e6 / 200e9
    assert attainable(work, CEILINGS) == pytest.approx(25_000.0)


def test_ceilings_object_or_mapping():
    ceilings = Ceilings("cpu", 200e9, 25e9, {}, {}, 1, "2026-01-01T00:00:00Z", 0.1)
    work = StepWork(flops=12e6, bytes=1e6)
    assert attainable(work, ceilings) == attainable(work, CEILINGS)
    assert attainable(work, ceilings.as_dict()) == attainable(work, CEILINGS)


@pytest.mark.parametrize("bad", [
    {"peak_flops_per_second": 0, "memory_bytes_per_second": 1e9},
    {"peak_flops_per_second": 1e9},
    {"peak_flops_per_second": math.nan, "memory_bytes_per_second": 1e9},
    {"peak_flops_per_second": True, "memory_bytes_per_second": 1e9},
])
def test_bad_ceilings_raise(bad):
    with pytest.raises(ValueError):
        attainable(StepWork(1.0, 1.0), bad)


@pytest.mark.parametrize("work", [StepWork(0.0, 0.0), StepWork(-1.0, 5.0), StepWork(math.inf, 1.0), StepWork(1.0, math.nan)])
def test_bad_work_raises(work):
    with pytest.raises(ValueError):
        attainable(work, CEILINGS)


def test_work_without_bytes_or_flops():
    assert attainable(StepWork(flops=2e9, bytes=0.0), CEILINGS) == pytest.approx(100.0)
    assert arithmetic_intensity(StepWork(flops=2e9, bytes=0.0)) == math.inf
    assert attainable(StepWork(flops=0.0, bytes=25e6), CEILINGS) == pytest.approx(1000.0)


def test_rate_gives_numbers_or_a_reason():
    work = StepWork(flops=12e6, bytes=1e6)
    rating = rate(1000.0, work, CEILINGS)
    assert rating.reason is None and rating.limited_by == "compute"
    assert rating.fraction == pytest.approx(0.06) and rating.attainable_steps_per_second == pytest.approx(1 / 60e-6)
    assert rate(1000.0, None, CEILINGS).reason == NO_WORK_REASON
    assert rate(1000.0, work, None).reason == NO_CEILINGS_REASON
    no_speed = rate(None, work, CEILINGS)
    assert no_speed.reason == NO_SPEED_REASON and no_speed.fraction is None and no_speed.attainable_steps_per_second
    lying = rate(1000.0, StepWork(math.nan, 1.0), CEILINGS)  # a plugin's nonsense is a reason, not a crash
    assert lying.fraction is None and "work" in lying.reason
