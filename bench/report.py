"""Tables for people: a run's identity and rows, where its time went, two runs side by side.

Every table reads the typed result model (:mod:`bench.results.model`). The results table
fits the terminal by default: its columns have priorities, and the least important ones
are left out until the table is as wide as the terminal (``--wide`` shows them all,
``--columns`` picks them, as pytest-benchmark's ``--benchmark-columns`` does).
"""

from __future__ import annotations

import math
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate, tabulate_formats

from bench.errors import UsageError
from bench.results.compare import RowComparison, rate
from bench.results.model import Row, RunDocument, Status

DEFAULT_FORMAT = "simple"


def check_format(fmt: str) -> str:
    """Return ``fmt`` if tabulate knows it, else raise a UsageError listing the formats."""
    if fmt not in tabulate_formats:
        raise UsageError(f"unknown format {fmt!r}; choose one of: {', '.join(sorted(tabulate_formats))}")
    return fmt


def safe_text(value: Any) -> str:
    """``value`` as text with control characters escaped (a result file's error field may
    hold ANSI escapes; a terminal must not interpret them)."""
    text = str(value)
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Cf") else ch
        for ch in text
    )


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _sci(value: float | None) -> str:
    if value is None:
        return "-"
    return str(value) if not math.isfinite(value) else f"{value:.2g}"  # a NaN is shown, never hidden


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else factor * value


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


@dataclass(frozen=True)
class Column:
    """A results-table column: its key (for ``--columns``), header, priority and cell."""

    key: str
    header: str
    priority: int
    """0 always shown; higher numbers are left out first when the terminal is narrow."""
    cell: Callable[[Row, bool], str]
    """``cell(row, is_reference)``."""


def _parity(attribute: str) -> Callable[[Row, bool], str]:
    return lambda row, ref: "ref" if ref else _sci(getattr(row, attribute))


COLUMNS: tuple[Column, ...] = (
    Column("plugin", "plugin", 0, lambda r, _: safe_text(r.plugin)),
    Column("device", "device", 0, lambda r, _: safe_text(r.device)),
    Column("status", "status", 0, lambda r, _: str(r.status)),
    Column("accuracy", "acc %", 1, lambda r, _: _num(_scaled(r.test_accuracy, 100), 2)),
    Column("steps_per_second", "steps/s", 1, lambda r, _: _num(r.steps_per_second, 0)),
    Column("wall", "wall s", 2, lambda r, _: _num(r.wall_seconds, 2)),
    Column("parity", "@{parity}", 2, _parity("parity_max_abs_diff")),
    Column("roofline", "% roof", 3, lambda r, _: _num(_scaled(r.roofline_fraction, 100), 0)),
    Column("host_memory", "host MiB", 3, lambda r, _: _mib(r.peak_host_memory_bytes)),
    Column("device_memory", "dev MiB", 4, lambda r, _: _mib(r.peak_device_memory_bytes)),
    Column("first_step", "1st step s", 4, lambda r, _: _num(r.first_step_seconds, 3)),
    Column("parity_end", "@end", 5, _parity("final_max_abs_diff")),
    Column("final_loss", "final loss", 6, lambda r, _: _num(r.final_loss, 3)),
    Column("load", "load s", 6, lambda r, _: _num(r.load_seconds, 3)),
    Column("setup", "setup s", 6, lambda r, _: _num(r.setup_seconds, 3)),
    Column("train", "train s", 7, lambda r, _: _num(r.train_seconds, 2)),
    Column("eval", "eval s", 7, lambda r, _: _num(r.eval_seconds, 3)),
)
TO_TARGET = "to_target"
"""The column key of the two time-to-accuracy columns (``--target-accuracy``)."""
COLUMN_KEYS = (*(column.key for column in COLUMNS), TO_TARGET)


