"""Within one run: every classifier's step time against the reference's, measured interleaved."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.classifier import Classifier, ClassifierSpec, SetupConfig
from bench.dataset import Dataset
from bench.errors import UsageError
from bench.regression.bounds import REFERENCE, Bounds
from bench.regression.checks import Check, CheckReport, _merge
from bench.schedule import build_schedule

Batches = Sequence[tuple[np.ndarray, np.ndarray]]
"""(images, labels) training batches, used in turn."""


@dataclass
class RelativeTiming:
    """One classifier's step time relative to the reference, from interleaved rounds."""

    name: str
    ratio: float
    """Median over rounds of (this round's step time / the reference's in the same round)."""
    step_seconds: float
    """Median over rounds of this classifier's per-round step time (the round's lower quartile)."""
    round_ratios: list[float]
    round_step_seconds: list[float]


def fixed_batches(
    dataset: Dataset, count: int = 8, batch_size: int = 100, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` training batches gathered from the dataset's schedule, as the harness gathers them."""
    schedule = build_schedule(len(dataset.train_labels), count, batch_size, seed)
    return [
        (
            np.take(dataset.train_images, schedule.indices[i], axis=0),
            np.take(dataset.train_labels, schedule.indices[i]),
        )
        for i in range(count)
    ]


def setup_config(dataset: Dataset, batch_size: int = 100, spec: ClassifierSpec | None = None,
                 threads: int | None = None) -> SetupConfig:
    """The reference recipe on ``dataset`` with ``batch_size`` (and ``threads``; ``None``:
    the framework's default), and ``spec``'s own learning rate and ``--param`` values where
    it has defaults (the two-layer models do)."""
    learning_rate = spec.defaults.learning_rate if spec is not None else None
    return SetupConfig(
        learning_rate=0.005 if learning_rate is None else learning_rate,
        batch_size=batch_size,
        input_dim=dataset.input_dim,
        num_classes=dataset.num_classes,
        threads=threads,
        params=spec.param_defaults() if spec is not None else {},
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection inside the timed loops (as pytest-benchmark's --benchmark-disable-gc)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _time_steps(clf: Classifier, batches: Batches, steps: int, start: int) -> list[float]:
    train_step, clock, n = clf.train_step, time.perf_counter, len(batches)
    times = []
    for i in range(start, start + steps):
        images, labels = batches[i % n]
        t0 = clock()
        train_step(images, labels)
        times.append(clock() - t0)
    return times


def relative_step_times(
    classifiers: Mapping[str, Classifier],
    batches: Batches,
    *,
    reference: str = REFERENCE,
    rounds: int = 9,
    steps: int = 15,
    warmup_steps: int = 10,
    quantile: float = 25.0,
) -> dict[str, RelativeTiming]:
    """Time ``classifiers`` (already set up) interleaved; return each one's ratio to ``reference``.

    Every classifier first takes ``warmup_steps`` untimed steps (tracing, XLA compilation,
    the first allocations). Then, ``rounds`` times, each classifier takes ``steps`` timed
    steps in turn, the order rotated every round so that no classifier always runs right
    after the same neighbour. A round's statistic is the ``quantile`` (default: the lower
    quartile) of its step times; a classifier's ratio is the median over rounds of its
    round statistic divided by the reference's in the same round.

    Why the lower quartile within a round and not the median: noise on a shared machine
    only ever adds time, and it hits some frameworks harder than others. With other
    processes keeping both cores busy, tf-eager's round medians rose to 10-15 times the
    numpy step (5 when quiet) while its lower quartiles stayed between 5 and 9.5. A
    slower implementation is slower in every step, so it moves the quartile as much as
    the median.
    """
    if reference not in classifiers:
        raise UsageError(f"the reference {reference!r} must be among the classifiers measured")
    if rounds < 1 or steps < 1:
        raise UsageError("rounds and steps must be at least 1")
    names = list(classifiers)
    per_round: dict[str, list[float]] = {name: [] for name in names}
    with _gc_paused():
        for name in names:
            _time_steps(classifiers[name], batches, warmup_steps, 0)
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                times = _time_steps(classifiers[name], batches, steps, warmup_steps + r * steps)
                per_round[name].append(float(np.percentile(times, quantile)))
    ref = per_round[reference]
    timings = {}
    for name in names:
        round_ratios = [m / r for m, r in zip(per_round[name], ref, strict=True)]
        timings[name] = RelativeTiming(
            name=name,
            ratio=float(np.median(round_ratios)),
            step_seconds=float(np.median(per_round[name])),
            round_ratios=round_ratios,
            round_step_seconds=per_round[name],
        )
    return timings


def measure_relative(
    factories: Mapping[str, Callable[[], Classifier]],
    batches: Batches,
    config: SetupConfig | Mapping[str, SetupConfig],
    **options: Any,
) -> dict[str, RelativeTiming]:
    """Create and set up each classifier, run :func:`relative_step_times`, close them all.

    ``config`` is one SetupConfig for all, or one per name.
    """
    classifiers: dict[str, Classifier] = {}
    try:
        for name, factory in factories.items():
            clf = factory()
            classifiers[name] = clf
            clf.setup(config[name] if isinstance(config, Mapping) else config)
        return relative_step_times(classifiers, batches, **options)
    finally:
        # Newest first: a classifier's setup may change process-wide state (the numpy
        # plugin limits BLAS threads) that its close puts back as it found it.
        for clf in reversed(list(classifiers.values())):
            try:
                clf.close()
            except Exception:  # noqa: BLE001 - closing is best effort here
                pass


def check_step_ratios(timings: Mapping[str, RelativeTiming | float], bounds: Bounds) -> list[Check]:
    """Check each classifier's ratio against its bound; those without a bound are skipped.

    A :class:`RelativeTiming` is checked by its rounds (:meth:`Check.of_rounds`: it fails
    only when its rounds cross the bound significantly); a plain number by its value."""
    checks = []
    reference = timings.get(bounds.reference)
    for name, timing in timings.items():
        if name == bounds.reference:
            continue
        bound = bounds.ratio_bound(name)
        if bound is None:
            continue
        if isinstance(timing, RelativeTiming):
            detail = f"step {1e3 * timing.step_seconds:.3f} ms"
            if isinstance(reference, RelativeTiming):
                detail += f", {bounds.reference} {1e3 * reference.step_seconds:.3f} ms"
            checks.append(Check.of_rounds(name, "step_time_ratio", timing.round_ratios, bound.min, bound.max, detail))
        else:
            ratio = float(timing)
            checks.append(Check(name, "step_time_ratio", ratio, bound.min, bound.max, bound.min <= ratio <= bound.max))
    return checks


def check_relative_speed(
    factories: Mapping[str, Callable[[], Classifier]],
    batches: Batches,
    config: SetupConfig | Mapping[str, SetupConfig],
    bounds: Bounds,
    *,
    attempts: int = 3,
    **options: Any,
) -> CheckReport:
    """:func:`measure_relative` then :func:`check_step_ratios`, retrying what failed.

    A retry measures the reference again together with only the classifiers that were
    out of bounds, so a burst of noise costs a few seconds, not a failed build. A real
    slowdown is out of bounds in every attempt and fails.
    """
    final: dict[tuple[str, str], Check] = {}
    retried: list[str] = []
    names = [n for n in factories if n == bounds.reference or bounds.ratio_bound(n) is not None]
    done = 0
    while done < max(1, attempts):
        subset = {n: factories[n] for n in names}
        timings = measure_relative(subset, batches, config, reference=bounds.reference, **options)
        done += 1
        failing = _merge(final, check_step_ratios(timings, bounds))
        if not failing or done == attempts:
            break
        retried.extend(n for n in names if n in failing and n not in retried)
        names = [n for n in names if n == bounds.reference or n in failing]
    return CheckReport(list(final.values()), done, retried)
