"""Speed regression checks that hold on a shared, noisy machine.

Two kinds of check live here.

**Within one run** (:func:`relative_step_times`, :func:`harness_vs_bare`). A number
measured on another day, or on another machine, says little on a shared CI runner: five
back-to-back runs of one commit gave tf-graph 664 to 1134 steps/s on bench's 2-core CI
machine. So these checks never compare against a stored time. They compare, in the same process and interleaved round
by round (A B C, then B C A, ...), every classifier's step time with the numpy
reference's, and the harness's measured step time with a bare loop over the same
classifier. Whatever slows the machine down slows both sides of a ratio; a burst of
noise spoils a round or two, and the median over rounds ignores those. The allowed
ratios are recorded in a bounds file (``tests/benchmarks/bounds.json``), with margins
wide enough for a noisy two-core machine and still well short of a real slowdown
(a step doing several times its work).

**Across runs** (:func:`compare_runs`): the steps/s of each row of a new run against a
saved baseline, for ``bench compare A B --fail-below RATIO`` on a machine quiet enough
for that to mean something.

``python -m bench.regression --bounds FILE`` runs the within-run check from a shell.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.classifier import Classifier, ClassifierSpec, SetupConfig
from bench.dataset import Dataset
from bench.errors import UsageError
from bench.measure import OK, measure
from bench.schedule import BatchSchedule, build_schedule

REFERENCE = "numpy"
Batches = Sequence[tuple[np.ndarray, np.ndarray]]
"""(images, labels) training batches, used in turn."""

# ---------------------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatioBound:
    """Allowed range of (a classifier's step time) / (the reference's), measured interleaved."""

    max: float
    min: float = 0.0


@dataclass(frozen=True)
class Bounds:
    """What the within-run check allows; see ``tests/benchmarks/bounds.json``."""

    reference: str = REFERENCE
    step_time_ratio: Mapping[str, RatioBound] = field(default_factory=dict)
    """Classifier name -> allowed step-time ratio over the reference."""
    default_step_time_ratio: RatioBound | None = None
    """For classifiers not listed (a third-party plugin); ``None``: they are not checked."""
    harness_min_ratio: Mapping[str, float] = field(default_factory=dict)
    """Classifier name -> lowest allowed (harness steps/s) / (bare loop with the same gather)."""
    harness_pregathered_min_ratio: Mapping[str, float] = field(default_factory=dict)
    """Classifier name -> lowest allowed (harness steps/s) / (bare loop on pre-gathered batches)."""

    def ratio_bound(self, name: str) -> RatioBound | None:
        return self.step_time_ratio.get(name, self.default_step_time_ratio)


def load_bounds(path: str | Path) -> Bounds:
    """Read a bounds file (JSON). Keys starting with ``_`` are comments.

    ::

        {"reference": "numpy",
         "step_time_ratio": {"tf-graph": {"max": 8.0, "min": 0.4}, "*": {"max": 40.0}},
         "harness_min_ratio": {"numpy": 0.6}}
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read bounds file {path}: {exc}") from None
    return bounds_from_dict(data, str(path))


def bounds_from_dict(data: Mapping[str, Any], where: str = "bounds") -> Bounds:
    if not isinstance(data, Mapping):
        raise UsageError(f"{where}: top level is not an object")
    ratios: dict[str, RatioBound] = {}
    default = None
    for name, spec in _entries(data.get("step_time_ratio", {})):
        bound = _ratio_bound(spec, f"{where}: step_time_ratio.{name}")
        if name == "*":
            default = bound
        else:
            ratios[name] = bound
    floors: dict[str, dict[str, float]] = {}
    for section in ("harness_min_ratio", "harness_pregathered_min_ratio"):
        floors[section] = {}
        for name, value in _entries(data.get(section, {})):
            if isinstance(value, Mapping):
                value = value.get("min")
            floors[section][name] = _positive(value, f"{where}: {section}.{name}")
    return Bounds(
        reference=str(data.get("reference", REFERENCE)),
        step_time_ratio=ratios,
        default_step_time_ratio=default,
        harness_min_ratio=floors["harness_min_ratio"],
        harness_pregathered_min_ratio=floors["harness_pregathered_min_ratio"],
    )