def check_columns(text: str) -> list[str]:
    """``--columns a,b,c``: known column keys, in the order given."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [key for key in keys if key not in COLUMN_KEYS]
    if unknown or not keys:
        raise UsageError(f"unknown column {', '.join(unknown) or text!r}; choose from: {', '.join(COLUMN_KEYS)}")
    return keys


def terminal_width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def results_table(
    document: RunDocument,
    fmt: str = DEFAULT_FORMAT,
    *,
    columns: Sequence[str] | None = None,
    width: int | None = None,
) -> str:
    """One row per plugin and device (and, in a sweep, combination of settings, grouped by
    plugin, device and then the settings that vary: :func:`ordered_rows`); ``columns``
    picks the columns, else as many as fit ``width`` (``0``: no limit, every column).

    The parity columns show ``ref`` on each schedule's reference row (:func:`references`).
    With ``--target-accuracy`` two columns show the steps and seconds to the target, or
    ``not reached``.
    """
    refs = {id(row) for row in references(document)}
    targets = _target_columns(document) if any(r.target_accuracy is not None for r in document.results) else []
    if columns:
        chosen = [c for key in columns for c in (targets if key == TO_TARGET else COLUMNS)
                  if key == TO_TARGET or c.key == key]
    else:
        chosen = list(COLUMNS)
        at = next((i + 1 for i, c in enumerate(chosen) if c.key == "steps_per_second"), len(chosen))
        chosen[at:at] = targets
    settings = [_setting_column(key) for key in varying_settings(document)]
    at = max((i + 1 for i, c in enumerate(chosen) if c.key in ("plugin", "device", "status")), default=0)
    chosen[at:at] = settings  # a sweep's axes beside each row's identity
    rows = ordered_rows(document)

    def render(cols: Sequence[Column]) -> str:
        headers = [c.header.format(parity=document.parity_step) for c in cols]
        body = [[c.cell(row, id(row) in refs) for c in cols] for row in rows]
        return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)

    limit = terminal_width() if width is None else width
    text = render(chosen)
    if columns or limit <= 0:
        return text
    while _width(text) > limit and any(c.priority > 0 for c in chosen):
        worst = max(c.priority for c in chosen)
        last = max(i for i, c in enumerate(chosen) if c.priority == worst)
        chosen = chosen[:last] + chosen[last + 1 :]
        text = render(chosen)
    return text


SETTING_HEADERS = {"batch_size": "batch", "steps_per_call": "k/call", "learning_rate": "lr"}
"""Short headers for a sweep's setting columns (the others: the setting's name)."""
SETTING_ORDER = ("steps", "batch_size", "learning_rate", "seed", "threads", "placement", "steps_per_call")
NOT_REACHED = "not reached"


def _setting_column(key: str) -> Column:
    header = SETTING_HEADERS.get(key, key.replace("_", " "))
    return Column(key, header, 0, lambda row, _: safe_text(_setting_text(row.settings.get(key, "-"))))


def _setting_text(value: Any) -> str:
    return "default" if value is None else str(value)


def _target_columns(document: RunDocument) -> list[Column]:
    targets = {row.target_accuracy for row in document.results if row.target_accuracy is not None}
    name = f"{100 * next(iter(targets)):g}%" if len(targets) == 1 else "target"

    def cell(row: Row, value: str) -> str:
        if row.target_accuracy is None or not row.ok:
            return "-"
        return value if row.target_reached else NOT_REACHED

    return [
        Column("steps_to_target", f"steps to {name}", 1, lambda r, _: cell(r, str(r.steps_to_target))),
        Column("time_to_target", f"s to {name}", 1, lambda r, _: cell(r, _num(r.time_to_target_seconds, 3))),
    ]


def _width(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def varying_settings(document: RunDocument) -> list[str]:
    """Row settings that differ between rows (a sweep's axes), shown as columns."""
    keys = {key for row in document.results for key in row.settings}
    ordered = [k for k in SETTING_ORDER if k in keys] + sorted(keys - set(SETTING_ORDER))
    return [k for k in ordered if len({repr(row.settings.get(k)) for row in document.results}) > 1]


def ordered_rows(document: RunDocument) -> list[Row]:
    """The rows grouped by plugin and device (in the order they first appear), then by the
    varying settings' values (ascending; the framework's default threads first). A plain
    run keeps its order; a sweep's rows read as one block per classifier."""
    rows = document.results
    plugins = list(dict.fromkeys(row.plugin for row in rows))
    devices = list(dict.fromkeys(row.device for row in rows))
    axes = varying_settings(document)

    def key(row: Row) -> tuple[Any, ...]:
        values = [row.settings.get(axis) for axis in axes]
        return (plugins.index(row.plugin), devices.index(row.device),
                *((value is not None, str(type(value)), value if value is not None else 0) for value in values))

    return sorted(rows, key=key)


def references(document: RunDocument) -> list[Row]:
    """The parity reference of each batch schedule: its first ok row (in the order rows
    ran), against which every row on the same schedule is compared."""
    found: dict[str | None, Row] = {}
    for row in document.results:
        if row.ok:
            found.setdefault(row.schedule_sha256, row)
    return list(found.values())


def row_name(row: Row, axes: Sequence[str] = ()) -> str:
    """``numpy (cpu)``, and in a sweep its varying settings: ``numpy (cpu) batch_size=50 seed=1``."""
    return " ".join([row.label, *(f"{axis}={_setting_text(row.settings.get(axis))}" for axis in axes)])


def parity_note(document: RunDocument) -> str | None:
    """What the parity columns compare, when a run has more than one batch schedule."""
    if len({row.schedule_sha256 for row in document.results if row.ok}) < 2:
        return None
    step = document.parity_step
    return (f"@{step}, @end: max |dparams| against the first ok row of the same batch schedule (same seed and "
            f"batch size, parameters after the same batches), marked ref")


def identity_lines(document: RunDocument) -> list[str]:
    """What run this is: command, date, machine, commit, settings."""
    machine, config = document.machine, document.config
    lines = [f"run:     {document.run_id} ({document.created})"]
    if document.command:
        lines.append(f"command: {safe_text(' '.join(document.command))}")
    gpus = machine.get("gpus") or []
    gpu = f", GPU {', '.join(str(g.get('name')) for g in gpus if isinstance(g, dict))}" if gpus else ""
    lines.append(
        f"machine: {safe_text(machine.get('hostname', '?'))}: {safe_text(machine.get('cpu', '?'))}, "
        f"{machine.get('cpu_count_logical', '?')} CPUs, {machine.get('memory_gb', '?')} GiB{gpu}"
    )
    commit = machine.get("git_commit")
    lines.append(f"bench:   {machine.get('bench', '?')}" + (f" (commit {str(commit)[:12]})" if commit else ""))
    dataset = (document.dataset or {}).get("name") or config.get("dataset", "?")
    settings = ", ".join(
        f"{key} {config[key]}" for key in ("steps", "batch_size", "learning_rate", "seed", "placement", "threads",
                                           "isolation") if config.get(key) is not None
    )
    lines.append(f"config:  {dataset}, {settings}")
    sweep = config.get("sweep")
    if isinstance(sweep, dict) and sweep:
        swept = "; ".join(f"{key} {', '.join(map(_setting_text, values))}" for key, values in sweep.items()
                          if isinstance(values, list))
        lines.append(f"sweep:   {safe_text(swept)}")
    if document.interrupted:
        lines.append(f"interrupted: {document.interrupted}")
    return lines


def roofline_line(document: RunDocument) -> str | None:
    """The ceilings the ``% roof`` column refers to (schema-1 files: the unfused numpy bound)."""
    section = document.roofline
    if not isinstance(section, dict):
        return None
    lines = []
    for device, entry in sorted((section.get("ceilings") or {}).items()):
        if not isinstance(entry, dict):
            continue
        peak, bandwidth = entry.get("peak_flops_per_second"), entry.get("memory_bytes_per_second")
        if not isinstance(peak, (int, float)) or not isinstance(bandwidth, (int, float)):
            continue
        threads = (entry.get("settings") or {}).get("threads")
        note = "cached" if entry.get("from_cache") else "measured"
        lines.append(
            f"roofline {safe_text(device)}: {peak / 1e9:.0f} GFLOP/s, {bandwidth / 1e9:.1f} GB/s "
            f"({threads} thread(s), {note} {safe_text(entry.get('measured', ''))[:10]}); "
            "% roof = steps/s over 1 / max(FLOPs / peak, bytes / bandwidth) of a step"
        )
    if not lines and isinstance(section.get("steps_per_second"), (int, float)):  # schema 1
        lines.append(f"unfused numpy bound of the linear model (schema-1 file): {_num(section['steps_per_second'], 0)} "
                     "steps/s")
    return "\n".join(lines) or None


def device_speedup_table(document: RunDocument, fmt: str = DEFAULT_FORMAT) -> str | None:
    """GPU/CPU speed-ups for every plugin run on the CPU and on another device.

    ``None`` when no plugin was run on more than the CPU. A device that was unavailable
    or failed still gets its line, with its status in place of the speed-up.
    """
    cpu = {(r.plugin, r.placement): r for r in document.results if r.device == "cpu"}
    body = []
    for row in document.results:
        base = cpu.get((row.plugin, row.placement))
        if base is None or row.device == "cpu":
            continue
        both_ok = row.ok and base.ok
        sg, sc = rate(row), rate(base)
        wg, wc = row.wall_seconds, base.wall_seconds
        speedup = _num(sg / sc if both_ok and sg and sc else None, 2)
        wall_speedup = _num(wc / wg if both_ok and wc and wg else None, 2)
        if not both_ok:
            speedup = wall_speedup = f"({row.status if base.ok else 'cpu ' + str(base.status)})"
        body.append([safe_text(row.plugin), row.device, _num(sc, 0), _num(sg, 0) if both_ok else "-", speedup,
                     _num(wc, 2), _num(wg, 2) if both_ok else "-", wall_speedup])
    if not body:
        return None
    headers = ["plugin", "device", "steps/s cpu", "steps/s device", "speed-up", "wall s cpu", "wall s device",
               "wall speed-up"]
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def problems(document: RunDocument) -> list[str]:
    """One line per row that is not ok, with its error (control characters escaped)."""
    axes = varying_settings(document)
    return [f"{safe_text(row_name(row, axes))}: {row.status}: {safe_text(row.error)}"
            for row in ordered_rows(document) if row.status != Status.OK]


ROW_PHASES = (
    "worker start, bench import, data mapping", "load", "setup", "place dataset on device", "first step",
    "other steps", "evaluations during training", "evaluation", "close", "harness bookkeeping, parameter snapshots",
)


def row_phases(row: Row, label: str | None = None) -> list[tuple[str, float]]:
    """Where one row's time went, phase by phase (each phase named ``label: phase``)."""
    steady = None
    if row.train_seconds is not None and row.first_step_seconds is not None:
        steady = row.train_seconds - row.first_step_seconds
    parts = list(zip(ROW_PHASES, [
        row.worker_start_seconds, row.load_seconds, row.setup_seconds, row.placement_seconds,
        row.first_step_seconds, steady, row.eval_during_training_seconds, row.eval_seconds, row.close_seconds,
    ], strict=False))  # the last phase, bookkeeping, is derived below
    label = row.label if label is None else label
    phases = [(f"{label}: {name}", seconds) for name, seconds in parts if seconds is not None]
    if row.wall_seconds is not None:
        inside = sum(s for name, s in parts[1:] if s is not None)
        phases.append((f"{label}: {ROW_PHASES[-1]}", max(0.0, row.wall_seconds - inside)))
    return phases


def timeline(document: RunDocument) -> list[tuple[str, float]]:
    """The run's phases, then every row's (schema-1 files stored the rows' phases too).

    In a sweep (rows whose settings vary) each phase is summed over the rows instead,
    ``N rows: first step``: one line per phase rather than one per phase and row.
    """
    if document.schema_version < 2:
        return list(document.timeline)
    if not varying_settings(document):
        return [*document.timeline, *(phase for row in document.results for phase in row_phases(row))]
    measured = [row for row in document.results if row.wall_seconds is not None]
    totals = dict.fromkeys(ROW_PHASES, 0.0)
    present: set[str] = set()
    for row in measured:
        for label, seconds in row_phases(row, ""):
            totals[label[2:]] += seconds
            present.add(label[2:])
    totals = {name: seconds for name, seconds in totals.items() if name in present}
    count = f"{len(measured)} rows" if len(measured) != 1 else "1 row"
    return [*document.timeline, *((f"{count}: {name}", seconds) for name, seconds in totals.items())]


def timeline_table(document: RunDocument, fmt: str = DEFAULT_FORMAT) -> str:
    """Where each second of the process went, with each phase's share."""
    phases = timeline(document)
    total = sum(seconds for _, seconds in phases)  # huge values give inf (shown as "-"), never an error
    finite = math.isfinite(total)
    body = [[safe_text(label), _num(seconds, 3),
             _num(100 * seconds / total if finite and total > 0 else (0.0 if finite else None), 1)]
            for label, seconds in phases]
    body.append(["total measured", _num(total, 3), "100.0" if finite else "-"])
    return tabulate(body, headers=["phase", "seconds", "%"], tablefmt=fmt, disable_numparse=True)


def compare_table(comparisons: Sequence[RowComparison], fmt: str = DEFAULT_FORMAT) -> str:
    """Every row of either run: steps/s and accuracy in A and B, and B/A."""
    headers = ["row", "steps/s A", "steps/s B", "B/A", "acc % A", "acc % B", "acc diff (B-A) pts", "note"]
    body = []
    for c in comparisons:
        aa = c.baseline.test_accuracy if c.baseline else None
        ab = c.candidate.test_accuracy if c.candidate else None
        body.append([
            safe_text(c.label),
            _num(rate(c.baseline), 0),
            _num(rate(c.candidate), 0),
            _num(c.ratio, 3),
            _num(_scaled(aa, 100), 2),
            _num(_scaled(ab, 100), 2),
            _num(None if aa is None or ab is None else 100 * (ab - aa), 2),
            safe_text(c.note) if c.note else "",
        ])
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)
