"""Within one run: the harness's step time against a bare loop over the same classifier, interleaved."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench.classifier import Classifier, ClassifierSpec, SetupConfig
from bench.dataset import Dataset
from bench.errors import UsageError
from bench.job import RowJob, SchedulePlan
from bench.measure import OK, measure
from bench.regression.bounds import Bounds
from bench.regression.checks import Check, CheckReport
from bench.regression.relative import _gc_paused, _time_steps, setup_config
from bench.schedule import BatchSchedule, build_schedule


@dataclass
class HarnessTiming:
    """The harness's steady-state step time against two bare loops, interleaved.

    Ratios are steps/s over steps/s (harness / bare), i.e. bare time / harness time: 1.0
    means the harness costs nothing, 0.5 that it reports half the bare loop's rate.
    """

    name: str
    ratio: float
    """Median over rounds of harness / bare loop doing the same work: the batch gathered
    from the schedule into a reused buffer, then ``train_step`` (the reference script's
    loop). Below 1 by whatever the harness does between its two clock reads beyond that."""
    ratio_pregathered: float
    """Median over rounds of harness / bare loop over batches gathered beforehand, so only
    ``train_step`` is timed. Below ``ratio`` by the cost of the gather, which the harness
    times on purpose (the reference loop pays it every step)."""
    harness_step_seconds: float
    bare_step_seconds: float
    pregathered_step_seconds: float
    round_ratios: list[float]
    round_ratios_pregathered: list[float]

    def joined(self, later: HarnessTiming) -> HarnessTiming:
        """This timing and a later one of the same classifier, as one: their rounds together
        (the step times are the later timing's)."""
        ratios = self.round_ratios + later.round_ratios
        pregathered = self.round_ratios_pregathered + later.round_ratios_pregathered
        return replace(later, ratio=float(np.median(ratios)), ratio_pregathered=float(np.median(pregathered)),
                       round_ratios=ratios, round_ratios_pregathered=pregathered)


def harness_vs_bare(
    spec: ClassifierSpec,
    dataset: Dataset,
    *,
    rounds: int = 7,
    steps: int = 25,
    batch_size: int = 100,
    seed: int = 0,
    threads: int | None = None,
) -> HarnessTiming:
    """Interleave :func:`bench.measure.measure` with two bare loops over ``spec``, ``rounds`` times.

    The harness round is a whole ``measure`` call on a ``steps``-step schedule; its rate
    is the median step after the first (the gather from the schedule included). Each bare
    round creates and sets up the same classifier, takes one untimed step (as ``measure``
    reports the first step apart) and takes the median of the other ``steps - 1``: one bare
    loop gathers each batch from the schedule into a reused buffer inside the timed
    region, the other calls ``train_step`` on batches gathered beforehand. The order of
    the three rotates every round. The classifier is set up with ``threads`` (``None``: its
    framework's default).
    """
    if rounds < 1 or steps < 2:
        raise UsageError("harness_vs_bare needs at least 1 round of at least 2 steps")
    config = setup_config(dataset, batch_size, spec, threads)
    schedule = build_schedule(len(dataset.train_labels), steps, batch_size, seed)
    pregathered = [
        (np.take(dataset.train_images, idx, axis=0), np.take(dataset.train_labels, idx)) for idx in schedule.indices
    ]
    arms: dict[str, Callable[[], float]] = {
        "harness": lambda: _harness_round(spec, dataset, schedule, config),
        "gather": lambda: _bare_round(spec, config, lambda clf: _time_gather_steps(clf, dataset, schedule)),
        "pregathered": lambda: _bare_round(spec, config, lambda clf: _time_steps(clf, pregathered, steps - 1, 1)),
    }
    names = list(arms)
    times: dict[str, list[float]] = {name: [] for name in names}
    with _gc_paused():
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(arms[name]())
    round_ratios = [b / h for b, h in zip(times["gather"], times["harness"], strict=True)]
    round_pre = [b / h for b, h in zip(times["pregathered"], times["harness"], strict=True)]
    return HarnessTiming(
        name=spec.name,
        ratio=float(np.median(round_ratios)),
        ratio_pregathered=float(np.median(round_pre)),
        harness_step_seconds=float(np.median(times["harness"])),
        bare_step_seconds=float(np.median(times["gather"])),
        pregathered_step_seconds=float(np.median(times["pregathered"])),
        round_ratios=round_ratios,
        round_ratios_pregathered=round_pre,
    )


def _harness_round(spec: ClassifierSpec, dataset: Dataset, schedule: BatchSchedule, config: SetupConfig) -> float:
    job = RowJob(spec.name, config.device, config, SchedulePlan.of(schedule))
    row = measure(job, spec, dataset, schedule).measurement
    if row.status != OK or row.stats is None:
        raise RuntimeError(f"{spec.name}: the harness round failed: {row.status}: {row.error}")
    return row.stats.median


def _bare_round(spec: ClassifierSpec, config: SetupConfig, timed: Callable[[Classifier], list[float]]) -> float:
    clf = spec.factory()
    try:
        clf.setup(config)
        return float(np.median(timed(clf)))
    finally:
        clf.close()


def _time_gather_steps(clf: Classifier, dataset: Dataset, schedule: BatchSchedule) -> list[float]:
    """The reference loop: gather into reused buffers, step. The first step is untimed."""
    images, labels, indices = dataset.train_images, dataset.train_labels, schedule.indices
    batch_images = np.empty((schedule.batch_size, images.shape[1]), dtype=images.dtype)
    batch_labels = np.empty(schedule.batch_size, dtype=labels.dtype)
    train_step, take, clock = clf.train_step, np.take, time.perf_counter
    times = []
    for i in range(schedule.steps):
        start = clock()
        take(images, indices[i], axis=0, out=batch_images)
        take(labels, indices[i], out=batch_labels)
        train_step(batch_images, batch_labels)
        if i:
            times.append(clock() - start)
    return times


def check_harness(timing: HarnessTiming, bounds: Bounds, name: str | None = None) -> list[Check]:
    """Check both harness ratios against their floors by their rounds (:meth:`Check.of_rounds`;
    ``name`` defaults to the timing's)."""
    name = name or timing.name
    checks = []
    for kind, floors, rounds in (
        ("harness_ratio", bounds.harness_min_ratio, timing.round_ratios),
        ("harness_ratio_pregathered", bounds.harness_pregathered_min_ratio, timing.round_ratios_pregathered),
    ):
        floor = floors.get(name)
        if floor is not None:
            bare = timing.bare_step_seconds if kind == "harness_ratio" else timing.pregathered_step_seconds
            detail = f"harness {1e3 * timing.harness_step_seconds:.3f} ms, bare {1e3 * bare:.3f} ms a step"
            checks.append(Check.of_rounds(name, kind, rounds, floor, math.inf, detail))
    return checks


def check_harness_speed(
    spec: ClassifierSpec, dataset: Dataset, bounds: Bounds, *, attempts: int = 3, **options: Any
) -> CheckReport:
    """:func:`harness_vs_bare` then :func:`check_harness`, set up with the bounds' threads for
    ``spec``; while a ratio's median is past its floor it is measured again (up to
    ``attempts`` passes), the new rounds joining the earlier ones."""
    options.setdefault("threads", bounds.threads_for(spec.name))
    timing: HarnessTiming | None = None
    done = 0
    while True:
        later = harness_vs_bare(spec, dataset, **options)
        timing = later if timing is None else timing.joined(later)
        checks = check_harness(timing, bounds)
        done += 1
        if not any(check.past for check in checks) or done >= attempts:
            break
    return CheckReport(checks, done, [f"{spec.name} (harness)"] if done > 1 else [])
