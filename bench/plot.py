"""``bench plot``: a saved run as a picture.

A run: two panels, the training loss against the step for every row (log scale when the
losses span more than two decades), and the steady-state steps per second of every row
that has one, as horizontal bars.

A sweep (rows whose batch size, threads or seed vary; :func:`plot_document`):

- ``RUN-scaling.png`` when the batch size or the threads vary: steps/s and images/s
  against the batch size (log-log), and steps/s against the threads, one line per
  classifier and device (and per value of the other varying settings); over several seeds
  a line goes through the median and every seed's value is a dot.
- ``RUN-seeds.png`` when the seed varies: the test accuracy of every seed as a point, per
  classifier and device (and the other varying settings), with the mean and +-1 sample
  standard deviation.

matplotlib is optional (``pip install 'bench[plot]'``); it is imported only here, and
drawn with the Agg canvas directly, so no GUI backend and no global pyplot state is
involved.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError, UsageError
from bench.results.model import Row, RunDocument

SWEEP_PICTURES = {"scaling": ("batch_size", "threads"), "seeds": ("seed",)}
"""Each sweep picture and the settings whose variation calls for it."""

LOG_SCALE_RATIO = 100.0
"""Use a log loss axis when the largest loss is this many times the smallest (all > 0)."""


def default_output(result_path: str | Path) -> Path:
    """``RESULT.json`` -> ``RESULT.png`` beside it."""
    return Path(result_path).with_suffix(".png")


def output_path(result_path: str | Path, output: str | None, suffix: str = "") -> Path:
    """Where ``bench plot`` writes: ``output``, or into it when it is a directory, else
    beside the result file."""
    name = Path(result_path).with_suffix("").name + suffix + ".png"
    if output is None:
        return Path(result_path).with_name(name)
    target = Path(output)
    return target / name if target.is_dir() else target


def row_label(row: Row) -> str:
    """``plugin (device)``, with the status when it is not ``ok``."""
    return row.label if row.ok else f"{row.label} [{row.status}]"


def loss_points(row: Row) -> tuple[list[float], list[float]]:
    """The row's ``loss_curve`` as (steps, losses), non-finite points dropped."""
    points = [(float(step), float(loss)) for step, loss in row.loss_curve if math.isfinite(loss)]
    return [p[0] for p in points], [p[1] for p in points]


def use_log_scale(losses: list[float]) -> bool:
    """True when every loss is positive and they span more than ``LOG_SCALE_RATIO``."""
    return bool(losses) and min(losses) > 0 and max(losses) / min(losses) > LOG_SCALE_RATIO


def _title(document: RunDocument) -> str:
    config = document.config
    dataset = (document.dataset or {}).get("name") or config.get("dataset", "")
    parts = [document.run_id]
    lr = config.get("learning_rate")
    sweep: dict[str, Any] = config["sweep"] if isinstance(config.get("sweep"), dict) else {}
    batch = sweep.get("batch_size") or config.get("batch_size")
    settings = [
        f"{dataset}" if dataset else "",
        f"{config['steps']} steps" if "steps" in config else "",
        f"batch {','.join(map(str, batch)) if isinstance(batch, list) else batch}" if batch is not None else "",
        f"lr {lr:g}" if isinstance(lr, (int, float)) and not isinstance(lr, bool) else "",
        *(f"{key.replace('_', ' ')} {','.join(map(_text, values))}" for key, values in sweep.items()
          if key != "batch_size" and isinstance(values, list)),
    ]
    settings = [s for s in settings if s]
    if settings:
        parts.append(", ".join(settings))
    return "\n".join(parts)


