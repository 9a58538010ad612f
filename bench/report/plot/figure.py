"""What every picture shares: where it goes, its title, a figure on the Agg canvas, the save.

matplotlib is optional (``pip install 'bench-harness[plot]'``); it is imported only when a figure
is made, and drawn with the Agg canvas directly, so no GUI backend and no global pyplot
state is involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import BenchError, UsageError
from bench.results.identity import setting_text
from bench.results.model import RunDocument

NEEDS_MATPLOTLIB = "bench plot needs matplotlib: pip install 'bench-harness[plot]'"


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


def with_suffix(output: str | Path) -> Path:
    """``output``, a PNG when it names no format."""
    output = Path(output)
    return output if output.suffix else output.with_suffix(".png")


def title(document: RunDocument) -> str:
    """The run's id, and its dataset, steps, batch size, learning rate and swept settings."""
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
        *(f"{key.replace('_', ' ')} {','.join(map(setting_text, values))}" for key, values in sweep.items()
          if key != "batch_size" and isinstance(values, list)),
    ]
    settings = [s for s in settings if s]
    if settings:
        parts.append(", ".join(settings))
    return "\n".join(parts)


def figure(width: float, height: float, panels: int = 1, needs: str = NEEDS_MATPLOTLIB,
           **kwargs: Any) -> tuple[Any, Any]:
    """A figure on the Agg canvas and its ``panels`` axes in a row (``needs``: the error
    when matplotlib is missing)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise BenchError(needs) from None
    made = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(made)
    return made, made.subplots(1, panels, squeeze=False, **kwargs)[0]


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
