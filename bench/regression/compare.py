"""Across runs: each row's steps/s in a new run against a saved baseline (``bench compare A B --fail-below RATIO``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.errors import UsageError
from bench.measure import OK


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