def _figure(width: float, height: float, panels: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """A figure on the Agg canvas and its ``panels`` axes in a row."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise BenchError("bench plot needs matplotlib: pip install 'bench[plot]'") from None
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(1, panels, squeeze=False, **kwargs)[0]


def save_figure(figure: Any, output: Path, dpi: int = 100) -> Path:
    """Write ``figure`` to ``output``; an unknown format or an unwritable path is one clear error."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(output, dpi=dpi)
    except ValueError as exc:  # an image format matplotlib does not know
        raise UsageError(f"cannot plot to {output}: {exc}") from None
    except OSError as exc:
        raise BenchError(f"cannot write {output}: {exc.strerror or exc}") from None
    return output


def plot_document(document: RunDocument, output: Path) -> list[Path]:
    """What ``bench plot`` draws: a run's picture into ``output``, or a sweep's pictures
    beside it (``output`` with ``-scaling`` and ``-seeds`` added to its name)."""
    output = Path(output)
    if not output.suffix:
        output = output.with_suffix(".png")
    from bench.report import varying_settings

    axes = varying_settings(document)
    wanted = [name for name, keys in SWEEP_PICTURES.items() if any(key in axes for key in keys)]
    if not wanted:
        return [plot_run(document, output)]
    paths = []
    for name in wanted:
        target = output.with_name(f"{output.stem}-{name}{output.suffix}")
        paths.append((plot_scaling if name == "scaling" else plot_seeds)(document, target))
    return paths


def _series_key(row: Row, axes: Sequence[str], leave_out: Sequence[str]) -> tuple[str, ...]:
    """The line a row belongs to: plugin, device, and the varying settings not on the x axis."""
    return (row.plugin, row.device, *(f"{axis} {_text(row.settings.get(axis))}" for axis in axes
                                      if axis not in leave_out))


def _series_label(key: tuple[str, ...]) -> str:
    plugin, device, *rest = key
    return f"{plugin} ({device})" + (f", {', '.join(rest)}" if rest else "")


def _text(value: Any) -> str:
    return "default" if value is None else str(value)


def scaling_series(document: RunDocument, x_axis: str, value: str = "steps") -> dict[tuple[str, ...],
                                                                                      dict[float, list[float]]]:
    """Per line, x value -> the ok rows' steps/s (``value="images"``: images/s), one per seed.

    Rows whose ``x_axis`` setting is not a number (the framework's default threads) are left out.
    """
    from bench.report import ordered_rows, varying_settings

    axes = varying_settings(document)
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
        key = _series_key(row, axes, (x_axis, "seed"))
        series.setdefault(key, {}).setdefault(float(x), []).append(rate)
    return series


def plot_scaling(document: RunDocument, output: Path) -> Path:
    """Steps/s and images/s against the batch size (log-log), steps/s against the threads."""
    from bench.report import varying_settings

    axes = varying_settings(document)
    panels = [(x, value) for x in ("batch_size", "threads") if x in axes
              for value in (("steps", "images") if x == "batch_size" else ("steps",))]
    figure, subplots = _figure(5.2 * len(panels), 4.4, len(panels))
    from matplotlib.ticker import NullLocator

    figure.suptitle(_title(document) + "\nscaling (line: median over seeds; dots: each seed)", fontsize=10)
    for ax, (x_axis, value) in zip(subplots, panels, strict=True):
        series = scaling_series(document, x_axis, value)
        for index, (key, points) in enumerate(series.items()):
            xs = sorted(points)
            colour = f"C{index % 10}"
            ax.plot(xs, [statistics.median(points[x]) for x in xs], marker="o", color=colour,
                    label=_series_label(key), linewidth=1.2)
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
    return save_figure(figure, output)


def seed_groups(document: RunDocument) -> dict[tuple[str, ...], list[tuple[int, float]]]:
    """Per classifier, device and other varying settings: ``(seed, test accuracy)`` of its ok rows."""
    from bench.report import ordered_rows, varying_settings

    axes = varying_settings(document)
    groups: dict[tuple[str, ...], list[tuple[int, float]]] = {}
    for row in ordered_rows(document):
        seed = row.settings.get("seed")
        if row.ok and row.test_accuracy is not None and isinstance(seed, int):
            groups.setdefault(_series_key(row, axes, ("seed",)), []).append((seed, row.test_accuracy))
    return groups


def plot_seeds(document: RunDocument, output: Path) -> Path:
    """The test accuracy over seeds: each seed a point, the mean and +-1 standard deviation."""
    groups = seed_groups(document)
    figure, (ax,) = _figure(min(16.0, max(5.0, 0.9 * len(groups) + 2.5)), 4.8)
    seeds = sorted({seed for points in groups.values() for seed, _ in points})
    figure.suptitle(_title(document) + f"\ntest accuracy over {len(seeds)} seeds", fontsize=10)
    for index, points in enumerate(groups.values()):
        values = [100 * accuracy for _, accuracy in points]
        offsets = [0.25 * (seeds.index(seed) / max(1, len(seeds) - 1) - 0.5) for seed, _ in points]
        ax.plot([index + o for o in offsets], values, "o", color=f"C{index % 10}", alpha=0.6, markersize=5)
        mean = statistics.mean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        ax.errorbar([index + 0.3], [mean], yerr=[spread], fmt="D", color="black", capsize=4, markersize=5)
        ax.annotate(f"{mean:.2f} +- {spread:.2f}\n(n={len(values)})", (index + 0.36, mean), fontsize=7,
                    va="center")
    ax.set_xticks(range(len(groups)), [_series_label(key).replace(", ", "\n") for key in groups], fontsize=7)
    ax.set_xlim(-0.5, len(groups) - 0.2 + 0.6)
    ax.set(ylabel="test accuracy %", title="dots: one seed each; diamond: mean +- 1 sample s.d.")
    ax.grid(True, axis="y", alpha=0.3)
    if not groups:
        ax.text(0.5, 0.5, "no ok rows", ha="center", va="center", transform=ax.transAxes)
    return save_figure(figure, output)


def plot_run(document: RunDocument, output: Path) -> Path:
    """Draw ``document`` (a loaded result file) into ``output`` (PNG, or SVG/PDF by suffix)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise BenchError("bench plot needs matplotlib: pip install 'bench[plot]'") from None

    output = Path(output)
    if not output.suffix:
        output = output.with_suffix(".png")
    rows = document.results

    figure = Figure(figsize=(12, 5), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, speed_axes = figure.subplots(1, 2, width_ratios=[3, 2])
    figure.suptitle(_title(document), fontsize=10)

    all_losses: list[float] = []
    for index, row in enumerate(rows):
        steps, losses = loss_points(row)
        if steps:
            marker = "o" if len(steps) < 3 else None  # a lone point would not show as a line
            loss_axes.plot(steps, losses, color=f"C{index % 10}", label=row_label(row), linewidth=1.2, marker=marker)
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
        labels = [row_label(row) for _, row in bars]
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

    return save_figure(figure, output, dpi=120)
