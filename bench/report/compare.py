"""Two runs side by side, as ``bench compare`` prints them (the pairing of rows and the
``--fail-below`` gate are :mod:`bench.results.compare`)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.report.text import DEFAULT_FORMAT, fitted_table, num, safe_text, scaled, wrap
from bench.results.compare import RowComparison, comparability_notes, gate_lines, rate
from bench.results.model import RunDocument


def compare_table(comparisons: Sequence[RowComparison], fmt: str = DEFAULT_FORMAT) -> str:
    """Every row of either run: steps/s and accuracy in A and B, and B/A; a row's note (only
    in one run, say) on a line of its own under the table, so that the table fits."""
    headers = ["row", "A steps/s", "B steps/s", "B/A", "A acc %", "B acc %", "B-A pts"]
    body, notes = [], []
    for c in comparisons:
        aa = c.baseline.test_accuracy if c.baseline else None
        ab = c.candidate.test_accuracy if c.candidate else None
        body.append([
            safe_text(c.label),
            num(rate(c.baseline), 0),
            num(rate(c.candidate), 0),
            num(c.ratio, 3),
            num(scaled(aa, 100), 2),
            num(scaled(ab, 100), 2),
            num(None if aa is None or ab is None else 100 * (ab - aa), 2),
        ])
        if c.note:
            notes.append(wrap(f"  {safe_text(c.label)}: {safe_text(c.note)}"))
    return "\n".join([fitted_table(body, headers, fmt, flexible=[0], narrowest=10), *notes])


def render_comparison(
    names: tuple[str, str],
    baseline: RunDocument,
    candidate: RunDocument,
    comparisons: Sequence[RowComparison],
    fmt: str = DEFAULT_FORMAT,
    fail_below: float | None = None,
) -> tuple[str, bool]:
    """What ``bench compare A B`` prints (``names``: where A and B came from), and whether
    the ``fail_below`` gate fails (never without one)."""
    lines = [wrap(f"A: {safe_text(names[0])}\nB: {safe_text(names[1])}"), compare_table(comparisons, fmt)]
    lines += [wrap(f"note: {safe_text(note)}") for note in comparability_notes(baseline, candidate)]
    if fail_below is None:
        return "\n".join(lines), False
    gate, failed = gate_lines(comparisons, fail_below, candidate)
    lines += [wrap(safe_text(line)) for line in gate]
    return "\n".join(lines), failed
