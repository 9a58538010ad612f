"""The accuracy over seeds, under the results table: one line per row of a sweep over
seeds (``bench run --seeds``), its mean accuracy and 95 % interval
(:mod:`bench.results.accuracy`)."""

from __future__ import annotations

from bench.report.text import DEFAULT_FORMAT, fitted_table, safe_text
from bench.results.accuracy import seed_spreads
from bench.results.identity import label_of, varying_of
from bench.results.model import RunDocument


def accuracy_table(document: RunDocument, fmt: str = DEFAULT_FORMAT, *, width: int | None = None) -> str | None:
    """Each row's test accuracy over the seeds it ran with, when some row ran with more than
    one: mean, 95 % confidence interval (Student's t), standard deviation; ``None`` otherwise.
    The rows' names wrap to fit ``width`` (the terminal's when ``None``)."""
    spreads = seed_spreads(document.results)
    if not spreads:
        return None
    varying = [key for key in varying_of(document.results) if key != "seed"]
    body = []
    for row, found in spreads:
        interval = found.interval
        body.append([
            safe_text(label_of(row, varying)),
            found.n,
            f"{100 * found.mean:.2f}",
            "-" if interval is None else f"{100 * interval[0]:.2f} to {100 * interval[1]:.2f}",
            "-" if found.stddev is None else f"{100 * found.stddev:.2f}",
        ])
    headers = ["accuracy over seeds", "seeds", "mean %", "95% interval", "sd"]
    return fitted_table(body, headers, fmt, flexible=[0], width=width or None)
