"""Measuring ceilings (with fake kernels, and tiny real numpy ones) and caching them."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bench.roofline import cache
from bench.roofline.cache import cache_file, cache_key, cached_ceilings, cpu_ceilings, load
from bench.roofline.ceilings import (
    Ceilings,
    Kernels,
    _parse_size,
    cpu_kernels,
    even_slices,
    last_level_cache_bytes,
    measure,
    parallel_copy,
    timed,
)


class FakeKernels:
    """Kernels whose 'seconds' come from a script, with every call recorded."""

    def __init__(self, matmul_seconds, stream_seconds):
        self.calls: list[str] = []
        self.closed = False
        self._matmul, self._stream = iter(matmul_seconds), iter(stream_seconds)

    def kernels(self, settings=None) -> Kernels:
        def matmul():
            self.calls.append("matmul")
            return next(self._matmul)

        def stream():
            self.calls.append("stream")
            return next(self._stream)

        def close():
            self.closed = True

        return Kernels("fake:0", matmul, 1e9, stream, 1e8, settings or {"size": 1}, close)


def test_measure_takes_the_median_of_round_bests_interleaved():
    # warm-up, then 3 rounds of 2 repeats each: per-round bests 0.01, 0.02, 0.04 s for the product.
    fake = FakeKernels([9.0, 0.01, 0.5, 0.03, 0.02, 0.04, 0.04], [9.0, 0.01, 0.01, 0.002, 0.004, 0.01, 0.02])
    ceilings = measure(fake.kernels(), rounds=3, repeats=2)
    assert ceilings.peak_flops_per_second == pytest.approx(1e9 / 0.02)
    assert ceilings.memory_bytes_per_second == pytest.approx(1e8 / 0.01)
    assert ceilings.spread["peak_flops_per_second"] == pytest.approx([1e9 / 0.04, 1e9 / 0.01])
    assert ceilings.rounds == 3 and ceilings.device == "fake:0"
    # warm-up of each, then rounds alternate which kernel goes first
    assert fake.calls == ["matmul", "stream", "matmul", "matmul", "stream", "stream",
                          "stream", "stream", "matmul", "matmul", "matmul", "matmul", "stream", "stream"]
    with pytest.raises(ValueError):
        measure(fake.kernels(), rounds=0)


def test_contended_calls_are_left_out_while_enough_rounds_are_clean():
    # product: rounds 1 and 3 clean (0.02, 0.01 s), round 2 only contended (a fast-looking 0.001 s);
    # copy: every call contended, so all rounds count.
    fake = FakeKernels([0.5, 0.02, 0.001, 0.01], [0.5, 0.1, 0.2, 0.3])
    clean = {0.02, 0.01, 0.5}

    def kernels() -> Kernels:
        plain = fake.kernels()
        return Kernels("fake:0", lambda: (s := plain.matmul(), s in clean), 1e9,
                       lambda: (plain.stream(), False), 1e8, {})

    ceilings = measure(kernels(), rounds=3, repeats=1, attempts=1)
    assert ceilings.peak_flops_per_second == pytest.approx((1e9 / 0.02 + 1e9 / 0.01) / 2)  # the clean rounds only
    assert ceilings.contended_rounds == {"peak_flops_per_second": 1, "memory_bytes_per_second": 3}
    assert ceilings.memory_bytes_per_second == pytest.approx(1e8 / 0.2)
    assert "contended rounds: compute 1/3, memory 3/3" in ceilings.describe()


def test_a_contended_round_calls_again_until_one_call_is_clean():
    # each round: 2 repeats; round 1 clean at once, round 2 clean on the 4th call, round 3 never (5 attempts).
    script = iter([(9.0, True)] + [(0.01, True), (0.02, True)]
                  + [(0.001, False), (0.002, False), (0.003, False), (0.04, True)]
                  + [(0.001, False)] * 5)
    calls = []

    def matmul():
        calls.append(1)
        return next(script)

    ceilings = measure(Kernels("fake:0", matmul, 1.0, lambda: 0.5, 1.0, {}), rounds=3, repeats=2, attempts=5)
    assert len(calls) == 1 + 2 + 4 + 5
    assert ceilings.contended_rounds["peak_flops_per_second"] == 1
    assert ceilings.peak_flops_per_second == pytest.approx((1 / 0.01 + 1 / 0.04) / 2)  # the two clean rounds
    assert ceilings.contended_rounds["memory_bytes_per_second"] == 0  # plain seconds are clean: 2 calls a round


def test_retrying_stops_when_the_cores_are_never_free():
    calls = []

    def crowded():
        calls.append(1)
        return 0.1, False

    ceilings = measure(Kernels("fake:0", crowded, 1.0, lambda: 0.5, 1.0, {}), rounds=9, repeats=2, attempts=10)
    assert len(calls) == 1 + 3 * 10 + 6 * 2  # warm-up, three rounds of attempts, then only the repeats
    assert ceilings.contended_rounds["peak_flops_per_second"] == 9


def test_ceilings_round_trip_through_json():
    ceilings = measure(FakeKernels([0.1] * 4, [0.1] * 4).kernels(), rounds=3, repeats=1)
    again = Ceilings.from_dict(json.loads(json.dumps(ceilings.as_dict())))
    assert again == ceilings
    assert "GFLOP/s" in again.describe() and "GB/s" in again.describe()


def test_timed_synchronizes_around_the_clock():
    events = []
    kernel = timed(lambda: events.append("run"), synchronize=lambda: events.append("sync"))
    assert kernel() >= 0 and events == ["sync", "run", "sync"]


def _counting_factory(counter: list, settings=None):
    def make():
        counter.append(1)
        return FakeKernels([0.1] * 50, [0.1] * 50).kernels(settings)

    return make


def test_cache_measures_once_then_reuses(tmp_path):
    made: list = []
    first = cached_ceilings("fake:0", {"size": 1}, _counting_factory(made), cache_dir=tmp_path, rounds=3, repeats=1)
    assert len(made) == 1 and not first.from_cache
    second = cached_ceilings("fake:0", {"size": 1}, _counting_factory(made), cache_dir=tmp_path, rounds=3, repeats=1)
    assert len(made) == 1 and second.from_cache
    assert second.peak_flops_per_second == first.peak_flops_per_second and second.measured == first.measured
    stored = json.loads(next(tmp_path.glob("ceilings-fake-0-*.json")).read_text())
    assert stored["key"]["device"] == "fake:0" and stored["key"]["machine"]["cpu"]
    assert datetime.fromisoformat(stored["ceilings"]["measured"].replace("Z", "+00:00")) <= datetime.now(timezone.utc)


def test_remeasure_replaces_the_cached_figures(tmp_path):
    made: list = []
    cached_ceilings("fake:0", {"size": 1}, _counting_factory(made), cache_dir=tmp_path, rounds=3, repeats=1)
    fresh = cached_ceilings("fake:0", {"size": 1}, _counting_factory(made), cache_dir=tmp_path, rounds=3, repeats=1,
                            remeasure=True)
    assert len(made) == 2 and not fresh.from_cache
    assert len(list(tmp_path.glob("ceilings-*.json"))) == 1  # replaced, not added


def test_cache_is_keyed_by_settings_device_rounds_and_machine(tmp_path, monkeypatch):
    made: list = []
    run = lambda settings, device="fake:0", rounds=3: cached_ceilings(  # noqa: E731
        device, settings, _counting_factory(made, settings), cache_dir=tmp_path, rounds=rounds, repeats=1)
    run({"threads": 1})
    run({"threads": 2})
    run({"threads": 1}, device="fake:1")
    run({"threads": 1}, rounds=5)
    assert len(made) == 4
    run({"threads": 1})
    assert len(made) == 4
    monkeypatch.setattr(cache, "machine_key", lambda: {"host": "elsewhere"})
    run({"threads": 1})
    assert len(made) == 5


def test_old_corrupt_or_foreign_files_are_measured_again(tmp_path):
    made: list = []
    cached_ceilings("fake:0", {"size": 1}, _counting_factory(made), cache_dir=tmp_path, rounds=3, repeats=1)
    key = cache_key("fake:0", {"size": 1}, 3, 1)
    path = cache_file(key, tmp_path)
    assert load(key, tmp_path) is not None
    later = datetime.now(timezone.utc) + timedelta(days=31)
    assert load(key, tmp_path, now=later) is None  # older than max_age
    assert load(key, tmp_path, max_age=timedelta(days=60), now=later) is not None

    data = json.loads(path.read_text())
    data["key"]["settings"] = {"size": 2}  # a file whose key is another's
    path.write_text(json.dumps(data))
    assert load(key, tmp_path) is None
    path.write_text("{not json")
    assert load(key, tmp_path) is None
    data = json.loads(json.dumps({"key": key, "ceilings": {"device": "fake:0"}}))
    path.write_text(json.dumps(data))
    assert load(key, tmp_path) is None
    again = cached_ceilings("fake:0", {"size": 1}, _counting_factory(made), cache_dir=tmp_path, rounds=3, repeats=1)
    assert len(made) == 2 and not again.from_cache
    assert load(key, tmp_path) is not None  # the bad file was replaced


def test_figures_from_a_crowded_machine_are_kept_for_an_hour_only(tmp_path):
    made: list = []

    def crowded() -> Kernels:
        made.append(1)
        return Kernels("fake:0", lambda: (0.1, False), 1e9, lambda: (0.1, True), 1e8, {})

    first = cached_ceilings("fake:0", {}, crowded, cache_dir=tmp_path, rounds=3, repeats=1)
    assert first.contended_rounds["peak_flops_per_second"] == 3 and first.peak_flops_per_second == pytest.approx(1e10)
    again = cached_ceilings("fake:0", {}, crowded, cache_dir=tmp_path, rounds=3, repeats=1)
    assert len(made) == 1 and again.from_cache  # within the hour: not measured again
    from datetime import datetime, timedelta, timezone

    from bench.roofline.cache import cache_key, load

    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert load(cache_key("fake:0", {}, 3, 1), tmp_path, now=later) is None  # then it is


def test_an_unwritable_cache_only_costs_the_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    made: list = []
    ceilings = cached_ceilings("fake:0", {}, _counting_factory(made), cache_dir=blocker / "sub", rounds=3, repeats=1)
    assert ceilings.peak_flops_per_second > 0 and len(made) == 1


def test_kernels_are_closed_even_when_measuring_fails(tmp_path):
    closed = []

    def broken() -> float:
        raise RuntimeError("device lost")

    def make() -> Kernels:
        return Kernels("fake:0", broken, 1.0, broken, 1.0, {}, lambda: closed.append(True))

    with pytest.raises(RuntimeError, match="device lost"):
        cached_ceilings("fake:0", {}, make, cache_dir=tmp_path, rounds=1, repeats=1)
    assert closed == [True] and not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("threads", [1, 2])
def test_cpu_kernels_do_real_work(threads):
    kernels = cpu_kernels(threads, matmul_size=64, stream_bytes=1 << 20)
    try:
        assert kernels.matmul_flops == 2 * 64**3 and kernels.stream_bytes == 2 << 20
        assert kernels.settings["threads"] == threads and kernels.settings["stream_array_bytes"] == 1 << 20
        for seconds, clean in (kernels.matmul(), kernels.stream()):
            assert seconds > 0 and isinstance(clean, bool)
    finally:
        kernels.close()


def test_cpu_ceilings_measure_and_cache(tmp_path):
    options = {"matmul_size": 64, "stream_bytes": 1 << 20}
    first = cpu_ceilings(1, cache_dir=tmp_path, rounds=3, repeats=1, **options)
    assert first.device == "cpu" and first.peak_flops_per_second > 0 and first.memory_bytes_per_second > 0
    assert first.settings["threads"] == 1 and "numpy.matmul" in first.settings["matmul"]
    assert cpu_ceilings(1, cache_dir=tmp_path, rounds=3, repeats=1, **options).from_cache
    assert not cpu_ceilings(1, cache_dir=tmp_path, rounds=3, repeats=1, remeasure=True, **options).from_cache


@pytest.mark.parametrize("length, parts", [(10, 3), (3003, 3), (7, 7), (5, 1)])
def test_parallel_copy_copies_everything(length, parts):
    slices = even_slices(length, parts)
    assert slices[0].start == 0 and slices[-1].stop == length
    assert all(a.stop == b.start for a, b in itertools.pairwise(slices))
    assert max(s.stop - s.start for s in slices) - min(s.stop - s.start for s in slices) <= 1
    source, target = np.arange(length, dtype=np.float32), np.zeros(length, dtype=np.float32)
    with ThreadPoolExecutor(parts) as pool:
        parallel_copy(source, target, slices, pool)
    assert np.array_equal(source, target)


def test_cache_sizes():
    assert _parse_size("491520K") == 491520 * 1024 and _parse_size("2M") == 2 << 20 and _parse_size("512") == 512
    size = last_level_cache_bytes()
    assert size is None or size > 0


def test_default_cache_dir_is_the_user_cache(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(tmp_path / name))
    assert cache.default_cache_dir() == tmp_path / "bench" / "roofline"


def _fixed(threads: int, flops: float, memory: float, contended: int) -> Ceilings:
    return Ceilings("cpu", flops, memory, {"threads": threads},
                    {"peak_flops_per_second": [flops, flops], "memory_bytes_per_second": [memory, memory]},
                    9, "2026-01-01T00:00:00Z", 1.0,
                    {"peak_flops_per_second": contended, "memory_bytes_per_second": contended}, contended > 4)


@pytest.mark.parametrize("thorough", [False, True])
@pytest.mark.parametrize("contended, expected", [(9, (130e9, 25e9)), (0, (75e9, 25e9))])
def test_several_threads_are_never_rated_below_one_thread_when_contended(monkeypatch, contended, expected, thorough):
    measured = {2: _fixed(2, 75e9, 25e9, contended), 1: _fixed(1, 130e9, 22e9, 0)}
    monkeypatch.setattr(cache, "cached_ceilings", lambda device, settings, make, **options: measured[settings["threads"]])
    monkeypatch.setattr(cache, "load", lambda key, *args, **options: measured[key["settings"]["threads"]])
    ceilings = cpu_ceilings(2, matmul_size=8, stream_bytes=1024, thorough=thorough)
    assert (ceilings.peak_flops_per_second, ceilings.memory_bytes_per_second) == expected
    assert ("1-thread" in ceilings.note) == bool(contended)
    assert Ceilings.from_dict(ceilings.as_dict()).note == ceilings.note
