"""The roofline's ceilings: a device's peak FLOP/s and memory bandwidth, measured.

Measured as the Empirical Roofline Toolkit and likwid-bench do, with two kernels: a large
float32 matrix product for the compute roof, a STREAM-style copy much larger than the
last-level cache for the bandwidth slope. Each round times each kernel a few times and
keeps the fastest (noise only ever adds time); rounds alternate the kernels' order, so a
noisy neighbour affects both; the ceilings are the medians over rounds, with the spread
kept beside them. On a shared machine another process may hold a core for a whole call;
the CPU kernels notice (their CPU time falls short of threads x wall time), and such
contended calls are left out while enough clean ones remain.

A measurement may be bounded by a time budget (``budget`` of :func:`measure`): after a
first round it starts no round or call that would end past the budget, and does not call
a contended round again; the figures then say how many rounds fitted and whether they
were contended. Without a budget it is the thorough procedure: every round, and a
contended round called again until one call is clean.

A device is measured through :class:`Kernels`: two callables that each run their kernel
once on the device and return the seconds it took, finished. :func:`cpu_kernels` builds
them with numpy on the CPU; a framework measures its GPU by building its own (a matmul
and a copy of its tensors, timed with :func:`timed` and the framework's synchronise) and
passing them to :func:`measure`, or to :func:`bench.roofline.cache.cached_ceilings`.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

MATMUL_SIZE = 2048
"""``n`` of the CPU's ``n x n`` by ``n x n`` float32 product (17 GFLOP; measured here:
n 2048 reaches the rate of n 3072 on one and two threads, n 1024 falls 5% short)."""
MIN_STREAM_BYTES = 256 * 2**20
"""Each copy array is at least this large, and at least the last-level cache."""
CLEAN_CPU_SHARE = 0.9
"""A CPU kernel had the cores to itself when its process used at least this share of
``threads x wall`` CPU time (measured here under load: 1.00 for a clean call, 0.65-0.77
for a copy that another process interrupted, 0.3 for two threads on a crowded machine)."""
DEFAULT_ROUNDS = 9
DEFAULT_REPEATS = 3
DEFAULT_ATTEMPTS = 12
"""Calls a round may make, at most, to find one that had the cores to itself (thorough only)."""
GIVE_UP_AFTER_ROUNDS = 3
DEFAULT_BUDGET_SECONDS = 5.0
"""Wall seconds a measurement may take unless it is thorough, building the kernels included
(on the 2-core machine: 1.3 s to allocate and touch the copy arrays, then about 0.4 s a
call of both kernels, so three or four rounds of three calls fit; at least one, whatever
the load)."""


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Kernels:
    """Two timed kernels on one device: the hook through which any framework is measured.

    ``matmul()`` and ``stream()`` each run their kernel once and return its seconds, with
    the device's work finished, or ``(seconds, clean)`` where ``clean`` says the kernel had
    the device to itself (see :func:`measure`); ``matmul_flops`` and ``stream_bytes`` are
    the work of one call. ``settings`` describe the kernels (sizes, library, threads) and are part of the
    cache key.
    """

    device: str
    matmul: Callable[[], float | tuple[float, bool]]
    matmul_flops: float
    stream: Callable[[], float | tuple[float, bool]]
    stream_bytes: float
    settings: Mapping[str, Any] = field(default_factory=dict)
    close: Callable[[], None] = _nothing


def timed(run: Callable[[], Any], synchronize: Callable[[], Any] | None = None) -> Callable[[], float]:
    """A kernel callable for :class:`Kernels`: time ``run()``, synchronising the device
    before the clock starts and before it is read (for asynchronous devices)."""
    clock = time.perf_counter

    def kernel() -> float:
        if synchronize is not None:
            synchronize()
        start = clock()
        run()
        if synchronize is not None:
            synchronize()
        return clock() - start

    return kernel


@dataclass(frozen=True)
class Ceilings:
    """A device's measured roofs; ``spread`` holds the lowest and highest round of each."""

    device: str
    peak_flops_per_second: float
    memory_bytes_per_second: float
    settings: Mapping[str, Any]
    spread: Mapping[str, list[float]]
    rounds: int
    measured: str
    """When, in UTC (ISO 8601)."""
    measure_seconds: float
    contended_rounds: Mapping[str, int] = field(default_factory=dict)
    """Per ceiling, the rounds in which no call had the device to itself."""
    contended: bool = False
    """Whether either figure is a median over contended rounds (fewer than half had a clean
    call): a ceiling of the moment, not of the machine; the cache measures it again later."""
    load_average: float | None = None
    """The 1-minute load average when the measurement began (None where unknown)."""
    budget_seconds: float | None = None
    """The time budget it was measured under; None: thorough (no budget, contended rounds retried)."""
    note: str = ""
    """How the figures were adjusted, if they were (see :func:`bench.roofline.cache.cpu_ceilings`)."""
    from_cache: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; what a run document's ``roofline`` section holds per device."""
        data = asdict(self)
        data["settings"], data["spread"] = dict(self.settings), {k: list(v) for k, v in self.spread.items()}
        data["contended_rounds"] = dict(self.contended_rounds)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ceilings:
        """The inverse of :meth:`as_dict`; KeyError/TypeError/ValueError for anything else
        (numbers must be JSON numbers, not strings or booleans, and finite; ``contended``
        defaults to what ``contended_rounds`` says, for files written before it existed)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"ceilings must be a mapping, not {type(data).__name__}")
        rounds = _integer(data["rounds"], "rounds")
        if rounds < 1:
            raise ValueError("rounds must be at least 1")
        spread = _mapping(data["spread"], "spread")
        contended_rounds = _mapping(data.get("contended_rounds") or {}, "contended_rounds")
        ceilings = cls(
            device=_text(data["device"], "device"),
            peak_flops_per_second=_real(data["peak_flops_per_second"], "peak_flops_per_second"),
            memory_bytes_per_second=_real(data["memory_bytes_per_second"], "memory_bytes_per_second"),
            settings=dict(_mapping(data["settings"], "settings")),
            spread={str(k): [_real(x, "spread") for x in _sequence(v, "spread")] for k, v in spread.items()},
            rounds=rounds,
            measured=_text(data["measured"], "measured"),
            measure_seconds=_real(data["measure_seconds"], "measure_seconds"),
            contended_rounds={str(k): _integer(v, "contended_rounds") for k, v in contended_rounds.items()},
            contended=False,
            load_average=None if data.get("load_average") is None else _real(data["load_average"], "load_average"),
            budget_seconds=None if data.get("budget_seconds") is None else _real(data["budget_seconds"], "budget_seconds"),
            note=_text(data.get("note") or "", "note"),
            from_cache=_flag(data.get("from_cache", False), "from_cache"),
        )
        if not all(v > 0 for v in (ceilings.peak_flops_per_second, ceilings.memory_bytes_per_second)):
            raise ValueError("ceilings must be positive and finite")
        if ceilings.measure_seconds < 0 or any(not 0 <= v <= rounds for v in ceilings.contended_rounds.values()):
            raise ValueError("measure_seconds must be at least 0, contended_rounds between 0 and rounds")
        measured_at(ceilings)
        derived = any(2 * count > rounds for count in ceilings.contended_rounds.values())
        return replace(ceilings, contended=_flag(data.get("contended", derived), "contended"))

    def _contention(self) -> str:
        return _contention_text(self.contended_rounds, self.rounds)

    def describe(self) -> str:
        """``cpu: 312 GFLOP/s, 26.0 GB/s (2 threads; 9 rounds, spread ...)``."""
        flops, memory = self.spread.get("peak_flops_per_second", []), self.spread.get("memory_bytes_per_second", [])
        threads = self.settings.get("threads")
        where = f"{threads} thread{'s' if threads != 1 else ''}; " if threads else ""
        spread = ""
        if len(flops) == 2 and len(memory) == 2:
            spread = (f", rounds {flops[0] / 1e9:.0f}-{flops[1] / 1e9:.0f} GFLOP/s, "
                      f"{memory[0] / 1e9:.1f}-{memory[1] / 1e9:.1f} GB/s")
        return (
            f"{self.device}: {self.peak_flops_per_second / 1e9:.0f} GFLOP/s, {self.memory_bytes_per_second / 1e9:.1f} GB/s"
            f" ({where}median of {self.rounds} rounds{spread}{self._contention()}; measured {self.measured}"
            f"{'; ' + self.note if self.note else ''}"
            f"{', cached' if self.from_cache else ''})"
        )


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value!r}")
    return float(value)


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, not {value!r}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {value!r}")
    return value


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, not {value!r}")
    return value


def _sequence(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{name} must be a list, not {value!r}")
    return value


def _contention_text(contended: Mapping[str, int], rounds: int) -> str:
    busy = {k: v for k, v in contended.items() if v}
    if not busy:
        return ""
    names = {"peak_flops_per_second": "compute", "memory_bytes_per_second": "memory"}
    return "; contended rounds: " + ", ".join(f"{names.get(k, k)} {v}/{rounds}" for k, v in busy.items())


def measured_at(ceilings: Ceilings) -> datetime:
    """The ``measured`` date as an aware datetime (ValueError if it is not ISO 8601)."""
    moment = datetime.fromisoformat(ceilings.measured.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def measure(
    kernels: Kernels,
    rounds: int = DEFAULT_ROUNDS,
    repeats: int = DEFAULT_REPEATS,
    attempts: int = DEFAULT_ATTEMPTS,
    *,
    budget: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Ceilings:
    """Time both kernels ``rounds`` times, interleaved, the fastest of ``repeats`` calls per
    round; return the medians over rounds as the device's ceilings.

    A kernel may return ``(seconds, clean)`` instead of seconds, ``clean`` saying whether it
    had the device to itself (the CPU kernels check their CPU time). A round's value is its
    fastest clean call; when at least half the rounds have one, the median is over those
    rounds only, else over all, ``contended_rounds`` says how many had none and
    ``contended`` is true.

    ``budget`` (seconds of ``clock``, None: none) bounds the measurement: after the warm-up
    call of each kernel and a first round with at least one call of each, no round starts
    that would end past the budget, nor any call (a call is expected to take as long as
    that kernel's last one), so fewer rounds or repeats may be made (``rounds`` of the
    result says how many), and a contended round is not called again. Without a budget (the thorough procedure) a
    round whose ``repeats`` calls were all contended calls again, up to ``attempts`` calls
    in all, until one is clean (on a crowded machine a short call now and then gets the
    cores); after ``GIVE_UP_AFTER_ROUNDS`` rounds without a clean call it stops trying (the
    cores are taken; more calls would only cost time).
    """
    if rounds < 1 or repeats < 1:
        raise ValueError("rounds and repeats must be at least 1")
    if budget is not None and not budget >= 0:
        raise ValueError("budget must be at least 0 seconds")
    start = clock()
    load = load_average()
    deadline = math.inf if budget is None else start + budget
    pairs = ((kernels.matmul, kernels.matmul_flops), (kernels.stream, kernels.stream_bytes))
    cost = [0.0, 0.0]  # wall seconds of each kernel's last call

    def call(which: int) -> tuple[float, bool]:
        before = clock()
        sample = _sample(pairs[which][0]())
        cost[which] = clock() - before
        return sample

    def fits(seconds: float) -> bool:
        return clock() + seconds <= deadline

    for which in (0, 1):  # warm-up: first-touch pages, BLAS buffers, thread pools
        call(which)
    every: list[list[float]] = [[], []]
    clean: list[list[float]] = [[], []]
    done = 0
    for round_index in range(rounds):
        if round_index > 0 and not fits(repeats * (cost[0] + cost[1])):
            break
        order = (0, 1) if round_index % 2 == 0 else (1, 0)
        for which in order:
            samples = [call(which)]
            while len(samples) < repeats and fits(cost[which]):
                samples.append(call(which))
            hopeless = budget is not None or (round_index >= GIVE_UP_AFTER_ROUNDS and not clean[which])
            while not hopeless and len(samples) < attempts and not any(alone for _, alone in samples):
                samples.append(call(which))
            ours = [seconds for seconds, alone in samples if alone]
            every[which].append(_rate(pairs[which][1], min(ours or [seconds for seconds, _ in samples])))
            if ours:
                clean[which].append(every[which][-1])
        done += 1
    used = [clean[i] if 2 * len(clean[i]) >= done else every[i] for i in (0, 1)]
    names = ("peak_flops_per_second", "memory_bytes_per_second")
    return Ceilings(
        device=kernels.device,
        peak_flops_per_second=statistics.median(used[0]),
        memory_bytes_per_second=statistics.median(used[1]),
        settings=dict(kernels.settings),
        spread={name: [min(values), max(values)] for name, values in zip(names, used, strict=True)},
        rounds=done,
        measured=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        measure_seconds=clock() - start,
        contended_rounds={name: done - len(clean[i]) for i, name in enumerate(names)},
        contended=any(2 * len(clean[i]) < done for i in (0, 1)),
        load_average=load,
        budget_seconds=budget,
    )


def load_average() -> float | None:
    """The 1-minute load average of the machine (None where the system does not say)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _sample(result: float | tuple[float, bool]) -> tuple[float, bool]:
    if isinstance(result, tuple):
        return float(result[0]), bool(result[1])
    return float(result), True


