"""The roofline picture of a saved run: every row against its device's ceilings.

Log-log, arithmetic intensity (FLOP per byte of a step) against FLOP/s. Each device's
roof is its bandwidth slope (``bytes/s x intensity``) up to the ridge point, then its flat
compute peak; each row is one point at its step's intensity and the FLOP/s it achieved
(FLOPs per step x steps/s), labelled with its fraction of the attainable. The input is a
typed run document: its ceilings (:meth:`~bench.results.model.RunDocument.ceilings`) map
a device (``cpu``, ``gpu:0``) to its ``peak_flops_per_second`` and
``memory_bytes_per_second``; each row has ``steps_per_second``, ``flops_per_step`` and
``bytes_per_step``. Rows without those numbers are left out; matplotlib is imported only
when a figure is made.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report.plot.figure import figure, save_figure, with_suffix
from bench.results.identity import status_label, varying_of
from bench.results.model import RunDocument
from bench.roofline.bound import ceiling_values


@dataclass(frozen=True)
class Point:
    """One row on the picture."""

    label: str
    device: str
    intensity: float
    flops_per_second: float
    fraction: float | None


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def document_ceilings(document: RunDocument) -> dict[str, tuple[float, float]]:
    """``device -> (peak FLOP/s, bytes/s)`` of the run's ceilings; bad entries dropped."""
    found: dict[str, tuple[float, float]] = {}
    for device, entry in document.ceilings().items():
        try:
            found[device] = ceiling_values(entry)
        except ValueError:
            continue
    return found


def roofline_points(document: RunDocument) -> list[Point]:
    """The rows that have a positive steps/s, FLOPs and bytes per step, as points."""
    ceilings = document_ceilings(document)
    points = []
    axes = varying_of(document.results)  # a sweep's points are named by what varies
    for row in document.results:
        speed, flops, moved = (_positive(v) for v in (row.steps_per_second, row.flops_per_step, row.bytes_per_step))
        if speed is None or flops is None or moved is None:
            continue
        share = None
        if row.device in ceilings:
            peak, bandwidth = ceilings[row.device]
            share = speed * max(flops / peak, moved / bandwidth)
        points.append(Point(status_label(row, axes), row.device, flops / moved, flops * speed, share))
    return points


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def plot_roofline(document: RunDocument, output: str | Path) -> Path:
    """Draw the roofline of ``document`` (a loaded run) into ``output`` (PNG, or SVG/PDF by suffix)."""
    made, (axes,) = figure(10, 6.5, needs="the roofline plot needs matplotlib: pip install 'bench-harness[plot]'")
    output = with_suffix(output)
    ceilings = document_ceilings(document)
    points = roofline_points(document)

    axes.set(xscale="log", yscale="log", xlabel="arithmetic intensity of a step (FLOP / byte)",
             ylabel="FLOP/s (FLOPs per step x steps/s)")
    run_title = textwrap.fill(f"{document.run_id}: roofline", width=110)  # long ids of merged runs
    made.suptitle(run_title, fontsize=10)

    intensities = [p.intensity for p in points] + [peak / bandwidth for peak, bandwidth in ceilings.values()]
    rates = [p.flops_per_second for p in points] + [peak for peak, _ in ceilings.values()]
    if not intensities:
        axes.text(0.5, 0.5, "no ceilings and no rows with work per step", ha="center", va="center", transform=axes.transAxes)
        axes.set(xlim=(0.1, 1000), ylim=(1e8, 1e12))
    else:
        low_x, high_x = min(intensities) / 10, max(intensities) * 10
        axes.set_xlim(low_x, high_x)
        low_y = min(rates + [bandwidth * low_x for _, bandwidth in ceilings.values()])
        axes.set_ylim(max(low_y / 3, min(rates) / 30), max(rates) * 3)
        _draw_roofs(axes, ceilings, low_x, high_x)
        _draw_points(axes, points)
    axes.grid(True, which="major", alpha=0.3)
    axes.grid(True, which="minor", alpha=0.1)

    return save_figure(made, output, dpi=120)


def _draw_roofs(axes: Any, ceilings: dict[str, tuple[float, float]], low_x: float, high_x: float) -> None:
    for index, (device, (peak, bandwidth)) in enumerate(sorted(ceilings.items())):
        ridge = peak / bandwidth
        xs = [low_x, ridge, max(high_x, ridge)]
        ys = [bandwidth * low_x, peak, peak]
        style = {"color": "black" if index == 0 else f"C{7 + index % 3}", "linewidth": 2.0,
                 "linestyle": ("-", "--", ":")[index % 3]}
        axes.plot(xs, ys, **style, label=f"{device} ceilings: {_si(peak, 'FLOP/s')}, {_si(bandwidth, 'B/s')}")
        axes.annotate(f"{device} peak {_si(peak, 'FLOP/s')}", (max(high_x, ridge), peak), xytext=(-4, 4),
                      textcoords="offset points", ha="right", va="bottom", fontsize=8)
        slope_x = math.sqrt(low_x * ridge)
        axes.annotate(f"{device} memory {_si(bandwidth, 'B/s')}", (slope_x, bandwidth * slope_x), xytext=(-6, 6),
                      textcoords="offset points", ha="right", va="bottom", fontsize=8, rotation=0)
        axes.axvline(ridge, color=style["color"], alpha=0.15, linewidth=1)


def _draw_points(axes: Any, points: list[Point]) -> None:
    """One marker per row; its label to the right, nudged apart so labels never overlap."""
    markers = "osD^vP*Xh<>"
    figure_dpi = axes.figure.dpi
    gap = 11 * figure_dpi / 72  # label spacing in display pixels (8 pt text)
    placed: list[tuple[float, float]] = []
    transform = axes.transData
    order = sorted(range(len(points)), key=lambda i: (points[i].intensity, points[i].flops_per_second))
    for rank, index in enumerate(order):
        point = points[index]
        text = point.label if point.fraction is None else f"{point.label}: {100 * point.fraction:.1f}%"
        axes.plot(point.intensity, point.flops_per_second, linestyle="none", marker=markers[rank % len(markers)],
                  color=f"C{rank % 10}", markersize=7, label=text)
        if point.fraction:  # a faint line up to the roof: the distance left to the limit
            axes.plot([point.intensity] * 2, [point.flops_per_second, point.flops_per_second / point.fraction],
                      color=f"C{rank % 10}", linestyle=":", linewidth=0.8, alpha=0.6)
        x_pixels, y_pixels = transform.transform((point.intensity, point.flops_per_second))
        label_y = y_pixels
        for _ in range(len(placed) + 1):  # stack nearby labels upwards until none overlaps
            clash = [other_y for other_x, other_y in placed
                     if abs(other_x - x_pixels) < 40 and other_y - gap < label_y < other_y + gap]
            if not clash:
                break
            label_y = max(clash) + gap
        placed.append((x_pixels, label_y))
        axes.annotate(text, (point.intensity, point.flops_per_second), xytext=(12, label_y - y_pixels),
                      textcoords="offset pixels", fontsize=8, va="center", color=f"C{rank % 10}",
                      arrowprops={"arrowstyle": "-", "color": f"C{rank % 10}", "alpha": 0.5, "linewidth": 0.6})
    if points:
        axes.legend(fontsize=7, loc="lower right")
