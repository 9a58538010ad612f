"""bench from Python: what ``bench run`` and ``bench sweep`` do, as one call.

::

    import bench

    document = bench.run(["numpy", "tf-graph"], dataset="synthetic", steps=200)
    for row in document.results:
        print(row.label, row.status, row.test_accuracy, row.steps_per_second)

    sweep = bench.run(["numpy"], dataset="synthetic", sweep={"batch_size": [50, 100]})

The keyword settings are :class:`bench.RunConfig`'s fields (the options of ``bench run``,
with underscores); recipe settings left out take the first classifier's own defaults, as
on the command line. Every row runs as ``bench run`` runs it (by default each in a fresh
worker process), and the same checks refuse bad settings (a :class:`bench.UsageError`)
before any row runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.plugins import Registry, installed_registry
from bench.results.model import RunDocument
from bench.settings import RECIPE_KEYS, RunConfig


def run(
    plugins: Sequence[str] | str,
    *,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    save_to: str | Path | None = None,
    on_update: Callable[[RunDocument], None] | None = None,
    registry: Registry | None = None,
    **settings: Any,
) -> RunDocument:
    """Measure ``plugins`` (names, or one comma-separated string) and return the run's document.

    ``sweep`` maps settings that ``bench sweep`` can vary (``batch_size``, ``seed``,
    ``threads``, ``placement``, ``steps_per_call``) to their values: every combination
    becomes a row. ``save_to`` writes the document there after every row (atomically);
    ``on_update`` receives it after every row. ``registry`` replaces the installed plugins.
    A run stopped by Ctrl-C returns the rows measured so far, with ``interrupted`` set.
    """
    from bench.plan import prepare_run
    from bench.results.storage import DocumentWriter
    from bench.runner import run as run_plan

    names = [part.strip() for part in plugins.split(",")] if isinstance(plugins, str) else list(plugins)
    config = RunConfig(plugins=[name for name in names if name], **settings)
    registry = registry if registry is not None else installed_registry()
    given = {key for key in RECIPE_KEYS if key in settings}
    plan = prepare_run(config, registry, axes=dict(sweep or {}) or None, given=given)
    writer = DocumentWriter(Path(save_to)) if save_to is not None else None

    def update(document: RunDocument) -> None:
        if writer is not None:
            writer.save(document)
        if on_update is not None:
            on_update(document)

    return run_plan(plan, registry, on_update=update).document
