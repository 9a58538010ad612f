"""Two runs side by side, and the gate ``bench compare A B --fail-below RATIO``.

:func:`compare_runs` pairs the rows of a baseline run A and a candidate run B by their
:func:`~bench.results.identity.match_key` (plugin, device, placement, steps per call, the
settings that vary between the rows of either run, and every param both runs record for
the plugin) and says for each pair whether it holds: B's steps/s at least ``fail_below``
times A's. Rows present in only one run are
listed too; the gate fails when the candidate lacks a row the baseline measured, when a
row the baseline measured failed in the candidate, and when the candidate run was
interrupted. Rows unavailable in the candidate (no such device here) are not compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import UsageError
from bench.results.identity import match_key, match_label, shared_params, varying_across
from bench.results.model import Row, RunDocument, Status

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


def compare_runs(baseline: RunDocument, candidate: RunDocument, fail_below: float | None = None) -> list[RowComparison]:
    """Every row key of either run, in the baseline's order, then the candidate's new ones."""
    if fail_below is not None and not (fail_below > 0 and math.isfinite(fail_below)):
        raise UsageError(f"--fail-below must be a positive number, not {fail_below}")
    varying = varying_across(baseline.results, candidate.results)
    shared = shared_params(baseline.results, candidate.results)
    before = {match_key(r, varying, shared): r for r in baseline.results}
    after = {match_key(r, varying, shared): r for r in candidate.results}
    comparisons = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        comparisons.append(_compare(key, old, new, fail_below))
    return comparisons


def _compare(key: tuple[str, ...], old: Row | None, new: Row | None, fail_below: float | None) -> RowComparison:
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
    return RowComparison(key, old, new, ratio, fail_below is None or ratio >= fail_below)


def comparability_notes(baseline: RunDocument, candidate: RunDocument) -> list[str]:
    """Differences in recipe or machine that make a steps/s ratio mean less."""
    notes = []
    ca, cb = baseline.config, candidate.config
    for key in ("batch_size", "dataset", "preprocessing", "threads", "placement", "isolation"):
        if ca.get(key) != cb.get(key):
            notes.append(f"{key} differs: A {ca.get(key)!r}, B {cb.get(key)!r}")
    ma, mb = baseline.machine, candidate.machine
    for key in ("cpu", "cpu_count_logical", "gpus"):
        if key in ma and key in mb and ma[key] != mb[key]:
            notes.append(f"machine {key} differs: A {ma[key]!r}, B {mb[key]!r}")
    return notes


def gate_lines(
    comparisons: Sequence[RowComparison], fail_below: float, candidate: RunDocument
) -> tuple[list[str], bool]:
    """What ``bench compare --fail-below`` prints after the table, and whether it fails.

    It fails when a row fails, when the candidate run was interrupted, and when no row
    could be compared at all: a gate that compared nothing must not pass.
    """
    failed = [c for c in comparisons if not c.ok]
    lines = []
    for c in failed:
        if c.ratio is not None:
            lines.append(
                f"REGRESSION {c.label}: {rate(c.candidate):.1f} steps/s is {c.ratio:.3f} x the baseline's "
                f"{rate(c.baseline):.1f} (below {fail_below:g})"
            )
        else:
            lines.append(f"REGRESSION {c.label}: {c.note}")
    for c in comparisons:
        if c.ok and c.note:
            lines.append(f"not compared: {c.label}: {c.note}")
    compared = sum(1 for c in comparisons if c.ratio is not None)
    interrupted = candidate.interrupted is not None
    if interrupted:
        lines.append(f"REGRESSION: the candidate run was interrupted ({candidate.interrupted}); its rows are incomplete")
    if failed:
        lines.append(f"{len(failed)} of {len(comparisons)} rows fail the gate ({fail_below:g} x the baseline's steps/s)")
    elif compared == 0:
        lines.append("nothing compared: no row of B has steps/s to set against the same row in A")
        return lines, True
    elif not interrupted:
        lines.append(f"all {compared} compared rows are at or above {fail_below:g} x the baseline's steps/s")
    return lines, bool(failed) or interrupted
