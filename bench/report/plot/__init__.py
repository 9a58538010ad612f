"""``bench plot``: a saved run as pictures, each a function of the typed document.

- :mod:`~bench.report.plot.run`: a run's loss curves and steps/s.
- :mod:`~bench.report.plot.sweep`: a sweep's scaling and seeds pictures.
- :mod:`~bench.report.plot.roofline`: every row against its device's ceilings.
- :mod:`~bench.report.plot.figure`: where a picture goes, its title, the figure and the save.

:func:`plot_document` is what ``bench plot`` draws without ``--roofline``. matplotlib is
optional (``pip install 'bench-harness[plot]'``) and imported only when a figure is made.
"""

from __future__ import annotations

from pathlib import Path

from bench.report.plot.figure import with_suffix
from bench.report.plot.run import plot_run
from bench.report.plot.sweep import SWEEP_PICTURES, plot_scaling, plot_seeds
from bench.results.identity import varying_of
from bench.results.model import RunDocument


def plot_document(document: RunDocument, output: Path) -> list[Path]:
    """What ``bench plot`` draws: a run's picture into ``output``, or a sweep's pictures
    beside it (``output`` with ``-scaling`` and ``-seeds`` added to its name)."""
    output = with_suffix(output)
    axes = varying_of(document.results)
    wanted = [name for name, keys in SWEEP_PICTURES.items() if any(key in axes for key in keys)]
    if not wanted:
        return [plot_run(document, output)]
    paths = []
    for name in wanted:
        target = output.with_name(f"{output.stem}-{name}{output.suffix}")
        paths.append((plot_scaling if name == "scaling" else plot_seeds)(document, target))
    return paths