def _rate(work: float, seconds: float) -> float:
    return work / seconds if seconds > 0 else math.inf


# -- the CPU, with numpy ----------------------------------------------------------------


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def last_level_cache_bytes() -> int | None:
    """The size of the CPU's last-level cache, from sysfs (Linux) or sysconf; None if unknown."""
    best: tuple[int, int] | None = None
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level = int((index / "level").read_text())
            if (index / "type").read_text().strip() == "Instruction":
                continue
            size = _parse_size((index / "size").read_text().strip())
        except (OSError, ValueError):
            continue
        if best is None or level > best[0]:
            best = (level, size)
    if best is not None:
        return best[1]
    for name in ("SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
        try:
            size = os.sysconf(name)
        except (ValueError, OSError, AttributeError):
            continue
        if size > 0:
            return int(size)
    return None


def _parse_size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    if text and text[-1].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def blas_description() -> str:
    """numpy's BLAS as threadpoolctl sees it (``openblas 0.3.31 SkylakeX``)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "unknown"
    info = blas[0]
    return " ".join(str(info[k]) for k in ("internal_api", "version", "architecture") if info.get(k))


def stream_array_bytes(requested: int | None = None) -> int:
    """Bytes of each copy array: at least the last-level cache and ``MIN_STREAM_BYTES``, so a
    copy streams at least twice the cache; at most a sixteenth of the machine's memory."""
    if requested is not None:
        return max(4, int(requested) // 4 * 4)
    size = max(last_level_cache_bytes() or 0, MIN_STREAM_BYTES)
    try:
        import psutil

        size = min(size, psutil.virtual_memory().total // 16)
    except ImportError:
        pass
    return max(4, int(size) // 4 * 4)


def cpu_settings(threads: int | None = None, matmul_size: int = MATMUL_SIZE, stream_bytes: int | None = None) -> dict[str, Any]:
    """What the CPU kernels will be for these settings (part of the cache key)."""
    count = threads or available_cores()
    array = stream_array_bytes(stream_bytes)
    return {
        "threads": count,
        "matmul": f"float32 {matmul_size}x{matmul_size} @ {matmul_size}x{matmul_size}, numpy.matmul",
        "matmul_size": matmul_size,
        "blas": blas_description(),
        "stream": f"copy of {array / 2**20:.0f} MiB float32 into another array, "
                  f"numpy.copyto on {count} thread{'s' * (count != 1)}",
        "stream_array_bytes": array,
        "last_level_cache_bytes": last_level_cache_bytes(),
        "numpy": np.__version__,
    }


def _cpu_sample(wall: float, cpu: float, threads: int) -> tuple[float, bool]:
    """A CPU kernel's wall time, clean when its threads were on a core nearly all along."""
    return wall, cpu >= CLEAN_CPU_SHARE * threads * wall


def even_slices(length: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices covering ``range(length)``, their sizes at most one apart."""
    bounds = [length * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


def parallel_copy(source: np.ndarray, target: np.ndarray, slices: list[slice], pool: ThreadPoolExecutor | None) -> None:
    """``target[:] = source``, one slice per pool thread (numpy's copy releases the GIL)."""
    if pool is None:
        np.copyto(target, source)
        return
    for future in [pool.submit(np.copyto, target[part], source[part]) for part in slices]:
        future.result()


def cpu_kernels(threads: int | None = None, matmul_size: int = MATMUL_SIZE, stream_bytes: int | None = None) -> Kernels:
    """numpy kernels on the CPU with ``threads`` threads (``None``: every available core).

    The product runs in numpy's BLAS, capped at ``threads`` by threadpoolctl; the copy
    (``numpy.copyto``, a memcpy that releases the GIL) is split into ``threads`` equal
    slices run in parallel. A copy of ``N`` bytes counts ``2N`` (read and write, as
    STREAM's copy). Allocates both copy arrays (``2 x stream_bytes``) and touches them now.
    """
    from threadpoolctl import ThreadpoolController

    settings = cpu_settings(threads, matmul_size, stream_bytes)
    count = settings["threads"]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((matmul_size, matmul_size), dtype=np.float32)
    b = rng.standard_normal((matmul_size, matmul_size), dtype=np.float32)
    c = np.empty_like(a)
    length = settings["stream_array_bytes"] // 4
    source, target = np.full(length, 1.0, np.float32), np.full(length, 2.0, np.float32)
    slices = even_slices(length, count)
    controller = ThreadpoolController()
    pool = ThreadPoolExecutor(count, thread_name_prefix="bench-stream") if count > 1 else None
    clock, cpu_clock = time.perf_counter, time.process_time

    def matmul() -> tuple[float, bool]:
        with controller.limit(limits=count, user_api="blas"):
            start, cpu = clock(), cpu_clock()
            np.matmul(a, b, out=c)
            return _cpu_sample(clock() - start, cpu_clock() - cpu, count)

    def stream() -> tuple[float, bool]:
        start, cpu = clock(), cpu_clock()
        parallel_copy(source, target, slices, pool)
        return _cpu_sample(clock() - start, cpu_clock() - cpu, count)

    def close() -> None:
        if pool is not None:
            pool.shutdown()

    return Kernels(
        device="cpu",
        matmul=matmul,
        matmul_flops=2.0 * matmul_size**3,
        stream=stream,
        stream_bytes=2.0 * source.nbytes,
        settings=settings,
        close=close,
    )
