"""Within one run: every classifier's step time against the reference's, measured interleaved."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bench.classifier import Classifier, ClassifierSpec, SetupConfig
from bench.dataset import Dataset
from bench.errors import UsageError
from bench.regression.bounds import REFERENCE, Bounds
from bench.regression.checks import Check, CheckReport
from bench.schedule import build_schedule

Batches = Sequence[tuple[np.ndarray, np.ndarray]]
"""(images, labels) training batches, used in turn."""


@dataclass
class RelativeTiming:
    """One classifier's step time relative to the reference, from interleaved rounds."""

    name: str
    ratio: float
    """Median over rounds of (this round's CPU time a step / the reference's in the same round)."""
    step_seconds: float
    """Median over rounds of this classifier's per-round CPU time a step (the round's lower quartile)."""
    round_ratios: list[float]
    round_step_seconds: list[float]
    round_wall_ratios: list[float] = field(default_factory=list)
    """As ``round_ratios``, on the wall clock (for people: the check decides on CPU time)."""

    @property
    def wall_ratio(self) -> float:
        """Median over rounds of the wall-clock ratio (NaN when none was measured)."""
        return float(np.median(self.round_wall_ratios)) if self.round_wall_ratios else math.nan

    def joined(self, later: RelativeTiming) -> RelativeTiming:
        """This timing and a later one of the same classifier, as one: their rounds together."""
        ratios = self.round_ratios + later.round_ratios
        steps = self.round_step_seconds + later.round_step_seconds
        return replace(self, ratio=float(np.median(ratios)), step_seconds=float(np.median(steps)),
                       round_ratios=ratios, round_step_seconds=steps,
                       round_wall_ratios=self.round_wall_ratios + later.round_wall_ratios)


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


def _time_steps_on_both_clocks(clf: Classifier, batches: Batches, steps: int,
                               start: int) -> tuple[list[float], list[float]]:
    """Each step's CPU time (the process's, all its threads) and wall-clock time."""
    train_step, cpu, wall, n = clf.train_step, time.process_time, time.perf_counter, len(batches)
    cpu_times, wall_times = [], []
    for i in range(start, start + steps):
        images, labels = batches[i % n]
        c0, w0 = cpu(), wall()
        train_step(images, labels)
        w1, c1 = wall(), cpu()
        cpu_times.append(c1 - c0)
        wall_times.append(w1 - w0)
    return cpu_times, wall_times


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
    quartile) of its steps' CPU times (the process's, all threads); a classifier's ratio is
    the median over rounds of its round statistic divided by the reference's in the same
    round. The same on the wall clock is kept beside it (``round_wall_ratios``).

    Why CPU time: other jobs take the CPU in time slices. A step shorter than a slice
    mostly runs between them, a longer one is stretched by the share of the CPU this
    process gets, so wall-clock ratios of slow classifiers grow with the machine's load
    (jax-eager 51-60 instead of 21 beside two spinning processes; 26-27 in CPU time).

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
    per_round_wall: dict[str, list[float]] = {name: [] for name in names}
    with _gc_paused():
        for name in names:
            _time_steps(classifiers[name], batches, warmup_steps, 0)
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                cpu, wall = _time_steps_on_both_clocks(classifiers[name], batches, steps, warmup_steps + r * steps)
                per_round[name].append(float(np.percentile(cpu, quantile)))
                per_round_wall[name].append(float(np.percentile(wall, quantile)))
    timings = {}
    for name in names:
        round_ratios = _ratios(per_round[name], per_round[reference])
        timings[name] = RelativeTiming(
            name=name,
            ratio=float(np.median(round_ratios)),
            step_seconds=float(np.median(per_round[name])),
            round_ratios=round_ratios,
            round_step_seconds=per_round[name],
            round_wall_ratios=_ratios(per_round_wall[name], per_round_wall[reference]),
        )
    return timings


def _ratios(times: Sequence[float], reference: Sequence[float]) -> list[float]:
    return [t / r for t, r in zip(times, reference, strict=True)]


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
            if timing.round_wall_ratios:
                detail += f"; wall-clock ratio {timing.wall_ratio:.3f}"
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
    """:func:`measure_relative` then :func:`check_step_ratios`, measuring again what was past a bound.

    A classifier whose median is past its bound, significantly or not, is measured again
    together with the reference (up to ``attempts`` passes in all), and its new rounds
    join the earlier ones: each check is decided on the rounds of all its attempts. A
    burst of noise is outvoted by the rounds after it; a real slowdown stays past the
    bound in every round, and more rounds only make it more significant.
    """
    timings: dict[str, RelativeTiming] = {}
    checks: dict[str, Check] = {}
    retried: list[str] = []
    names = [n for n in factories if n == bounds.reference or bounds.ratio_bound(n) is not None]
    done = 0
    while True:
        subset = {n: factories[n] for n in names}
        for name, timing in measure_relative(subset, batches, config, reference=bounds.reference, **options).items():
            timings[name] = timings[name].joined(timing) if name in timings else timing
        done += 1
        measured = {n: timings[n] for n in names}
        checks.update((check.name, check) for check in check_step_ratios(measured, bounds))
        again = [check.name for check in checks.values() if check.past]
        if not again or done >= attempts:
            break
        retried.extend(n for n in again if n not in retried)
        names = [n for n in names if n == bounds.reference or n in again]
    return CheckReport(list(checks.values()), done, retried)
