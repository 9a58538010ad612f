"""Who a row is, defined once: its label, the settings that vary between rows (in one
order), the order rows are shown in, the key that matches rows across runs, and each batch
schedule's parity reference.

The plan (:mod:`bench.plan`), the report (:mod:`bench.report`), the comparison
(:mod:`bench.results.compare`) and the export all use these. The functions take plain
values (a plugin's name, a device, a settings and a params mapping) so that planned rows,
which are not :class:`~bench.results.model.Row`\\ s yet, use them too; the ``*_of``
wrappers take rows. This module depends on :mod:`bench.settings` and the result model only.

- The **varying settings** of a set of rows: the row settings that take more than one
  value among them, in the order of :data:`bench.settings.ROW_SETTINGS` (settings of
  older files that it does not name after them, sorted), then the ``--param`` keys whose
  values differ between rows of the same plugin, sorted (a param is part of what a
  plugin's row is; different plugins having different params varies nothing).
- A row's **label**: ``numpy (cpu)``, with its varying settings and params:
  ``numpy (cpu) batch_size=50 seed=1``.
- The **match key** pairs rows of two runs: plugin, device, placement, steps per call,
  the varying settings, and every param that both runs record for the plugin, so a
  ``mode=xla`` row never meets a ``mode=eager`` one, while rows that differ only in a
  setting no run varies, or in a param only one run knows (a plugin version that added
  it), still match.
- A label names a varying param only on the rows that have it.
- The **parity reference** of a row: the row its analysis names (``parity_reference``: the
  first ok row of its batch schedule whose parameters have the same names and shapes); in
  files without that field, and in a plan, its batch schedule's first usable row, in the
  order rows run.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from bench.results.model import Row, RunDocument
from bench.settings import ROW_SETTINGS

Identity = tuple[str, Mapping[str, Any], Mapping[str, Any]]
"""``(plugin, settings, params)``: what :func:`varying_keys` needs of a row."""

K = TypeVar("K", bound=Hashable)


def setting_text(value: Any) -> str:
    """A setting's value as a label shows it (``None``, the framework's default: ``default``;
    a swept ``--param`` combination, a mapping: ``key=value key=value``)."""
    if isinstance(value, Mapping):
        return " ".join(f"{key}={item}" for key, item in value.items())
    return "default" if value is None else str(value)


def ordered_settings(keys: Iterable[str]) -> list[str]:
    """``keys`` in the one order of settings: :data:`~bench.settings.ROW_SETTINGS`, then the others sorted."""
    found = set(keys)
    return [key for key in ROW_SETTINGS if key in found] + sorted(found - set(ROW_SETTINGS))


def varying_keys(rows: Sequence[Identity]) -> list[str]:
    """The settings, then the params, that vary among ``rows`` (see the module docstring).

    A param named like a setting of the rows is left out (a label could not tell them apart).
    """
    settings = ordered_settings(key for _, values, _ in rows for key in values)
    varying = [key for key in settings if len({repr(values.get(key)) for _, values, _ in rows}) > 1]
    by_plugin: dict[str, list[Mapping[str, Any]]] = {}
    for plugin, _, params in rows:
        by_plugin.setdefault(plugin, []).append(params)
    params_varying = {
        key for group in by_plugin.values() for key in {k for params in group for k in params}
        if len({repr(params.get(key)) for params in group}) > 1
    }
    return varying + sorted(params_varying - set(settings))


def value_of(settings: Mapping[str, Any], params: Mapping[str, Any], key: str) -> Any:
    """The value of a varying key: the setting's, else the param's (``None`` when neither has it)."""
    return settings[key] if key in settings else params.get(key)


def shown_keys(settings: Mapping[str, Any], params: Mapping[str, Any], varying: Sequence[str]) -> list[str]:
    """The ``varying`` keys a row's label names: every setting, and the params the row has."""
    return [key for key in varying if key in settings or key in params or key in ROW_SETTINGS]


def row_label(plugin: str, device: str, settings: Mapping[str, Any] | None = None,
              params: Mapping[str, Any] | None = None, varying: Sequence[str] = ()) -> str:
    """``numpy (cpu)``, and its ``varying`` settings and params: ``numpy (cpu) batch_size=50 seed=1``."""
    settings, params = settings or {}, params or {}
    return " ".join([f"{plugin} ({device})", *(f"{key}={setting_text(value_of(settings, params, key))}"
                                               for key in shown_keys(settings, params, varying))])


def identity_of(row: Row) -> Identity:
    return (row.plugin, row.settings, row.params)


def varying_of(rows: Sequence[Row]) -> list[str]:
    """:func:`varying_keys` of rows (a document's: ``varying_of(document.results)``)."""
    return varying_keys([identity_of(row) for row in rows])


