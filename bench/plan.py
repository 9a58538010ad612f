"""Which rows a run measures, decided before anything runs.

A plan is a list of :class:`PlannedRow`: one classifier on one device with its own
settings (a :class:`~bench.settings.RunConfig` that differs from the run's in the values a
sweep varies). Planning knows no executor and loads no data: ``bench sweep --dry-run``
prints a plan, :func:`bench.runner.run_planned` measures one, and any executor (a worker
process per row, bench's own process, or a cluster) can take its rows.

The plan's order is the order of execution, grouped by batch schedule: one group per
distinct (seed, batch size), seeds outermost, and in each group every plugin, in the
order given, on each of its devices, through the remaining combinations (threads,
placement, steps per call). So each group needs one schedule and one executor, a
synthetic dataset (which depends on the seed) is made once per seed, and the first row of
a group, the parity reference, is the first plugin's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.classifier import ClassifierSpec
from bench.results.identity import row_label, varying_keys
from bench.settings import (
    RunConfig,
    resolve_params,
    row_settings,
    seed_axes,
    sweep_combinations,
    with_plugin_defaults,
)

if TYPE_CHECKING:
    from bench.plugins import Registry

ScheduleKey = tuple[int, int]
"""``(seed, batch_size)``: what makes rows of one run train on different batches."""


@dataclass(frozen=True)
class PlannedRow:
    """One row to measure: a classifier on a device, with this row's settings."""

    spec: ClassifierSpec
    device: str
    config: RunConfig
    params: Mapping[str, str]
    """The classifier's resolved ``--param`` settings."""
    unavailable: str | None = None
    """Why these settings cannot go together; the row is recorded ``unavailable`` unrun."""

    @property
    def schedule_key(self) -> ScheduleKey:
        return (self.config.seed, self.config.batch_size)

    @property
    def settings(self) -> dict[str, Any]:
        return row_settings(self.config)

    def label(self, varying: Sequence[str] = ()) -> str:
        """``numpy (cpu)``, with the varying settings: ``numpy (cpu) batch_size=50 seed=1``
        (:func:`bench.results.identity.row_label`)."""
        return row_label(self.spec.name, self.device, self.settings, self.params, varying)


@dataclass(frozen=True)
class RunPlan:
    """A run, checked and resolved before anything runs: what ``bench run`` and ``bench
    sweep`` (and :func:`bench.run`) hand to the runner."""

    config: RunConfig
    """The run's settings, with the first plugin's recipe defaults filled in."""
    specs: tuple[ClassifierSpec, ...]
    params: Mapping[str, Mapping[str, str]]
    """Each classifier's checked ``--param`` settings, its declared defaults included (in a
    sweep of params: the first combination's; each row records its own)."""
    combinations: tuple[tuple[RunConfig, str | None], ...]
    """Every combination of the swept settings and why it cannot run (a plain run: one)."""
    axes: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    """A sweep's axes: setting -> values (empty for a plain run)."""

    def rows(self, devices_of: Callable[[ClassifierSpec], list[str]]) -> list[PlannedRow]:
        """Every row, in the order of execution (:func:`plan_rows`)."""
        per_combination = ([resolve_params(self.specs, config.params) for config, _ in self.combinations]
                           if "params" in self.axes else None)
        return plan_rows(self.combinations, self.specs, self.params, devices_of, per_combination)


def prepare_run(
    config: RunConfig,
    registry: Registry,
    *,
    axes: Mapping[str, Sequence[Any]] | None = None,
    given: set[str] | None = None,
) -> RunPlan:
    """Check ``config`` (and a sweep's ``axes``) and resolve its plugins and params, once.

    Every value is checked before any plugin is looked up; then the plugins (an unknown
    one names those that failed to load), their ``--param`` settings, and the executor's
    own options. ``config.seeds`` (``--seeds``) becomes the sweep's ``seed`` axis.
    ``given`` names the recipe settings the user gave: the others take the first plugin's
    recipe defaults (``None``: every recipe setting counts as given).
    """
    from bench.execute import check_options

    axes = seed_axes(config, axes)
    combinations = combinations_of(config, axes)
    check_options(config)
    specs = tuple(registry.get(name) for name in config.plugins)
    params = resolve_params(specs, config.params)
    for combination, _ in combinations if axes and "params" in axes else ():
        resolve_params(specs, combination.params)  # every swept value checked before anything runs
    if given is not None:
        config = with_plugin_defaults(config, specs[0], given)
    return RunPlan(config, specs, params, tuple(combinations_of(config, axes)), dict(axes or {}))


def combinations_of(config: RunConfig, axes: Mapping[str, Sequence[Any]] | None) -> list[tuple[RunConfig, str | None]]:
    """A sweep's combinations and why some cannot run; a plain run's one (checked)."""
    if axes:
        return sweep_combinations(config, axes)
    config.check()
    return [(config, None)]


def plan_rows(
    combinations: Sequence[tuple[RunConfig, str | None]],
    specs: Sequence[ClassifierSpec],
    params: Mapping[str, Mapping[str, str]],
    devices_of: Callable[[ClassifierSpec], list[str]],
    per_combination: Sequence[Mapping[str, Mapping[str, str]]] | None = None,
) -> list[PlannedRow]:
    """Every plugin on each of its devices (``devices_of``) with every combination of
    settings (from :func:`bench.settings.sweep_combinations`), in the order of execution.

    ``per_combination``: each combination's resolved params (a sweep of ``--param``),
    else ``params`` for all. A row equal to an earlier one of the same ``--plugins`` entry
    (a classifier that does not take a swept param) is planned once.
    """
    devices = {spec.name: devices_of(spec) for spec in specs}
    seeds = _positions(config.seed for config, _ in combinations)
    batches = _positions(config.batch_size for config, _ in combinations)
    resolved = list(per_combination) if per_combination is not None else [params] * len(combinations)
    groups: dict[ScheduleKey, list[tuple[RunConfig, str | None, Mapping[str, Mapping[str, str]]]]] = {}
    for (config, problem), own in zip(combinations, resolved, strict=True):
        groups.setdefault((config.seed, config.batch_size), []).append((config, problem, own))
    keys = sorted(groups, key=lambda key: (seeds[key[0]], batches[key[1]]))
    rows: list[PlannedRow] = []
    seen: set[str] = set()
    for key in keys:
        for number, spec in enumerate(specs):
            for device in devices[spec.name]:
                for config, problem, own in groups[key]:
                    row = PlannedRow(spec, device, config, dict(own[spec.name]), problem)
                    same = repr((number, device, row.settings, sorted(row.params.items()), problem))
                    if same not in seen:
                        seen.add(same)
                        rows.append(row)
    return rows


def varying(rows: Sequence[PlannedRow]) -> list[str]:
    """The settings that take more than one value among ``rows`` (a sweep's axes;
    :func:`bench.results.identity.varying_keys`)."""
    return varying_keys([(row.spec.name, row.settings, row.params) for row in rows])


def schedule_keys(rows: Sequence[PlannedRow]) -> list[ScheduleKey]:
    """The schedules the runnable rows need, in the order they are first needed."""
    return _first_seen(row.schedule_key for row in rows if row.unavailable is None)


def _first_seen(values: Any) -> list[Any]:
    """The distinct ``values`` (hashable) in the order first seen, in one pass."""
    return list(dict.fromkeys(values))


def _positions(values: Any) -> dict[Any, int]:
    """Each distinct value's position in the order first seen."""
    return {value: i for i, value in enumerate(dict.fromkeys(values))}
