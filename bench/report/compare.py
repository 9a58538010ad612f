"""Two runs side by side, as ``bench compare`` prints them (the pairing of rows and the
``--fail-below`` gate are :mod:`bench.results.compare`)."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from bench.report.table import node_label
from bench.report.text import DEFAULT_FORMAT, num, safe_text, scaled
from bench.results.compare import RowComparison, comparability_notes, gate_lines, rate
from bench.results.model import RunDocument


def compare_table(comparisons: Sequence[RowComparison], fmt: str = DEFAULT_FORMAT) -> str:
    """Every row of either run: steps/s and accuracy in A and B, and B/A."""
    headers = ["row", "steps/s A", "steps/s B", "B/A", "acc % A", "acc % B", "acc diff (B-A) pts", "note"]
    body = []
    nodes = any(row is not None and row.node for c in comparisons for row in (c.baseline, c.candidate))
    if nodes:
        headers[1:1] = ["node A", "node B"]
    for c in comparisons:
        aa = c.baseline.test_accuracy if c.baseline else None
        ab = c.candidate.test_accuracy if c.candidate else None
        where = [node_label(c.baseline.node if c.baseline else None),
                 node_label(c.candidate.node if c.candidate else None)] if nodes else []
        body.append([
            safe_text(c.label),
            *[safe_text(w) for w in where],
            num(rate(c.baseline), 0),
            num(rate(c.candidate), 0),
            num(c.ratio, 3),
            num(scaled(aa, 100), 2),
            num(scaled(ab, 100), 2),
            num(None if aa is None or ab is None else 100 * (ab - aa), 2),
            safe_text(c.note) if c.note else "",
        ])
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


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
    lines = [f"A: {safe_text(names[0])}\nB: {safe_text(names[1])}", compare_table(comparisons, fmt)]
    lines += [f"note: {safe_text(note)}" for note in comparability_notes(baseline, candidate)]
    if fail_below is None:
        return "\n".join(lines), False
    gate, failed = gate_lines(comparisons, fail_below, candidate)
    lines += [safe_text(line) for line in gate]
    return "\n".join(lines), failed
