"""A sweep's pictures (rows whose batch size, threads or seed vary):

- ``RUN-scaling.png`` when the batch size or the threads vary: steps/s and images/s
  against the batch size (log-log), and steps/s against the threads, one line per
  classifier and device (and per value of the other varying settings); over several seeds
  a line goes through the median and every seed's value is a dot.
- ``RUN-seeds.png`` when the seed varies: the test accuracy of every seed as a point, per
  classifier and device (and the other varying settings), with the mean and +-1 sample
  standard deviation.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from bench.report.plot.figure import figure, save_figure, title
from bench.results.identity import ordered_rows, setting_text, value_of, varying_of
from bench.results.model import Row, RunDocument

SWEEP_PICTURES = {"scaling": ("batch_size", "threads"), "seeds": ("seed",)}
"""Each sweep picture and the settings whose variation calls for it."""


def series_key(row: Row, axes: Sequence[str], leave_out: Sequence[str]) -> tuple[str, ...]:
    """The line a row belongs to: plugin, device, and the varying settings not on the x axis."""
    return (row.plugin, row.device, *(f"{axis} {setting_text(value_of(row.settings, row.params, axis))}"
                                      for axis in axes if axis not in leave_out))


def series_label(key: tuple[str, ...]) -> str:
    """``numpy (cpu), seed 1``."""
    plugin, device, *rest = key
    return f"{plugin} ({device})" + (f", {', '.join(rest)}" if rest else "")


def scaling_series(document: RunDocument, x_axis: str, value: str = "steps") -> dict[tuple[str, ...],
                                                                                      dict[float, list[float]]]:
    """Per line, x value -> the ok rows' steps/s (``value="images"``: images/s), one per seed.

    Rows whose ``x_axis`` setting is not a number (the framework's default threads) are left out.
    """
    axes = varying_of(document.results)
    series: dict[tuple[str, ...], dict[float, list[float]]] = {}
    for row in ordered_rows(document):
        x = row.settings.get(x_axis)
        rate = row.steps_per_second
        if not row.ok or rate is None or isinstance(x, bool) or not isinstance(x, (int, float)):
            continue
        if value == "images":
            batch = row.settings.get("batch_size")
            if not isinstance(batch, int):
                continue
            rate *= batch
        key = series_key(row, axes, (x_axis, "seed"))
        series.setdefault(key, {}).setdefault(float(x), []).append(rate)
    return series


def plot_scaling(document: RunDocument, output: Path) -> Path:
    """Steps/s and images/s against the batch size (log-log), steps/s against the threads."""
    axes = varying_of(document.results)
    panels = [(x, value) for x in ("batch_size", "threads") if x in axes
              for value in (("steps", "images") if x == "batch_size" else ("steps",))]
    made, subplots = figure(5.2 * len(panels), 4.4, len(panels))
    from matplotlib.ticker import NullLocator

    made.suptitle(title(document) + "\nscaling (line: median over seeds; dots: each seed)", fontsize=10)
    for ax, (x_axis, value) in zip(subplots, panels, strict=True):
        series = scaling_series(document, x_axis, value)
        for index, (key, points) in enumerate(series.items()):
            xs = sorted(points)
            colour = f"C{index % 10}"
            ax.plot(xs, [statistics.median(points[x]) for x in xs], marker="o", color=colour,
                    label=series_label(key), linewidth=1.2)
            if any(len(points[x]) > 1 for x in xs):
                ax.plot([x for x in xs for _ in points[x]], [v for x in xs for v in points[x]], ".", color=colour,
                        alpha=0.4)
        unit = "images/s" if value == "images" else "steps/s"
        ax.set(xlabel="batch size" if x_axis == "batch_size" else "threads", ylabel=f"{unit} (steady state)",
               title=f"{unit} against {'batch size' if x_axis == 'batch_size' else 'threads'}")
        if x_axis == "batch_size":
            ax.set_xscale("log")
            ax.set_yscale("log")
        else:
            ax.set_xscale("log", base=2)
        xs = sorted({x for points in series.values() for x in points})
        if xs:
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
            ax.xaxis.set_minor_locator(NullLocator())  # the swept values are the ticks
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no ok rows with a number here", ha="center", va="center", transform=ax.transAxes)
        ax.grid(True, which="both", alpha=0.3)
    return save_figure(made, output)


def seed_groups(document: RunDocument) -> dict[tuple[str, ...], list[tuple[int, float]]]:
    """Per classifier, device and other varying settings: ``(seed, test accuracy)`` of its ok rows."""
    axes = varying_of(document.results)
    groups: dict[tuple[str, ...], list[tuple[int, float]]] = {}
    for row in ordered_rows(document):
        seed = row.settings.get("seed")
        if row.ok and row.test_accuracy is not None and isinstance(seed, int):
            groups.setdefault(series_key(row, axes, ("seed",)), []).append((seed, row.test_accuracy))
    return groups


def merged_seed_groups(document: RunDocument) -> dict[str, list[tuple[int, float]]]:
    """:func:`seed_groups` labelled for a picture; groups with identical accuracies that
    differ in one setting only are drawn once: ``numpy (cpu), threads 1 = 2`` (a setting
    that changes the speed, never the result, would otherwise plot the same dots twice)."""
    merged: list[tuple[list[tuple[str, ...]], int | None, list[tuple[int, float]]]] = []
    for key, points in seed_groups(document).items():
        for keys, at, same in merged:
            first = keys[0]
            differ = [i for i, (a, b) in enumerate(zip(first, key, strict=False)) if a != b]
            if same == points and len(first) == len(key) and len(differ) == 1 and at in (None, differ[0]):
                keys.append(key)
                merged[merged.index((keys, at, same))] = (keys, differ[0], same)
                break
        else:
            merged.append(([key], None, points))
    groups: dict[str, list[tuple[int, float]]] = {}
    for keys, at, points in merged:
        first = keys[0]
        if at is None:
            groups[series_label(first)] = points
            continue
        parts = [key[at] for key in keys]
        names = {part.split(" ", 1)[0] for part in parts}
        if len(names) == 1 and all(" " in part for part in parts):  # threads 1 = 2
            joined = f"{names.pop()} {' = '.join(part.split(' ', 1)[1] for part in parts)}"
        else:
            joined = " = ".join(parts)
        groups[series_label((*first[:at], joined, *first[at + 1:]))] = points
    return groups


def plot_seeds(document: RunDocument, output: Path) -> Path:
    """The test accuracy over seeds: each seed a point, the mean and +-1 standard deviation."""
    groups = merged_seed_groups(document)
    made, (ax,) = figure(min(18.0, max(5.0, 1.2 * len(groups) + 2.5)), 4.8)
    seeds = sorted({seed for points in groups.values() for seed, _ in points})
    made.suptitle(title(document) + f"\ntest accuracy over {len(seeds)} seeds", fontsize=10)
    for index, points in enumerate(groups.values()):
        values = [100 * accuracy for _, accuracy in points]
        offsets = [0.25 * (seeds.index(seed) / max(1, len(seeds) - 1) - 0.5) for seed, _ in points]
        ax.plot([index + o for o in offsets], values, "o", color=f"C{index % 10}", alpha=0.6, markersize=5)
        mean = statistics.mean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        ax.errorbar([index + 0.3], [mean], yerr=[spread], fmt="D", color="black", capsize=4, markersize=5)
        ax.annotate(f"{mean:.2f} +- {spread:.2f}\n(n={len(values)})", (index + 0.36, mean), fontsize=7,
                    va="center")
    ax.set_xticks(range(len(groups)), [label.replace(", ", "\n") for label in groups], fontsize=7)
    ax.set_xlim(-0.5, len(groups) - 0.2 + 0.6)
    ax.set(ylabel="test accuracy %", title="dots: one seed each; diamond: mean +- 1 sample s.d.")
    ax.grid(True, axis="y", alpha=0.3)
    if not groups:
        ax.text(0.5, 0.5, "no ok rows", ha="center", va="center", transform=ax.transAxes)
    return save_figure(made, output)
