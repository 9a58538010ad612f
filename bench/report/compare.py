"""Two runs side by side, as ``bench compare`` prints them: a table with a verdict per
row, or ``--format json`` (the pairing of rows, the statistics and the gates are
:mod:`bench.results.compare`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bench.report.table import node_label, percent, rate_cell
from bench.report.text import (
    DEFAULT_FORMAT,
    WRAPPING_FORMATS,
    fitted_table,
    num,
    safe_text,
    scaled,
    terminal_width,
    text_width,
    wrap,
)
from bench.results.accuracy import accuracy_verdict, group_key, seed_groups, spread_of
from bench.results.compare import RowComparison, comparability_notes, gate_lines, plan_repeats, rate
from bench.results.model import Row, RunDocument
from bench.results.statistics import ALPHA, THRESHOLD, Plan

JSON = "json"
"""``bench compare --format json``: the comparison as one JSON object."""


COMPARE_HEADERS = ["row", "A steps/s", "B steps/s", "B/A", "95% CI", "p", "verdict", "A acc %", "B acc %", "B-A pts"]
LEFT_OUT_FIRST = ("B-A pts", "B acc %", "A acc %", "p", "95% CI", "node A", "node B")
"""The columns left out, in this order, while the table is wider than the terminal (the
summary lines under it still give each pair's verdicts)."""


def compare_table(comparisons: Sequence[RowComparison], fmt: str = DEFAULT_FORMAT, *, width: int | None = None) -> str:
    """Every row of either run: steps/s in A and B (with ``--repeat``, ± the half-width of
    their 95 % intervals), B/A with its 95 % interval, the p-value, the verdict, and the
    accuracy in A and B; as many columns as fit ``width`` (the terminal's when ``None``; 0:
    all). A row's note (only in one run, say) goes on a line of its own under the table."""
    body, notes = [], []
    headers = list(COMPARE_HEADERS)
    nodes = any(row is not None and row.node for c in comparisons for row in (c.baseline, c.candidate))
    if nodes:  # rows measured on Ray nodes: where each side ran
        headers[1:1] = ["node A", "node B"]
    for c in comparisons:
        aa = c.baseline.test_accuracy if c.baseline else None
        ab = c.candidate.test_accuracy if c.candidate else None
        test = c.test
        where = [node_label(c.baseline.node if c.baseline else None),
                 node_label(c.candidate.node if c.candidate else None)] if nodes else []
        body.append([
            safe_text(c.label),
            *[safe_text(w) for w in where],
            _rate(c.baseline),
            _rate(c.candidate),
            num(c.ratio, 3),
            f"{test.ci95[0]:.3f}-{test.ci95[1]:.3f}" if test else "-",
            _p_value(test.p_value) if test else "-",
            f"{test.verdict}{'' if test.basis == 'processes' else '*'}" if test else "-",
            num(scaled(aa, 100), 2),
            num(scaled(ab, 100), 2),
            num(None if aa is None or ab is None else 100 * (ab - aa), 2),
        ])
        if c.note:
            notes.append(wrap(f"  {safe_text(c.label)}: {safe_text(c.note)}", width))
    limit = terminal_width() if width is None else width
    full = list(headers)
    text = fitted_table(body, headers, fmt, flexible=[0], width=limit, narrowest=10)
    for name in LEFT_OUT_FIRST:
        if limit <= 0 or text_width(text) <= limit or fmt not in WRAPPING_FORMATS:
            break
        keep = [i for i, header in enumerate(headers) if header != name]
        headers = [headers[i] for i in keep]
        body = [[row[i] for i in keep] for row in body]
        text = fitted_table(body, headers, fmt, flexible=[0], width=limit, narrowest=10)
    left_out = [name for name in full if name not in headers]
    if left_out:
        notes.insert(0, wrap(f"({', '.join(left_out)} left out to fit the terminal; COLUMNS=200 shows them)", width))
    return "\n".join([text, *notes])


def render_comparison(
    names: tuple[str, str],
    baseline: RunDocument,
    candidate: RunDocument,
    comparisons: Sequence[RowComparison],
    fmt: str = DEFAULT_FORMAT,
    fail_below: float | None = None,
    *,
    fail_on_slower: bool = False,
    threshold: float = THRESHOLD,
    detect: float = THRESHOLD,
) -> tuple[str, bool]:
    """What ``bench compare A B`` prints (``names``: where A and B came from), and whether
    a gate (``fail_below``, ``fail_on_slower``) fails (never without one). ``detect``: the
    change whose repeats needed are reported."""
    if fmt == JSON:
        return comparison_json(names, baseline, candidate, comparisons, fail_below, fail_on_slower=fail_on_slower,
                               threshold=threshold, detect=detect)
    lines = [wrap(f"A: {safe_text(names[0])}\nB: {safe_text(names[1])}"), compare_table(comparisons, fmt)]
    lines += [wrap(safe_text(line)) for line in summary_lines(comparisons, baseline, candidate)]
    lines += [wrap(line) for line in _legend(comparisons, threshold)]
    lines.append(wrap(_plan_line(plan_repeats(baseline, candidate, detect), detect)))
    lines += [wrap(f"note: {safe_text(note)}") for note in comparability_notes(baseline, candidate)]
    if fail_below is None and not fail_on_slower:
        return "\n".join(lines), False
    gate, failed = gate_lines(comparisons, fail_below, candidate, fail_on_slower=fail_on_slower, threshold=threshold)
    lines += [wrap(safe_text(line)) for line in gate]
    return "\n".join(lines), failed


def comparison_json(
    names: tuple[str, str],
    baseline: RunDocument,
    candidate: RunDocument,
    comparisons: Sequence[RowComparison],
    fail_below: float | None = None,
    *,
    fail_on_slower: bool = False,
    threshold: float = THRESHOLD,
    detect: float = THRESHOLD,
) -> tuple[str, bool]:
    """``bench compare --format json``: per pair of rows ``ratio``, ``ci95``, ``p_value``,
    ``verdict`` (and ``basis``, the steps/s and repeats of each side); the rows found in one
    run only; the repeats a decision needs; the gate's lines and whether it failed."""
    gate: dict[str, Any] | None = None
    failed = False
    if fail_below is not None or fail_on_slower:
        lines, failed = gate_lines(comparisons, fail_below, candidate, fail_on_slower=fail_on_slower,
                                   threshold=threshold)
        gate = {"fail_below": fail_below, "fail_on_slower": fail_on_slower, "failed": failed, "lines": lines}
    plan = plan_repeats(baseline, candidate, detect)
    document = {
        "baseline": names[0],
        "candidate": names[1],
        "threshold": threshold,
        "alpha": ALPHA,
        "rows": [{**_row_json(c), "summary": summary} for c, summary in _summaries(comparisons, baseline, candidate)],
        "only_in_baseline": [c.label for c in comparisons if c.candidate is None],
        "only_in_candidate": [c.label for c in comparisons if c.baseline is None],
        "notes": comparability_notes(baseline, candidate),
        "repeats_needed": None if plan is None else {
            "change": plan.size, "repeats": plan.repeats, "spread_between_processes": plan.cv, "rows": plan.rows},
        "gate": gate,
    }
    return json.dumps(document, indent=1, allow_nan=False), failed


def _row_json(c: RowComparison) -> dict[str, Any]:
    test = c.test
    old, new = c.baseline, c.candidate
    return {
        "row": c.label,
        "plugin": c.key[0],
        "device": c.key[1],
        "baseline_steps_per_second": rate(old),
        "candidate_steps_per_second": rate(new),
        "baseline_repeats": old.repeats if old else None,
        "candidate_repeats": new.repeats if new else None,
        "ratio": c.ratio,
        "ci95": list(test.ci95) if test else None,
        "p_value": test.p_value if test else None,
        "verdict": test.verdict if test else None,
        "basis": test.basis if test else None,
        "ok": c.ok,
        "note": c.note or None,
    }


def summary_lines(comparisons: Sequence[RowComparison], baseline: RunDocument, candidate: RunDocument) -> list[str]:
    """One line per pair of rows summing both verdicts: ``numpy (cpu): B slower by 31 %
    (p<0.001), accuracy the same``. The accuracy verdict compares each row's group of seeds
    (rows that differ only in the seed: :mod:`bench.results.accuracy`) in A and in B."""
    return [f"{c.label}: {summary}" for c, summary in _summaries(comparisons, baseline, candidate)]


def _summaries(comparisons: Sequence[RowComparison], baseline: RunDocument, candidate: RunDocument
               ) -> list[tuple[RowComparison, str]]:
    groups_a, groups_b = seed_groups(baseline.results), seed_groups(candidate.results)
    out = []
    for c in comparisons:
        if c.baseline is None or c.candidate is None:
            continue
        test = c.test
        if c.ratio is None:
            speed = f"not compared ({c.note})" if c.note else "not compared"
        elif test is None:
            speed = f"B/A {c.ratio:.3f}, no verdict (no step times)"
        elif test.verdict == "same":
            speed = "speed the same" + ("*" if test.basis != "processes" else "")
        else:
            change = abs(1 - test.ratio) if test.verdict == "slower" else test.ratio - 1
            star = "*" if test.basis != "processes" else ""
            p = "<0.001" if test.p_value < 0.001 else f"={test.p_value:.3f}"
            speed = f"B {test.verdict} by {100 * change:.0f} % (p{p}){star}"
        a, b = groups_a.get(group_key(c.baseline)), groups_b.get(group_key(c.candidate))
        accuracy = accuracy_verdict(spread_of(a), spread_of(b)).describe() if a and b else "accuracy not compared"
        out.append((c, f"{speed}, {accuracy}"))
    return out


def _rate(row: Row | None) -> str:
    return rate_cell(row) if row is not None and rate(row) is not None else "-"


def _p_value(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _legend(comparisons: Sequence[RowComparison], threshold: float) -> list[str]:
    tests = [c.test for c in comparisons if c.test is not None]
    if not tests:
        return []
    lines = [f"verdict: faster or slower when p < {ALPHA:g} (Mann-Whitney U) and B/A and its whole 95% CI "
             f"(Welch's t on log steps/s) are outside 1 ± {threshold:g}; else same"]
    if any(t.basis != "processes" for t in tests):
        lines.append("*: one worker process a side (or fewer than 3): the steps of each side's first process were "
                     "compared, which leaves out the variation between processes; run both with --repeat 5 or more")
    return lines


def _plan_line(plan: Plan | None, size: float) -> str:
    if plan is None:
        return (f"repeats needed: unknown; rows measured in one process say nothing of the variation between "
                f"processes (run with --repeat 3 or more to size a {percent(size)} change)")
    return (f"repeats needed: --repeat {plan.repeats} would find a {percent(size)} change significant on this "
            f"machine (80% power; variation between processes {percent(plan.cv)}, from {plan.rows} rows)")
