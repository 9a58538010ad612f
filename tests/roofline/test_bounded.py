"""The measurement's time budget, contended figures in the cache, and the cache's bounds,
pinned with a fake clock (kernels that advance it) instead of timing the machine."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from bench.roofline import cache
from bench.roofline.cache import cache_file, cache_key, cached_ceilings, check, cpu_ceilings, load
from bench.roofline.ceilings import DEFAULT_BUDGET_SECONDS, Ceilings, Kernels, measure


class Clock:
    """A fake ``perf_counter``: time moves only when a fake kernel or build says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_kernels(clock: Clock, matmul_seconds: float = 0.3, stream_seconds: float = 0.1, clean: bool = True,
                 calls: list[str] | None = None) -> Kernels:
    """Kernels whose calls take ``*_seconds`` of ``clock`` (and report them), clean or not."""
    log = calls if calls is not None else []

    def kernel(name: str, seconds: float):
        def run() -> tuple[float, bool]:
            log.append(name)
            clock.now += seconds
            return seconds, clean

        return run

    return Kernels("fake:0", kernel("matmul", matmul_seconds), 3e10, kernel("stream", stream_seconds), 1e9, {"size": 1})


def test_the_budget_stops_the_rounds_before_they_run_past_it():
    clock, calls = Clock(), []
    ceilings = measure(fake_kernels(clock, calls=calls), rounds=9, repeats=3, budget=5.0, clock=clock)
    # warm-up 0.4 s, then rounds of 3 x (0.3 + 0.1) = 1.2 s: three fit in 4.0 s, a fourth would end at 5.2 s
    assert ceilings.rounds == 3 and len(calls) == 2 + 3 * 6
    assert clock.now == pytest.approx(4.0) and ceilings.measure_seconds == pytest.approx(4.0)
    assert ceilings.budget_seconds == 5.0 and not ceilings.contended
    assert ceilings.peak_flops_per_second == pytest.approx(1e11)
    assert ceilings.spread["peak_flops_per_second"] == pytest.approx([1e11, 1e11])


@pytest.mark.parametrize("matmul_seconds", [0.5, 2.0, 30.0])
def test_the_budget_holds_whatever_the_load(matmul_seconds):
    """However slow a call is, the measurement is its warm-up and one call of each kernel
    past the budget at most, and fewer repeats are made when they would not fit."""
    clock, calls = Clock(), []
    ceilings = measure(fake_kernels(clock, matmul_seconds, calls=calls), rounds=9, repeats=3, budget=5.0, clock=clock)
    one_of_each = matmul_seconds + 0.1
    assert clock.now <= max(5.0, 2 * one_of_each) + 1e-9
    assert ceilings.rounds >= 1 and calls.count("matmul") >= 2 and calls.count("stream") >= 2


def test_a_zero_budget_still_makes_one_round():
    clock = Clock()
    ceilings = measure(fake_kernels(clock), rounds=9, repeats=3, budget=0.0, clock=clock)
    assert ceilings.rounds == 1 and clock.now == pytest.approx(0.8)
    with pytest.raises(ValueError):
        measure(fake_kernels(clock), budget=-1.0, clock=clock)
    with pytest.raises(ValueError):
        measure(fake_kernels(clock), budget=math.nan, clock=clock)


def test_a_budgeted_measurement_does_not_call_contended_rounds_again():
    clock, calls = Clock(), []
    ceilings = measure(fake_kernels(clock, clean=False, calls=calls), rounds=9, repeats=3, attempts=12, budget=5.0,
                       clock=clock)
    assert len(calls) == 2 + 3 * 6 and clock.now <= 5.0  # the same calls as a clean machine: no retries
    assert ceilings.contended and ceilings.contended_rounds == {"peak_flops_per_second": 3, "memory_bytes_per_second": 3}
    # the thorough procedure (no budget) retries: 12 calls in each of its first three rounds
    clock, calls = Clock(), []
    thorough = measure(fake_kernels(clock, clean=False, calls=calls), rounds=9, repeats=3, attempts=12, clock=clock)
    assert calls.count("matmul") == 1 + 3 * 12 + 6 * 3 and thorough.rounds == 9 and thorough.budget_seconds is None
    assert clock.now == pytest.approx(0.4 * (1 + 3 * 12 + 6 * 3))


