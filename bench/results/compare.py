"""Two runs side by side, with a verdict per row, and the gates of ``bench compare A B``.

:func:`compare_runs` pairs the rows of a baseline run A and a candidate run B by their
:func:`~bench.results.identity.match_key` (plugin, device, placement, steps per call, the
settings that vary between the rows of either run, and every param both runs record for
the plugin). For each pair it gives the ratio B/A of steps/s, its 95 % interval, a p-value
and a verdict, ``faster``, ``slower`` or ``same``
(:func:`bench.results.statistics.compare_rates`: a change counts only when it is both
significant and larger than the noise threshold). Rows present in only one run are listed
too.

Two gates: ``fail_below`` (``--fail-below RATIO``) fails a row whose B/A is below RATIO,
noise or not; ``fail_on_slower`` (``--fail-on-slower``) fails a row whose verdict is
``slower``, and so never fails on noise. Both fail when the candidate lacks a row the
baseline measured, when a row the baseline measured failed in the candidate, and when the
candidate run was interrupted. Rows unavailable in the candidate (no such device here) are
not compared. Runs of different datasets or recipes are not compared at all
(:func:`check_comparable`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import UsageError
from bench.results.identity import match_key, match_label, shared_params, varying_across
from bench.results.model import Row, RunDocument, Status
from bench.results.statistics import ALPHA, THRESHOLD, Plan, RateComparison, compare_rates, repeats_needed

NOT_MEASURED = {Status.UNAVAILABLE}
"""Candidate statuses that are not a regression: the device is absent on this machine."""


@dataclass(frozen=True)
class RowComparison:
    """One row key, in both runs or only one."""

    key: tuple[str, ...]
    baseline: Row | None
    candidate: Row | None
    ratio: float | None
    """Candidate steps/s over baseline steps/s (B/A); ``None`` when either is missing."""
    ok: bool
    note: str = ""
    test: RateComparison | None = None
    """The interval, p-value and verdict of the ratio (``None`` without a ratio, or for
    rows with neither processes' figures nor step times: a schema-1 file)."""

    @property
    def verdict(self) -> str | None:
        """``faster``, ``slower`` or ``same``; ``None`` when the rows were not compared."""
        return self.test.verdict if self.test else None

    @property
    def label(self) -> str:
        """``a (cpu, resident x5, batch_size=50)`` (:func:`~bench.results.identity.match_label`)."""
        return match_label(self.key)


def rate(row: Row | None) -> float | None:
    """A row's steps/s when it is ok and positive."""
    if row is None or not row.ok or row.steps_per_second is None:
        return None
    value = row.steps_per_second
    return value if value > 0 and math.isfinite(value) else None


def compare_runs(baseline: RunDocument, candidate: RunDocument, fail_below: float | None = None, *,
                 fail_on_slower: bool = False, threshold: float = THRESHOLD,
                 alpha: float = ALPHA) -> list[RowComparison]:
    """Every row key of either run, in the baseline's order, then the candidate's new ones."""
    if fail_below is not None and not (fail_below > 0 and math.isfinite(fail_below)):
        raise UsageError(f"--fail-below must be a positive number, not {fail_below}")
    if not 0 < threshold < 1:
        raise UsageError(f"--threshold must be a fraction between 0 and 1 (0.05 for 5%), not {threshold:g}")
    varying = varying_across(baseline.results, candidate.results)
    shared = shared_params(baseline.results, candidate.results)
    before = {match_key(r, varying, shared): r for r in baseline.results}
    after = {match_key(r, varying, shared): r for r in candidate.results}
    gate = Gate(fail_below, fail_on_slower, threshold, alpha)
    return [gate.compare(key, before.get(key), after.get(key)) for key in [*before, *(k for k in after if k not in before)]]


@dataclass(frozen=True)
class Gate:
    """What a pair of rows is held to: ``fail_below`` x the baseline's steps/s, and with
    ``fail_on_slower`` no ``slower`` verdict (at ``threshold`` and ``alpha``)."""

    fail_below: float | None = None
    fail_on_slower: bool = False
    threshold: float = THRESHOLD
    alpha: float = ALPHA

    def compare(self, key: tuple[str, ...], old: Row | None, new: Row | None) -> RowComparison:
        sa, sb = rate(old), rate(new)
        if old is None:
            return RowComparison(key, None, new, None, True, "only in the candidate")
        if new is None:
            measured = sa is not None
            return RowComparison(key, old, None, None, not measured,
                                 "missing from the candidate" if measured else f"only in the baseline ({old.status})")
        if sa is None:
            return RowComparison(key, old, new, None, True, f"baseline has no steps/s ({old.status})")
        if sb is None:
            ok = new.status in NOT_MEASURED
            note = f"not measured in the candidate ({new.status})" if ok else f"candidate {new.status}: {new.error}"
            return RowComparison(key, old, new, None, ok, note)
        ratio = sb / sa
        test = compare_rates((old.process_steps_per_second, old.step_seconds),
                             (new.process_steps_per_second, new.step_seconds), ratio, self.threshold, self.alpha)
        ok = (self.fail_below is None or ratio >= self.fail_below) and not (
            self.fail_on_slower and test is not None and test.verdict == "slower")
        return RowComparison(key, old, new, ratio, ok, "", test)


def check_comparable(baseline: RunDocument, candidate: RunDocument) -> None:
    """Refuse (UsageError) runs whose rows trained on different data or recipes: a ratio of
    their steps/s measures the difference, not a change of speed. A setting that a sweep
    varies is compared row by row instead; a setting either file lacks is not compared."""
    swept = {key for document in (baseline, candidate) for key in (document.config.get("sweep") or {})}
    for key in ("dataset", "preprocessing", "sampling", "steps", "batch_size", "learning_rate"):
        if key in swept or key not in baseline.config or key not in candidate.config:
            continue
        a, b = baseline.config[key], candidate.config[key]
        if a != b:
            what = "datasets" if key in ("dataset", "preprocessing") else "recipes"
            raise UsageError(f"the runs have different {what} ({key} {a!r} in A, {b!r} in B): "
                             "their steps/s are not comparable")


def plan_repeats(baseline: RunDocument, candidate: RunDocument, size: float = THRESHOLD) -> Plan | None:
    """How many processes per run would detect a change of ``size`` on the machine the runs
    measured, from the spread between the processes of each of their rows
    (:func:`~bench.results.statistics.repeats_needed`); ``None`` when no row ran in two."""
    return repeats_needed([row.process_steps_per_second for document in (baseline, candidate)
                           for row in document.results if row.ok], size)


def comparability_notes(baseline: RunDocument, candidate: RunDocument) -> list[str]:
    """Differences in recipe or machine that make a steps/s ratio mean less."""
    notes = []
    ca, cb = baseline.config, candidate.config
    for key in ("threads", "placement", "isolation", "repeat"):
        default = 1 if key == "repeat" else None  # a file from before --repeat measured one process a row
        if ca.get(key, default) != cb.get(key, default):
            notes.append(f"{key} differs: A {ca.get(key, default)!r}, B {cb.get(key, default)!r}")
    ma, mb = baseline.machine, candidate.machine
    for key in ("cpu", "cpu_count_logical", "gpus"):
        if key in ma and key in mb and ma[key] != mb[key]:
            notes.append(f"machine {key} differs: A {ma[key]!r}, B {mb[key]!r}")
    return notes


def gate_lines(
    comparisons: Sequence[RowComparison], fail_below: float | None, candidate: RunDocument, *,
    fail_on_slower: bool = False, threshold: float = THRESHOLD,
) -> tuple[list[str], bool]:
    """What ``bench compare --fail-below`` / ``--fail-on-slower`` prints after the table,
    and whether it fails.

    It fails when a row fails, when the candidate run was interrupted, and when no row
    could be compared at all: a gate that compared nothing must not pass.
    """
    failed = [c for c in comparisons if not c.ok]
    lines = []
    for c in failed:
        if c.ratio is None:
            lines.append(f"REGRESSION {c.label}: {c.note}")
        elif fail_below is not None and c.ratio < fail_below:
            lines.append(
                f"REGRESSION {c.label}: {rate(c.candidate):.1f} steps/s is {c.ratio:.3f} x the baseline's "
                f"{rate(c.baseline):.1f} (below {fail_below:g})"
            )
        elif c.test is not None:
            lines.append(
                f"REGRESSION {c.label}: slower: {rate(c.candidate):.1f} steps/s is {c.ratio:.3f} x the baseline's "
                f"{rate(c.baseline):.1f} (95% CI {c.test.ci95[0]:.3f}-{c.test.ci95[1]:.3f}, p={c.test.p_value:.2g}, "
                f"past the {100 * threshold:g}% threshold"
                + ("; from one process's steps a side, which leave out the variation between processes: "
                   "measure both runs with --repeat 5 or more)" if c.test.basis == "steps" else ")")
            )
    for c in comparisons:
        if c.ok and c.note:
            lines.append(f"not compared: {c.label}: {c.note}")
    compared = sum(1 for c in comparisons if c.ratio is not None)
    interrupted = candidate.interrupted is not None
    held = [f"{fail_below:g} x the baseline's steps/s"] if fail_below is not None else []
    if fail_on_slower:
        held.append(f"no significant slowdown past {100 * threshold:g}%")
    rule = " and ".join(held)
    if interrupted:
        lines.append(f"REGRESSION: the candidate run was interrupted ({candidate.interrupted}); its rows are incomplete")
    if failed:
        lines.append(f"{len(failed)} of {len(comparisons)} rows fail the gate ({rule})")
    elif compared == 0:
        lines.append("nothing compared: no row of B has steps/s to set against the same row in A")
        return lines, True
    elif not interrupted:
        if fail_below is not None and not fail_on_slower:
            lines.append(f"all {compared} compared rows are at or above {fail_below:g} x the baseline's steps/s")
        else:
            lines.append(f"all {compared} compared rows pass the gate ({rule})")
    return lines, bool(failed) or interrupted
