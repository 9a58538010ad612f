"""A run's picture: two panels, the training loss against the step for every row (log
scale when the losses span more than two decades), and the steady-state steps per second
of every row that has one, as horizontal bars."""

from __future__ import annotations

import math
from pathlib import Path

from bench.report.plot.figure import figure, save_figure, title, with_suffix
from bench.results.identity import status_label
from bench.results.model import Row, RunDocument

LOG_SCALE_RATIO = 100.0
"""Use a log loss axis when the largest loss is this many times the smallest (all > 0)."""


def loss_points(row: Row) -> tuple[list[float], list[float]]:
    """The row's ``loss_curve`` as (steps, losses), non-finite points dropped."""
    points = [(float(step), float(loss)) for step, loss in row.loss_curve if math.isfinite(loss)]
    return [p[0] for p in points], [p[1] for p in points]


def use_log_scale(losses: list[float]) -> bool:
    """True when every loss is positive and they span more than ``LOG_SCALE_RATIO``."""
    return bool(losses) and min(losses) > 0 and max(losses) / min(losses) > LOG_SCALE_RATIO


def plot_run(document: RunDocument, output: Path) -> Path:
    """Draw ``document`` (a loaded result file) into ``output`` (PNG, or SVG/PDF by suffix)."""
    made, (loss_axes, speed_axes) = figure(12, 5, 2, width_ratios=[3, 2])
    output = with_suffix(output)
    rows = document.results
    made.suptitle(title(document), fontsize=10)

    all_losses: list[float] = []
    for index, row in enumerate(rows):
        steps, losses = loss_points(row)
        if steps:
            marker = "o" if len(steps) < 3 else None  # a lone point would not show as a line
            loss_axes.plot(steps, losses, color=f"C{index % 10}", label=status_label(row), linewidth=1.2,
                           marker=marker)
            all_losses += losses
    if use_log_scale(all_losses):
        loss_axes.set_yscale("log")
    loss_axes.set(xlabel="step", ylabel="training loss (batch mean)", title="Training loss")
    loss_axes.grid(True, alpha=0.3)
    if all_losses:
        loss_axes.legend(fontsize=8)
    else:
        loss_axes.text(0.5, 0.5, "no loss curves", ha="center", va="center", transform=loss_axes.transAxes)

    bars = [(index, row) for index, row in enumerate(rows) if row.steps_per_second is not None]
    if bars:
        labels = [status_label(row) for _, row in bars]
        values = [float(row.steps_per_second or 0.0) for _, row in bars]
        positions = list(range(len(bars)))
        container = speed_axes.barh(positions, values, height=0.6, color=[f"C{index % 10}" for index, _ in bars])
        speed_axes.set_yticks(positions, labels, fontsize=8)
        speed_axes.invert_yaxis()  # first row on top, as in the table
        speed_axes.bar_label(container, fmt="%.4g", fontsize=8, padding=2)
        speed_axes.margins(x=0.15)
    else:
        speed_axes.text(0.5, 0.5, "no steps/s measured", ha="center", va="center", transform=speed_axes.transAxes)
        speed_axes.set_yticks([])
    speed_axes.set(xlabel="steps per second (steady state, median)", title="Training speed")
    speed_axes.grid(True, axis="x", alpha=0.3)

    return save_figure(made, output, dpi=120)