def _builder(clock: Clock, made: list, build_seconds: float = 1.3, **options):
    def make() -> Kernels:
        made.append(1)
        clock.now += build_seconds
        return fake_kernels(clock, **options)

    return make


def test_building_the_kernels_counts_against_the_budget_and_progress_is_told(tmp_path):
    clock, made, said = Clock(), [], []
    ceilings = cached_ceilings("fake:0", {"size": 1}, _builder(clock, made), cache_dir=tmp_path, clock=clock,
                               progress=said.append, load_now=lambda: None)
    # 1.3 s to build leaves 3.7 s: warm-up 0.4 s and two rounds of 1.2 s (a third would end at 4.1 s)
    assert ceilings.rounds == 2 and clock.now == pytest.approx(1.3 + 0.4 + 2.4)
    assert ceilings.measure_seconds == pytest.approx(clock.now) and ceilings.budget_seconds == DEFAULT_BUDGET_SECONDS
    assert said == ["measuring the fake:0 ceilings (about 5 s; then cached)"]
    again = cached_ceilings("fake:0", {"size": 1}, _builder(clock, made), cache_dir=tmp_path, clock=clock,
                            progress=said.append, load_now=lambda: None)
    assert again.from_cache and len(made) == 1 and len(said) == 1  # nothing to announce


def test_contended_figures_are_recorded_then_measured_again_when_the_machine_is_quieter(tmp_path):
    clock, made = Clock(), []
    busy = cached_ceilings("fake:0", {}, _builder(clock, made, clean=False), cache_dir=tmp_path, clock=clock,
                           load_now=lambda: None)
    stored = json.loads(next(tmp_path.glob("ceilings-*.json")).read_text())["ceilings"]
    assert stored["contended"] is True and stored["contended_rounds"]["peak_flops_per_second"] == busy.rounds
    assert "load_average" in stored and stored["budget_seconds"] == DEFAULT_BUDGET_SECONDS
    # say the measurement saw a load average of 3: a later run at load 2.8 reuses the figures, at 2.0 measures again
    path = cache_file(cache_key("fake:0", {}, 9, 3), tmp_path)
    data = json.loads(path.read_text())
    data["ceilings"]["load_average"] = 3.0
    path.write_text(json.dumps(data))
    run = lambda load_now, **options: cached_ceilings(  # noqa: E731
        "fake:0", {}, _builder(clock, made, **options), cache_dir=tmp_path, clock=clock, load_now=lambda: load_now)
    assert run(2.8, clean=False).from_cache and len(made) == 1
    quiet = run(2.0)
    assert len(made) == 2 and not quiet.from_cache and not quiet.contended
    assert run(2.0).from_cache and run(9.0).from_cache and len(made) == 2  # clean figures stay, whatever the load
    # without a load average, a contended entry is kept for an hour
    key = cache_key("fake:0", {}, 9, 3)
    data["ceilings"]["load_average"] = None
    path.write_text(json.dumps(data))
    assert load(key, tmp_path, load_now=0.0) is not None
    assert load(key, tmp_path, now=datetime.now(timezone.utc) + timedelta(hours=2)) is None