def shared_params(*runs: Sequence[Row]) -> dict[str, set[str]]:
    """Per plugin, the param keys that every run with rows of the plugin records."""
    found: dict[str, set[str]] = {}
    for rows in runs:
        keys: dict[str, set[str]] = {}
        for row in rows:
            keys.setdefault(row.plugin, set()).update(row.params)
        for plugin, names in keys.items():
            found[plugin] = found[plugin] & names if plugin in found else names
    return found


def _comparable(row: Row, shared: Mapping[str, Collection[str]]) -> dict[str, Any]:
    """The row's params that every run records (:func:`shared_params`)."""
    return {key: value for key, value in row.params.items() if key in shared.get(row.plugin, ())}


def varying_across(*runs: Sequence[Row]) -> list[str]:
    """The varying keys of several runs' rows, for matching them: the settings that vary
    within one of the runs (a setting each run holds at another value varies nothing), and
    the params that every run records (:func:`shared_params`) and that vary between the
    rows of one plugin in all of them together."""
    shared = shared_params(*runs)
    settings = {key for rows in runs for row in rows for key in row.settings}
    within = {key for rows in runs for key in varying_of(rows) if key in settings}
    together = varying_keys([(row.plugin, row.settings, _comparable(row, shared)) for rows in runs for row in rows])
    return ordered_settings(within) + [key for key in together if key not in settings]


def label_of(row: Row, varying: Sequence[str] = ()) -> str:
    """:func:`row_label` of a row."""
    return row_label(row.plugin, row.device, row.settings, row.params, varying)


def status_label(row: Row, varying: Sequence[str] = ()) -> str:
    """:func:`label_of`, with the status when it is not ``ok``: ``tf-xla (gpu:0) [failed]``."""
    label = label_of(row, varying)
    return label if row.ok else f"{label} [{row.status}]"


def ordered_rows(document: RunDocument) -> list[Row]:
    """The rows grouped by plugin and device (in the order they first appear), then by the
    varying settings' values (ascending; the framework's default threads first). A plain
    run keeps its order; a sweep's rows read as one block per classifier."""
    rows = document.results
    plugins = list(dict.fromkeys(row.plugin for row in rows))
    devices = list(dict.fromkeys(row.device for row in rows))
    axes = varying_of(rows)

    def key(row: Row) -> tuple[Any, ...]:
        values = [value_of(row.settings, row.params, axis) for axis in axes]
        return (plugins.index(row.plugin), devices.index(row.device),
                *((value is not None, str(type(value)), value if value is not None else 0) for value in values))

    return sorted(rows, key=key)


def match_key(row: Row, varying: Sequence[str] = (),
              shared: Mapping[str, Collection[str]] | None = None) -> tuple[str, ...]:
    """What makes rows of two runs the same measurement (see the module docstring):
    ``(plugin, device, placement, varying settings and params, params)``, the last three as
    text; ``shared``: the params every run records (:func:`shared_params`; default: all of
    the row's)."""
    params = dict(row.params) if shared is None else _comparable(row, shared)
    placement = "" if row.placement == "feed" and row.steps_per_call == 1 else (
        f"{row.placement}" + (f" x{row.steps_per_call}" if row.steps_per_call > 1 else ""))
    shown = ", ".join(f"{key}={value_of(row.settings, params, key)}"
                      for key in shown_keys(row.settings, params, varying))
    return (row.plugin, row.device, placement, shown, ", ".join(f"{k}={v}" for k, v in sorted(params.items())))


def match_label(key: tuple[str, ...]) -> str:
    """A :func:`match_key` as the comparison shows it: ``a (cpu, resident x5, batch_size=50)``
    (its params are in it only where they vary, among the shown settings)."""
    plugin, device, *rest = key
    extra = ", ".join(part for part in rest[:2] if part)
    return f"{plugin} ({device}{', ' + extra if extra else ''})"


def reference_positions(items: Iterable[tuple[K, bool]]) -> dict[K, int]:
    """Each schedule's parity reference: ``schedule -> position`` of its first usable item.

    ``items`` are ``(schedule, usable)`` in the order rows run: a result row's
    ``(schedule_sha256, ok)``, a planned row's ``(schedule_key, runnable)``.
    """
    found: dict[K, int] = {}
    for position, (schedule, usable) in enumerate(items):
        if usable:
            found.setdefault(schedule, position)
    return found


def references(document: RunDocument) -> list[Row]:
    """The rows others were compared with (parity), in the order rows ran: those the rows'
    analyses name (``parity_reference``); for a file whose rows name none, each batch
    schedule's first ok row."""
    rows = document.results
    named = sorted({row.parity_reference for row in rows if row.parity_reference is not None})
    if named:
        return [rows[i] for i in named if 0 <= i < len(rows)]
    return [rows[i] for i in reference_positions((row.schedule_sha256, row.ok) for row in rows).values()]