def _entries(section: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(section, Mapping):
        raise UsageError("bounds: a section is not an object")
    for name, value in section.items():
        if not str(name).startswith("_"):
            yield str(name), value


def _ratio_bound(spec: Any, where: str) -> RatioBound:
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return RatioBound(max=_positive(spec, where))
    if not isinstance(spec, Mapping) or "max" not in spec:
        raise UsageError(f"{where}: expected a number or an object with max (and min)")
    low = spec.get("min", 0.0)
    bound = RatioBound(max=_positive(spec["max"], where), min=0.0 if low in (None, 0) else _positive(low, where))
    if bound.min >= bound.max:
        raise UsageError(f"{where}: min {bound.min} is not below max {bound.max}")
    return bound


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise UsageError(f"{where}: expected a positive number, not {value!r}")
    return float(value)


# ---------------------------------------------------------------------------------------
# Within one run: every classifier against the reference, interleaved
# ---------------------------------------------------------------------------------------


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


def setup_config(dataset: Dataset, batch_size: int = 100, spec: ClassifierSpec | None = None) -> SetupConfig:
    """The reference recipe on ``dataset`` with ``batch_size``, and ``spec``'s own learning
    rate and ``--param`` values where it has defaults (the two-layer models do)."""
    defaults = spec.defaults if spec is not None else {}
    params = dict(defaults.get("params") or {})  # type: ignore[call-overload]
    return SetupConfig(
        learning_rate=float(defaults.get("learning_rate", 0.005)),  # type: ignore[arg-type]
        batch_size=batch_size,
        input_dim=dataset.input_dim,
        num_classes=dataset.num_classes,
        params={str(k): str(v) for k, v in params.items()},
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
            except Exception:  # noqa: BLE001, S110 - closing is best effort here
                pass


@dataclass
class Check:
    """One bound checked."""

    name: str
    kind: str
    """``"step_time_ratio"``, ``"harness_ratio"`` or ``"harness_ratio_pregathered"``."""
    value: float
    low: float
    high: float
    ok: bool
    detail: str = ""
    """The times behind the ratio, for people."""

    def describe(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        if self.kind == "step_time_ratio":
            allowed = f"{self.low:g}..{self.high:g}" if self.low > 0 else f"<= {self.high:g}"
            what = "step time / reference"
        else:
            allowed = f">= {self.low:g}"
            what = "harness steps/s / bare loop"
            if self.kind.endswith("pregathered"):
                what += " (pre-gathered batches)"
        detail = f"; {self.detail}" if self.detail else ""
        return f"{verdict}: {self.name}: {what} = {self.value:.3f} (allowed {allowed}{detail})"


def check_step_ratios(timings: Mapping[str, RelativeTiming | float], bounds: Bounds) -> list[Check]:
    """Check each classifier's ratio against its bound; those without a bound are skipped."""
    checks = []
    reference = timings.get(bounds.reference)
    for name, timing in timings.items():
        if name == bounds.reference:
            continue
        bound = bounds.ratio_bound(name)
        if bound is None:
            continue
        detail = ""
        if isinstance(timing, RelativeTiming):
            ratio = timing.ratio
            detail = f"step {1e3 * timing.step_seconds:.3f} ms"
            if isinstance(reference, RelativeTiming):
                detail += f", {bounds.reference} {1e3 * reference.step_seconds:.3f} ms"
        else:
            ratio = float(timing)
        ok = bound.min <= ratio <= bound.max
        checks.append(Check(name, "step_time_ratio", ratio, bound.min, bound.max, ok, detail))
    return checks


@dataclass
class CheckReport:
    """Checks after retries: a bound fails only if it failed in every attempt."""

    checks: list[Check]
    """One per bound: its passing attempt if it had one, else its last."""
    attempts: int = 1
    """Measurement passes made (the most any part of the check needed)."""
    retried: list[str] = field(default_factory=list)
    """Names measured again because a bound failed in an earlier attempt."""

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def extend(self, other: CheckReport) -> None:
        self.checks.extend(other.checks)
        self.attempts = max(self.attempts, other.attempts)
        self.retried.extend(name for name in other.retried if name not in self.retried)

    def describe(self) -> str:
        lines = [check.describe() for check in self.checks]
        if self.retried:
            lines.append(
                f"measured again after a failed bound: {', '.join(self.retried)} ({self.attempts} attempts "
                "at most; a bound fails only if it failed in every attempt)"
            )
        return "\n".join(lines)


def _merge(final: dict[tuple[str, str], Check], checks: Sequence[Check]) -> set[str]:
    """Keep each bound's passing result (or its latest); return the names that failed now."""
    failing = set()
    for check in checks:
        key = (check.name, check.kind)
        previous = final.get(key)
        if previous is None or not previous.ok:
            final[key] = check
        if not check.ok:
            failing.add(check.name)
    return failing


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


# ---------------------------------------------------------------------------------------
# Within one run: the harness against a bare loop over the same classifier
# ---------------------------------------------------------------------------------------


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


def harness_vs_bare(
    spec: ClassifierSpec,
    dataset: Dataset,
    *,
    rounds: int = 7,
    steps: int = 25,
    batch_size: int = 100,
    seed: int = 0,
) -> HarnessTiming:
    """Interleave :func:`bench.measure.measure` with two bare loops over ``spec``, ``rounds`` times.

    The harness round is a whole ``measure`` call on a ``steps``-step schedule; its rate
    is the median step after the first (the gather from the schedule included). Each bare
    round creates and sets up the same classifier, takes one untimed step (as ``measure``
    reports the first step apart) and takes the median of the other ``steps - 1``: one bare
    loop gathers each batch from the schedule into a reused buffer inside the timed
    region, the other calls ``train_step`` on batches gathered beforehand. The order of
    the three rotates every round.
    """
    if rounds < 1 or steps < 2:
        raise UsageError("harness_vs_bare needs at least 1 round of at least 2 steps")
    config = setup_config(dataset, batch_size, spec)
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
    row = measure(spec, config.device, dataset, schedule, config)
    if row.status != OK or row.step_seconds_median is None:
        raise RuntimeError(f"{spec.name}: the harness round failed: {row.status}: {row.error}")
    return row.step_seconds_median


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
    """Check both harness ratios against their floors (``name`` defaults to the timing's)."""
    name = name or timing.name
    checks = []
    for kind, floors, ratio in (
        ("harness_ratio", bounds.harness_min_ratio, timing.ratio),
        ("harness_ratio_pregathered", bounds.harness_pregathered_min_ratio, timing.ratio_pregathered),
    ):
        floor = floors.get(name)
        if floor is not None:
            bare = timing.bare_step_seconds if kind == "harness_ratio" else timing.pregathered_step_seconds
            detail = f"harness {1e3 * timing.harness_step_seconds:.3f} ms, bare {1e3 * bare:.3f} ms a step"
            checks.append(Check(name, kind, ratio, floor, math.inf, ratio >= floor, detail))
    return checks


def check_harness_speed(
    spec: ClassifierSpec, dataset: Dataset, bounds: Bounds, *, attempts: int = 3, **options: Any
) -> CheckReport:
    """:func:`harness_vs_bare` then :func:`check_harness`, measured again while a bound fails."""
    final: dict[tuple[str, str], Check] = {}
    done = 0
    while done < max(1, attempts):
        failing = _merge(final, check_harness(harness_vs_bare(spec, dataset, **options), bounds))
        done += 1
        if not failing:
            break
    return CheckReport(list(final.values()), done, [spec.name] if done > 1 else [])


# ---------------------------------------------------------------------------------------
# Across runs: bench compare A B --fail-below RATIO
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowComparison:
    """One (plugin, device) row present in both runs."""

    plugin: str
    device: str
    baseline_steps_per_second: float | None
    candidate_steps_per_second: float | None
    ratio: float | None
    """Candidate steps/s over baseline steps/s (B/A); ``None`` when either is missing."""
    ok: bool
    note: str = ""


NOT_MEASURED = {"unavailable"}
"""Candidate statuses that are not a regression: the device is absent on this machine."""


def compare_runs(baseline: Mapping[str, Any], candidate: Mapping[str, Any], fail_below: float) -> list[RowComparison]:
    """Compare every row of ``candidate`` with the same plugin and device in ``baseline``.

    A row fails when its steps/s ratio B/A is below ``fail_below``, or when the baseline
    measured it and the candidate did not because it failed or diverged. Rows only in one
    run, rows the baseline has no rate for, and rows unavailable in the candidate (no
    such device here) are reported as ok, with a note.
    """
    if not (fail_below > 0 and math.isfinite(fail_below)):
        raise UsageError(f"--fail-below must be a positive number, not {fail_below}")
    before = {(r.get("plugin"), r.get("device")): r for r in baseline.get("results", [])}
    comparisons = []
    for row in candidate.get("results", []):
        key = (row.get("plugin"), row.get("device"))
        old = before.get(key)
        if old is None:
            continue
        sa, sb = _rate(old), _rate(row)
        plugin, device = str(key[0]), str(key[1])
        if sa is None:
            note = f"baseline has no steps/s ({old.get('status')})"
            comparisons.append(RowComparison(plugin, device, None, sb, None, True, note))
        elif sb is None:
            status = str(row.get("status"))
            ok = status in NOT_MEASURED
            note = f"not measured in the candidate ({status})" if ok else f"candidate {status}: {row.get('error')}"
            comparisons.append(RowComparison(plugin, device, sa, None, None, ok, note))
        else:
            ratio = sb / sa
            comparisons.append(RowComparison(plugin, device, sa, sb, ratio, ratio >= fail_below))
    return comparisons


def _rate(row: Mapping[str, Any]) -> float | None:
    value = row.get("steps_per_second")
    if row.get("status") != OK or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value > 0 and math.isfinite(value) else None


def comparability_notes(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[str]:
    """Differences in recipe or machine that make a steps/s ratio mean less."""
    notes = []
    ca, cb = baseline.get("config") or {}, candidate.get("config") or {}
    for key in ("batch_size", "dataset", "preprocessing", "threads", "placement"):
        if ca.get(key) != cb.get(key):
            notes.append(f"{key} differs: A {ca.get(key)!r}, B {cb.get(key)!r}")
    ma, mb = baseline.get("machine") or {}, candidate.get("machine") or {}
    for key in ("cpu", "cpu_count_logical", "gpus"):
        if key in ma and key in mb and ma[key] != mb[key]:
            notes.append(f"machine {key} differs: A {ma[key]!r}, B {mb[key]!r}")
    return notes


def regression_lines(comparisons: Sequence[RowComparison], fail_below: float) -> tuple[list[str], bool]:
    """What ``bench compare --fail-below`` prints after the table, and whether it fails.

    It fails when a row fails (see :func:`compare_runs`), and also when no row could be
    compared at all: a gate that compared nothing must not pass.
    """
    failed = [c for c in comparisons if not c.ok]
    lines = []
    for c in failed:
        if c.ratio is not None:
            lines.append(
                f"REGRESSION {c.plugin} ({c.device}): {c.candidate_steps_per_second:.1f} steps/s is "
                f"{c.ratio:.3f} x the baseline's {c.baseline_steps_per_second:.1f} (below {fail_below:g})"
            )
        else:
            lines.append(f"REGRESSION {c.plugin} ({c.device}): {c.note}")
    for c in comparisons:
        if c.ok and c.note:
            lines.append(f"not compared: {c.plugin} ({c.device}): {c.note}")
    compared = sum(1 for c in comparisons if c.ratio is not None)
    if failed:
        lines.append(f"{len(failed)} of {len(comparisons)} rows fall below {fail_below:g} x the baseline's steps/s")
    elif compared == 0:
        lines.append("nothing compared: no row of B has steps/s to set against the same plugin and device in A")
        return lines, True
    else:
        lines.append(f"all {compared} compared rows are at or above {fail_below:g} x the baseline's steps/s")
    return lines, bool(failed)


# ---------------------------------------------------------------------------------------
# python -m bench.regression --bounds FILE
# ---------------------------------------------------------------------------------------


def run_check(
    bounds: Bounds,
    names: Sequence[str] | None = None,
    *,
    attempts: int = 3,
    harness: bool = True,
    out: Callable[[str], None] = print,
    **options: Any,
) -> CheckReport:
    """The whole within-run check on the synthetic dataset: ratios to the reference, then the harness."""
    from bench.dataset import load_dataset
    from bench.plugins import installed_registry

    registry = installed_registry()
    if names:
        names = list(names)
    else:
        names = [n for n in registry.classifiers if n == bounds.reference or bounds.ratio_bound(n) is not None]
    if bounds.reference not in names:
        names.insert(0, bounds.reference)
    specs = {name: registry.get(name) for name in names}
    dataset = load_dataset("synthetic")
    report = check_relative_speed(
        {name: spec.factory for name, spec in specs.items()},
        fixed_batches(dataset),
        {name: setup_config(dataset, 100, spec) for name, spec in specs.items()},
        bounds,
        attempts=attempts,
        **options,
    )
    if harness:
        for name in dict.fromkeys([*bounds.harness_min_ratio, *bounds.harness_pregathered_min_ratio]):
            if name in registry.classifiers:
                report.extend(check_harness_speed(registry.get(name), dataset, bounds, attempts=attempts))
    out(report.describe())
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.regression",
        description="Within-run speed check: each classifier's step time against the numpy "
        "reference's, and the harness against a bare loop, interleaved in one process.",
    )
    parser.add_argument("--bounds", required=True, help="bounds file (JSON), e.g. tests/benchmarks/bounds.json")
    parser.add_argument("--plugins", help="comma-separated classifiers (default: all with a bound)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default: 9)")
    parser.add_argument("--steps", type=int, default=15, help="timed steps per classifier per round (default: 15)")
    parser.add_argument("--attempts", type=int, default=3, help="measure a failing bound again up to this often")
    parser.add_argument("--no-harness", action="store_true", help="skip the harness-vs-bare check")
    args = parser.parse_args(argv)
    try:
        bounds = load_bounds(args.bounds)
        names = [n.strip() for n in args.plugins.split(",") if n.strip()] if args.plugins else None
        report = run_check(
            bounds, names, attempts=args.attempts, harness=not args.no_harness, rounds=args.rounds, steps=args.steps
        )
    except UsageError as exc:
        print(f"bench.regression: error: {exc}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