def test_thorough_measures_without_a_budget_and_reuses_only_thorough_figures(tmp_path):
    clock, made, said = Clock(), [], []
    quick = cached_ceilings("fake:0", {}, _builder(clock, made), cache_dir=tmp_path, clock=clock, load_now=lambda: None)
    assert quick.rounds < 9
    thorough = cached_ceilings("fake:0", {}, _builder(clock, made), cache_dir=tmp_path, clock=clock, thorough=True,
                               progress=said.append, load_now=lambda: None)
    assert len(made) == 2 and thorough.rounds == 9 and thorough.budget_seconds is None
    assert said == ["measuring the fake:0 ceilings thoroughly (a minute or more on a busy machine; then cached)"]
    assert cached_ceilings("fake:0", {}, _builder(clock, made), cache_dir=tmp_path, thorough=True).from_cache
    assert cached_ceilings("fake:0", {}, _builder(clock, made), cache_dir=tmp_path).rounds == 9  # and by a quick call
    assert len(made) == 2


def _entry(tmp_path, **changes):
    """A stored, valid entry for ``fake:0`` with ``changes`` made to its ceilings."""
    clock, made = Clock(), []
    cached_ceilings("fake:0", {}, _builder(clock, made), cache_dir=tmp_path, clock=clock, load_now=lambda: None)
    key = cache_key("fake:0", {}, 9, 3)
    path = cache_file(key, tmp_path)
    data = json.loads(path.read_text())
    assert load(key, tmp_path) is not None
    data["ceilings"].update(changes)
    return key, path, data


@pytest.mark.parametrize("name", ["peak_flops_per_second", "memory_bytes_per_second"])
@pytest.mark.parametrize("value", [1e3, 1e300, 0.0, -1e10, "1e10", True, None, [1e10], math.nan, math.inf])
def test_the_cache_refuses_figures_outside_physical_bounds(tmp_path, name, value):
    key, path, data = _entry(tmp_path, **{name: value})
    path.write_text(json.dumps(data))  # json writes NaN and Infinity, and reads them back
    assert load(key, tmp_path) is None
    clock, made = Clock(), []
    again = cached_ceilings("fake:0", {}, _builder(clock, made), cache_dir=tmp_path, clock=clock, load_now=lambda: None)
    assert len(made) == 1 and not again.from_cache and load(key, tmp_path) is not None  # measured and replaced


@pytest.mark.parametrize("change", [
    {"rounds": "9"}, {"rounds": True}, {"rounds": 0}, {"rounds": 2.5}, {"measure_seconds": "1"},
    {"measure_seconds": -1.0}, {"settings": ["size"]}, {"spread": []}, {"spread": {"peak_flops_per_second": 1e10}},
    {"spread": {"peak_flops_per_second": [1e10, 1e10, 1e10], "memory_bytes_per_second": [1e10, 1e10]}},
    {"spread": {"peak_flops_per_second": [1e3, 1e11], "memory_bytes_per_second": [1e10, 1e10]}},
    {"spread": {"peak_flops_per_second": ["1e11", 1e11], "memory_bytes_per_second": [1e10, 1e10]}},
    {"peak_flops_per_second": 2e11},  # outside its own rounds' spread (1e11-1e11)
    {"contended": "no"}, {"contended_rounds": {"peak_flops_per_second": 10}}, {"contended_rounds": {"x": False}},
    {"load_average": "high"}, {"budget_seconds": math.inf}, {"device": "fake:1"}, {"device": 0}, {"measured": 2026},
    {"note": 1}, {"from_cache": "yes"},
])
def test_the_cache_refuses_entries_of_the_wrong_shape(tmp_path, change):
    key, path, data = _entry(tmp_path, **change)
    path.write_text(json.dumps(data))
    assert load(key, tmp_path) is None


@pytest.mark.parametrize("shape", ["list", "string", "number", "no key", "ceilings a list", "ceilings empty"])
def test_the_cache_refuses_files_of_the_wrong_shape(tmp_path, shape):
    key, path, data = _entry(tmp_path)
    document = {"list": [data], "string": "ceilings", "number": 7, "no key": {"ceilings": data["ceilings"]},
                "ceilings a list": {"key": data["key"], "ceilings": [data["ceilings"]]},
                "ceilings empty": {"key": data["key"], "ceilings": {}}}[shape]
    path.write_text(json.dumps(document))
    assert load(key, tmp_path) is None


