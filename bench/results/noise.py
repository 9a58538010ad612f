"""How busy the machine was while a row was timed, judged from the figures
:class:`bench.measure.NoiseProbe` recorded (rows of older files have none: never busy).

A row is *busy* when, on average over its training, other processes (and, on a virtual
machine, other guests: steal time) kept at least :data:`BUSY_SHARE` of the machine's CPUs
busy. Its threads are *oversubscribed* when it was busy and ran several threads (its
``--threads`` above 1; with the framework's default threads, more than one of its
process's threads ran at least 5 % of the time: ``active_threads``) on more CPUs than the
others left free: threads that spin while they wait for each
other (OpenMP) then lose their CPU to the other jobs, and a step can take many times
longer than on a quiet machine.
"""

from __future__ import annotations

import math

from bench.results.model import Row

BUSY_SHARE = 0.25
"""Others' average CPU use, as a share of the machine's CPUs, from which a row is busy."""
MIN_WINDOW_SECONDS = 0.5
"""Shorter training is not judged (the machine-wide CPU times tick in hundredths of a second)."""
BUSY_MARK = "*"


def _per_second(seconds: float | None, row: Row) -> float | None:
    window = row.noise_window_seconds
    if seconds is None or window is None or window < MIN_WINDOW_SECONDS:
        return None
    return seconds / window


def others_cpus(row: Row) -> float | None:
    """How many CPUs other processes kept busy, on average, while the row trained."""
    return _per_second(row.others_cpu_seconds, row)


def own_cpus(row: Row) -> float | None:
    """How many CPUs the row's own process used, on average, while it trained."""
    return _per_second(row.own_cpu_seconds, row)


def is_busy(row: Row) -> bool:
    """Whether others kept at least :data:`BUSY_SHARE` of the CPUs busy while the row trained."""
    others, cpus = others_cpus(row), row.cpu_count
    return others is not None and cpus is not None and others >= BUSY_SHARE * cpus


def oversubscribed(row: Row) -> str | None:
    """Why the row's speed may be the machine's, not the classifier's: it ran more threads
    than the CPUs others left free (``None`` when not, or when it cannot tell)."""
    others, cpus, threads = others_cpus(row), row.cpu_count, row.active_threads
    if not is_busy(row) or others is None or cpus is None or threads is None:
        return None
    free = max(0.0, cpus - others)
    given = row.settings.get("threads")
    if isinstance(given, int) and not isinstance(given, bool):
        threads = given  # what the user can change (a framework keeps a thread or two of its own)
    if threads <= 1 or threads <= free + 0.5:
        return None
    ran = f"{threads} busy threads (the framework default)" if given is None else f"--threads {given}"
    details = [f"load {row.load_average:.1f}"] if row.load_average is not None else []
    if row.involuntary_switches is not None:
        details.append(f"{row.involuntary_switches} involuntary switches")
    return (f"ran {ran} while other processes kept {others:.1f} of {cpus} CPUs busy ({', '.join(details)}): "
            f"its threads competed for the CPUs; on a shared machine measure with --threads "
            f"{max(1, math.floor(free + 0.5))}")
