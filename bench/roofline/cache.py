"""Ceilings measured once per machine and settings, kept in the user cache directory.

A measurement takes seconds (it allocates and streams twice the last-level cache), and the
machine does not change between runs, so :func:`cached_ceilings` keeps each result as one
JSON file, ``<user cache dir>/bench/roofline/ceilings-<device>-<key>.json``. The key is a
digest of everything the figures depend on: the machine (host, CPU model, cores this
process may use), the kernels' settings (threads, sizes, BLAS library, numpy version), the
rounds and the method's version. A file is used only when its key matches, it is younger
than ``max_age`` and its figures are physically plausible (numbers within
``FLOPS_RANGE`` and ``BANDWIDTH_RANGE``, each inside its own rounds' spread); anything
else is measured again. ``remeasure=True`` measures again and replaces it. A file that
cannot be written is only a lost cache.

A measurement is bounded by ``budget`` seconds (:data:`DEFAULT_BUDGET_SECONDS`) unless it
is ``thorough``. Figures measured while other processes held the cores (``contended`` in
the file, with the rounds that were and the load average then) are not retried at once:
a later call measures again as soon as the machine is quieter (its 1-minute load average
at least ``QUIETER_BY`` lower than the file's), and after an hour in any case.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.roofline.ceilings import (
    DEFAULT_BUDGET_SECONDS,
    DEFAULT_REPEATS,
    DEFAULT_ROUNDS,
    Ceilings,
    Kernels,
    available_cores,
    cpu_kernels,
    cpu_settings,
    load_average,
    measure,
    measured_at,
)

METHOD_VERSION = 2
"""Bump when the measurement changes, so that older cached figures are not reused."""
MAX_AGE = timedelta(days=30)
CONTENDED_MAX_AGE = timedelta(hours=1)
"""Ceilings measured while other work held the cores are measured again after this."""
QUIETER_BY = 0.5
"""A contended entry is measured again when the 1-minute load average is lower by this."""
FLOPS_RANGE = (1e6, 1e16)
"""FLOP/s a cached peak may have: a generous physical range (a 1990s CPU to a 10 PFLOP/s chip)."""
BANDWIDTH_RANGE = (1e6, 1e14)
"""Bytes/s a cached bandwidth may have (1 MB/s to 100 TB/s)."""


def default_cache_dir() -> Path:
    """``<user cache dir>/bench/roofline`` (:func:`bench.paths.user_cache_dir`)."""
    from bench.paths import user_cache_dir

    return user_cache_dir() / "roofline"


def machine_key() -> dict[str, Any]:
    """What identifies the machine for the cache: host, CPU model, usable cores."""
    from bench.machine import cpu_model

    return {"host": platform.node(), "cpu": cpu_model(), "cpu_count": os.cpu_count(), "cores_available": available_cores()}


def cache_key(device: str, settings: Mapping[str, Any], rounds: int, repeats: int) -> dict[str, Any]:
    """The full key: machine, device, kernel settings, rounds, method version."""
    return {
        "method_version": METHOD_VERSION,
        "machine": machine_key(),
        "device": device,
        "settings": dict(settings),
        "rounds": rounds,
        "repeats": repeats,
    }


def cache_file(key: Mapping[str, Any], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the ceilings for ``key`` are kept: ``ceilings-<device>-<digest of key>.json``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    device = re.sub(r"[^A-Za-z0-9]+", "-", str(key.get("device", "device"))).strip("-") or "device"
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"ceilings-{device}-{digest}.json"


def load(key: Mapping[str, Any], cache_dir: str | os.PathLike[str] | None = None, max_age: timedelta = MAX_AGE,
         now: datetime | None = None, load_now: float | None = None) -> Ceilings | None:
    """The cached ceilings for ``key``, or None when absent, unreadable, another key, not
    plausible (:func:`check`), too old, or contended while the machine is quieter now
    (``load_now``, the current 1-minute load average, at least ``QUIETER_BY`` below the
    entry's; None: not compared)."""
    path = cache_file(key, cache_dir)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("key") != json.loads(json.dumps(key, default=str)):
            return None
        ceilings = check(Ceilings.from_dict(data["ceilings"]), str(key.get("device")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    age = (now or datetime.now(timezone.utc)) - measured_at(ceilings)
    if mostly_contended(ceilings):  # measured on a crowded machine: kept only briefly, and while it stays crowded
        max_age = min(max_age, CONTENDED_MAX_AGE)
        if load_now is not None and ceilings.load_average is not None and load_now + QUIETER_BY <= ceilings.load_average:
            return None
    if age > max_age or age < -timedelta(days=1):  # too old, or from a clock far ahead
        return None
    return replace(ceilings, from_cache=True)


def check(ceilings: Ceilings, device: str | None = None) -> Ceilings:
    """``ceilings`` if they are physically plausible, else ValueError: the peak within
    ``FLOPS_RANGE``, the bandwidth within ``BANDWIDTH_RANGE``, each figure inside its
    rounds' spread (``[lowest, highest]``, both in range), the device ``device`` if given."""
    if device is not None and ceilings.device != device:
        raise ValueError(f"ceilings of {ceilings.device!r}, not {device!r}")
    for name, (low, high) in (("peak_flops_per_second", FLOPS_RANGE), ("memory_bytes_per_second", BANDWIDTH_RANGE)):
        value = getattr(ceilings, name)
        spread = ceilings.spread.get(name)
        if not low <= value <= high:
            raise ValueError(f"{name} {value:g} outside {low:g}..{high:g}")
        if spread is None or len(spread) != 2 or not low <= spread[0] <= high or not low <= spread[1] <= high:
            raise ValueError(f"{name}'s spread {spread} is not two figures within {low:g}..{high:g}")
        if not spread[0] * (1 - 1e-9) <= value <= spread[1] * (1 + 1e-9):
            raise ValueError(f"{name} {value:g} outside its rounds' spread {spread}")
    return ceilings


def store(key: Mapping[str, Any], ceilings: Ceilings, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Write ``ceilings`` under ``key`` (atomically: a temporary file renamed); None if it
    cannot, or if they are not plausible (:func:`check`)."""
    path = cache_file(key, cache_dir)
    data = {"key": key, "ceilings": replace(ceilings, from_cache=False).as_dict()}
    try:
        check(ceilings)
    except ValueError:  # a broken kernel's figures: not worth keeping (load would refuse them)
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".ceilings-", suffix=".tmp", delete=False) as f:
            json.dump(data, f, indent=1, sort_keys=True, default=str)
            temporary = Path(f.name)
        os.replace(temporary, path)
    except OSError:
        return None
    return path


def cached_ceilings(
    device: str,
    settings: Mapping[str, Any],
    make_kernels: Callable[[], Kernels],
    *,
    remeasure: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    max_age: timedelta = MAX_AGE,
    rounds: int = DEFAULT_ROUNDS,
    repeats: int = DEFAULT_REPEATS,
    thorough: bool = False,
    budget: float = DEFAULT_BUDGET_SECONDS,
    progress: Callable[[str], None] | None = None,
    what: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
    load_now: Callable[[], float | None] = load_average,
) -> Ceilings:
    """The ceilings of ``device`` for these kernel ``settings``: from the cache, or measured
    with ``make_kernels()`` (called only then) and cached. The hook for any device.

    A measurement takes at most about ``budget`` seconds of ``clock``, building the kernels
    included (:func:`~bench.roofline.ceilings.measure`); ``thorough=True`` measures without
    a budget, every round, contended rounds called again, and reuses only a cached entry
    that was itself measured so. A contended entry is reused until the machine is quieter
    (``load_now()``, see :func:`load`). Before measuring, ``progress`` (if given) is called
    with one line saying so, ``what`` naming the figures (default: the device's ceilings).
    ``measure_seconds`` of the result is the wall time of building, measuring and closing.
    """
    key = cache_key(device, settings, rounds, repeats)
    if not remeasure:
        found = load(key, cache_dir, max_age, load_now=load_now())
        if found is not None and (not thorough or found.budget_seconds is None):
            return found
    if progress is not None:
        what = what or f"the {device} ceilings"
        how = "thoroughly (a minute or more on a busy machine" if thorough else f"(about {budget:g} s"
        progress(f"measuring {what} {how}; then cached)")
    start = clock()
    kernels = make_kernels()
    try:
        left = None if thorough else max(0.0, budget - (clock() - start))
        ceilings = measure(kernels, rounds=rounds, repeats=repeats, budget=left, clock=clock)
    finally:
        kernels.close()
    ceilings = replace(ceilings, measure_seconds=clock() - start, budget_seconds=None if thorough else budget)
    store(key, ceilings, cache_dir)  # a crowded machine's figures are measured again later (see load)
    return ceilings


def mostly_contended(ceilings: Ceilings) -> bool:
    """Whether most rounds of either ceiling never had the device to itself (``contended``)."""
    return ceilings.contended or any(2 * count > ceilings.rounds for count in ceilings.contended_rounds.values())


def cpu_ceilings(
    threads: int | None = None,
    *,
    remeasure: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    max_age: timedelta = MAX_AGE,
    rounds: int = DEFAULT_ROUNDS,
    repeats: int = DEFAULT_REPEATS,
    thorough: bool = False,
    budget: float = DEFAULT_BUDGET_SECONDS,
    progress: Callable[[str], None] | None = None,
    **kernel_options: Any,
) -> Ceilings:
    """This CPU's ceilings with ``threads`` threads (``None``: every core the process may
    use), cached. ``kernel_options`` (``matmul_size``, ``stream_bytes``) size the kernels;
    ``thorough``, ``budget`` and ``progress`` are those of :func:`cached_ceilings`.

    Rows that may use several threads may also use one, so their ceilings are never below
    one thread's: when other processes held the cores for most rounds of a several-thread
    measurement, each ceiling is at least the one-thread figure (its median and spread;
    ``note`` says so). A thorough call measures the one-thread figures when they are not
    cached; a bounded one only uses cached ones (it would not fit the budget twice).
    """
    settings = cpu_settings(threads, **kernel_options)
    count = settings["threads"]
    what = f"this CPU's ceilings with {count} thread{'s' * (count != 1)}"
    ceilings = cached_ceilings("cpu", settings, lambda: cpu_kernels(threads, **kernel_options), remeasure=remeasure,
                               cache_dir=cache_dir, max_age=max_age, rounds=rounds, repeats=repeats, thorough=thorough,
                               budget=budget, progress=progress, what=what)
    if count == 1 or not mostly_contended(ceilings):
        return ceilings
    if thorough:
        one: Ceilings | None = cpu_ceilings(1, remeasure=remeasure, cache_dir=cache_dir, max_age=max_age, rounds=rounds,
                                            repeats=repeats, thorough=True, progress=progress, **kernel_options)
    else:
        one = load(cache_key("cpu", cpu_settings(1, **kernel_options), rounds, repeats), cache_dir, max_age)
    if one is None:
        return ceilings
    seconds = ceilings.measure_seconds + (0.0 if one.from_cache or ceilings.from_cache else one.measure_seconds)
    names = {"peak_flops_per_second": "compute", "memory_bytes_per_second": "memory"}
    raised = [name for name in names if getattr(one, name) > getattr(ceilings, name)]
    if not raised:
        return replace(ceilings, measure_seconds=seconds)
    return replace(
        ceilings,
        measure_seconds=seconds,
        spread={**ceilings.spread, **{name: list(one.spread.get(name, [])) for name in raised}},
        note=f"contended: {' and '.join(names[name] for name in raised)} from the 1-thread ceilings "
             f"({one.peak_flops_per_second / 1e9:.0f} GFLOP/s, {one.memory_bytes_per_second / 1e9:.1f} GB/s, "
             f"{one.rounds} rounds, measured {one.measured})",
        **{name: getattr(one, name) for name in raised},
    )