def test_implausible_measured_figures_are_returned_but_not_cached(tmp_path):
    def slow() -> Kernels:  # 3e10 FLOP in 1e6 s: 3e4 FLOP/s, no machine
        return Kernels("fake:0", lambda: 1e6, 3e10, lambda: 0.1, 1e9, {})

    ceilings = cached_ceilings("fake:0", {}, slow, cache_dir=tmp_path, rounds=1, repeats=1, budget=0.0)
    assert ceilings.peak_flops_per_second == pytest.approx(3e4) and not list(tmp_path.glob("*.json"))
    with pytest.raises(ValueError, match="outside"):
        check(ceilings)


def test_old_files_without_the_new_fields_are_read(tmp_path):
    key, path, data = _entry(tmp_path)
    for name in ("contended", "load_average", "budget_seconds"):
        del data["ceilings"][name]
    data["ceilings"]["contended_rounds"] = {"peak_flops_per_second": 9, "memory_bytes_per_second": 0}
    data["ceilings"]["rounds"] = 9
    path.write_text(json.dumps(data))
    found = load(key, tmp_path)
    assert found is not None and found.contended and found.budget_seconds is None  # thorough, as they all were


def _ceilings(threads: int, flops: float, memory: float, contended: bool, **changes) -> Ceilings:
    spread = {"peak_flops_per_second": [flops * 0.9, flops * 1.1], "memory_bytes_per_second": [memory * 0.9, memory]}
    ceilings = Ceilings("cpu", flops, memory, {"threads": threads}, spread, 3, "2026-01-01T00:00:00Z", 4.0,
                        {"peak_flops_per_second": 3 * contended, "memory_bytes_per_second": 3 * contended}, contended)
    return replace(ceilings, **changes)


def test_a_raised_ceiling_headlines_the_one_thread_figure_with_its_own_spread(monkeypatch):
    two, one = _ceilings(2, 60e9, 20e9, True), _ceilings(1, 150e9, 12e9, False, measure_seconds=30.0)
    monkeypatch.setattr(cache, "cached_ceilings",
                        lambda device, settings, make, **options: two if settings["threads"] == 2 else one)
    ceilings = cpu_ceilings(2, thorough=True, matmul_size=8, stream_bytes=1024)
    assert ceilings.peak_flops_per_second == 150e9 and ceilings.memory_bytes_per_second == 20e9
    assert ceilings.spread["peak_flops_per_second"] == one.spread["peak_flops_per_second"]
    assert ceilings.spread["memory_bytes_per_second"] == two.spread["memory_bytes_per_second"]
    assert check(ceilings) is ceilings  # each headline inside its rounds' spread
    assert ceilings.measure_seconds == 34.0 and "compute from the 1-thread ceilings" in ceilings.note


def test_a_bounded_call_uses_the_one_thread_figures_only_when_cached(monkeypatch):
    two = _ceilings(2, 60e9, 20e9, True)
    measured = []
    monkeypatch.setattr(cache, "cached_ceilings",
                        lambda device, settings, make, **options: measured.append(settings["threads"]) or two)
    monkeypatch.setattr(cache, "load", lambda *args, **options: None)
    assert cpu_ceilings(2, matmul_size=8, stream_bytes=1024) is two and measured == [2]
    monkeypatch.setattr(cache, "load", lambda *args, **options: _ceilings(1, 150e9, 12e9, False))
    assert cpu_ceilings(2, matmul_size=8, stream_bytes=1024).peak_flops_per_second == 150e9 and measured == [2, 2]


def test_cpu_progress_names_the_threads(tmp_path):
    said: list[str] = []
    cpu_ceilings(1, cache_dir=tmp_path, rounds=2, repeats=1, budget=1.0, progress=said.append, matmul_size=64,
                 stream_bytes=1 << 20)
    assert said == ["measuring this CPU's ceilings with 1 thread (about 1 s; then cached)"]
