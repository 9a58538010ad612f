"""Ceilings measured once per machine and settings, kept in the user cache directory.

A measurement takes seconds (it allocates and streams twice the last-level cache), and the
machine does not change between runs, so :func:`cached_ceilings` keeps each result as one
JSON file, ``<user cache dir>/bench/roofline/ceilings-<device>-<key>.json``. The key is a
digest of everything the figures depend on: the machine (host, CPU model, cores this
process may use), the kernels' settings (threads, sizes, BLAS library, numpy version), the
rounds and the method's version. A file is used only when its key matches and it is
younger than ``max_age``; ``remeasure=True`` measures again and replaces it. A file that
cannot be read is measured again; one that cannot be written is only a lost cache. Figures
measured while other processes held the cores in most rounds are kept for an hour only.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.roofline.ceilings import (
    DEFAULT_REPEATS,
    DEFAULT_ROUNDS,
    Ceilings,
    Kernels,
    available_cores,
    cpu_kernels,
    cpu_settings,
    measure,
    measured_at,
)

METHOD_VERSION = 2
"""Bump when the measurement changes, so that older cached figures are not reused."""
MAX_AGE = timedelta(days=30)
CONTENDED_MAX_AGE = timedelta(hours=1)
"""Ceilings measured while other work held the cores are measured again after this."""


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
         now: datetime | None = None) -> Ceilings | None:
    """The cached ceilings for ``key``, or None when absent, unreadable, another key, or too old."""
    path = cache_file(key, cache_dir)
    try:
        data = json.loads(path.read_text())
        if data.get("key") != json.loads(json.dumps(key, default=str)):
            return None
        ceilings = Ceilings.from_dict(data["ceilings"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    age = (now or datetime.now(timezone.utc)) - measured_at(ceilings)
    if mostly_contended(ceilings):  # measured on a crowded machine: kept only briefly
        max_age = min(max_age, CONTENDED_MAX_AGE)
    if age > max_age or age < -timedelta(days=1):  # too old, or from a clock far ahead
        return None
    return replace(ceilings, from_cache=True)


def store(key: Mapping[str, Any], ceilings: Ceilings, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Write ``ceilings`` under ``key`` (atomically: a temporary file renamed); None if it cannot."""
    path = cache_file(key, cache_dir)
    data = {"key": key, "ceilings": replace(ceilings, from_cache=False).as_dict()}
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
) -> Ceilings:
    """The ceilings of ``device`` for these kernel ``settings``: from the cache, or measured
    with ``make_kernels()`` (called only then) and cached. The hook for any device."""
    key = cache_key(device, settings, rounds, repeats)
    if not remeasure:
        found = load(key, cache_dir, max_age)
        if found is not None:
            return found
    kernels = make_kernels()
    try:
        ceilings = measure(kernels, rounds=rounds, repeats=repeats)
    finally:
        kernels.close()
    store(key, ceilings, cache_dir)  # a crowded machine's figures are kept for an hour only (see load)
    return ceilings


def mostly_contended(ceilings: Ceilings) -> bool:
    """Whether most rounds of either ceiling never had the device to itself."""
    return any(2 * count > ceilings.rounds for count in ceilings.contended_rounds.values())


def cpu_ceilings(
    threads: int | None = None,
    *,
    remeasure: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    max_age: timedelta = MAX_AGE,
    rounds: int = DEFAULT_ROUNDS,
    repeats: int = DEFAULT_REPEATS,
    **kernel_options: Any,
) -> Ceilings:
    """This CPU's ceilings with ``threads`` threads (``None``: every core the process may
    use), cached. ``kernel_options`` (``matmul_size``, ``stream_bytes``) size the kernels.

    Rows that may use several threads may also use one, so their ceilings are never below
    one thread's: when other processes held the cores for most rounds of a several-thread
    measurement, each ceiling is at least the one-thread figure (``note`` says so).
    """
    settings = cpu_settings(threads, **kernel_options)
    ceilings = cached_ceilings("cpu", settings, lambda: cpu_kernels(threads, **kernel_options), remeasure=remeasure,
                               cache_dir=cache_dir, max_age=max_age, rounds=rounds, repeats=repeats)
    if settings["threads"] == 1 or not mostly_contended(ceilings):
        return ceilings
    one = cpu_ceilings(1, remeasure=remeasure, cache_dir=cache_dir, max_age=max_age, rounds=rounds, repeats=repeats,
                       **kernel_options)
    if one.peak_flops_per_second <= ceilings.peak_flops_per_second and \
            one.memory_bytes_per_second <= ceilings.memory_bytes_per_second:
        return ceilings
    return replace(
        ceilings,
        peak_flops_per_second=max(ceilings.peak_flops_per_second, one.peak_flops_per_second),
        memory_bytes_per_second=max(ceilings.memory_bytes_per_second, one.memory_bytes_per_second),
        note=f"contended: at least the 1-thread ceilings ({one.peak_flops_per_second / 1e9:.0f} GFLOP/s, "
             f"{one.memory_bytes_per_second / 1e9:.1f} GB/s, measured {one.measured})",
    )
