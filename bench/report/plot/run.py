"""A run's picture: the training loss against the step for every row (log scale when the
losses span more than two decades); the test accuracy against the step when the run
evaluated during training (``--eval-every``), with the target of ``--target-accuracy``;
and the steady-state steps per second of every row that has one, as horizontal bars.

Rows are labelled by what varies between them (``numpy (cpu), placement resident``), and
a curve identical to an earlier one is drawn dashed with markers and says so in the
legend (``= numpy (cpu)``), so that coincident curves do not hide each other."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report.plot.figure import figure, save_figure, title, with_suffix
from bench.results.identity import status_label, varying_of
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


def accuracy_points(row: Row) -> tuple[list[float], list[float]]:
    """The row's ``accuracy_curve`` as (steps, accuracy in %), non-finite points dropped."""
    points = [(float(point[0]), 100 * float(point[1])) for point in row.accuracy_curve
              if len(point) >= 2 and math.isfinite(point[1])]
    return [p[0] for p in points], [p[1] for p in points]


def _curves(rows: list[Row], labels: list[str], points: Callable[[Row], tuple[list[float], list[float]]]
            ) -> list[tuple[int, list[float], list[float], str, bool]]:
    """(row index, xs, ys, legend label, whether it repeats an earlier curve) for every row
    with points; a repeated curve's label names the row it coincides with."""
    seen: dict[tuple[tuple[float, ...], tuple[float, ...]], int] = {}
    curves = []
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        xs, ys = points(row)
        if not xs:
            continue
        first = seen.setdefault((tuple(xs), tuple(ys)), index)
        repeated = first != index
        curves.append((index, xs, ys, f"{label} (= {labels[first]})" if repeated else label, repeated))
    return curves


def _draw_curves(axes: Any, curves: list[tuple[int, list[float], list[float], str, bool]]) -> None:
    for index, xs, ys, label, repeated in curves:
        marker = "o" if len(xs) < 3 or repeated else None  # a lone point would not show as a line
        axes.plot(xs, ys, color=f"C{index % 10}", label=label, linewidth=1.2, marker=marker,
                  markersize=4 if repeated else 5, markevery=max(1, len(xs) // 12),
                  linestyle="--" if repeated else "-", markerfacecolor="none" if repeated else None)


def plot_run(document: RunDocument, output: Path) -> Path:
    """Draw ``document`` (a loaded result file) into ``output`` (PNG, or SVG/PDF by suffix)."""
    rows = document.results
    axes_keys = varying_of(rows)
    labels = [status_label(row, axes_keys) for row in rows]
    evaluated = any(len(row.accuracy_curve) > 1 for row in rows)
    if evaluated:
        made, (loss_axes, accuracy_axes, speed_axes) = figure(17, 5, 3, width_ratios=[3, 3, 2])
    else:
        made, (loss_axes, speed_axes) = figure(12, 5, 2, width_ratios=[3, 2])
    output = with_suffix(output)
    made.suptitle(title(document), fontsize=10)

    losses = _curves(rows, labels, loss_points)
    _draw_curves(loss_axes, losses)
    all_losses = [loss for _, _, ys, _, _ in losses for loss in ys]
    if use_log_scale(all_losses):
        loss_axes.set_yscale("log")
    loss_axes.set(xlabel="step", ylabel="training loss (batch mean)", title="Training loss")
    loss_axes.grid(True, alpha=0.3)
    if all_losses:
        loss_axes.legend(fontsize=8)
    else:
        loss_axes.text(0.5, 0.5, "no loss curves", ha="center", va="center", transform=loss_axes.transAxes)

    if evaluated:
        _draw_curves(accuracy_axes, _curves(rows, labels, accuracy_points))
        targets = sorted({row.target_accuracy for row in rows if row.target_accuracy is not None})
        for target in targets:
            accuracy_axes.axhline(100 * target, color="grey", linestyle=":", linewidth=1,
                                  label=f"target {100 * target:g}%")
        accuracy_axes.set(xlabel="step", ylabel="test accuracy %",
                          title=f"Test accuracy (every {rows[0].eval_every or '?'} steps)")
        accuracy_axes.grid(True, alpha=0.3)
        accuracy_axes.legend(fontsize=8)

    bars = [(index, row) for index, row in enumerate(rows) if row.steps_per_second is not None]
    if bars:
        values = [float(row.steps_per_second or 0.0) for _, row in bars]
        positions = list(range(len(bars)))
        container = speed_axes.barh(positions, values, height=0.6, color=[f"C{index % 10}" for index, _ in bars])
        speed_axes.set_yticks(positions, [labels[index] for index, _ in bars], fontsize=8)
        speed_axes.invert_yaxis()  # first row on top, as in the table
        speed_axes.bar_label(container, fmt="%.4g", fontsize=8, padding=2)
        speed_axes.margins(x=0.15)
    else:
        speed_axes.text(0.5, 0.5, "no steps/s measured", ha="center", va="center", transform=speed_axes.transAxes)
        speed_axes.set_yticks([])
    speed_axes.set(xlabel="steps per second (steady state, median)", title="Training speed")
    speed_axes.grid(True, axis="x", alpha=0.3)

    return save_figure(made, output, dpi=120)
