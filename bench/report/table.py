"""The results table: one row per measured row, its columns, ``--format`` and ``--columns``.

The table fits the terminal by default: its columns have priorities, and the least
important ones are left out until the table is as wide as the terminal (``--wide`` shows
them all, ``--columns`` picks them, as pytest-benchmark's ``--benchmark-columns`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate, tabulate_formats

from bench.errors import UsageError
from bench.report.text import DEFAULT_FORMAT, mib, num, safe_text, scaled, sci, terminal_width, text_width
from bench.results.identity import label_of, ordered_rows, references, setting_text, varying_of
from bench.results.model import Row, RunDocument, Status
from bench.results.noise import BUSY_MARK, BUSY_SHARE, is_busy, others_cpus, oversubscribed

UNCREDITED = (Status.SUSPECT, Status.FAILED)
"""Rows whose reported speed and accuracy are shown in parentheses: not credited."""


def check_format(fmt: str) -> str:
    """Return ``fmt`` if tabulate knows it, else raise a UsageError listing the formats."""
    if fmt not in tabulate_formats:
        raise UsageError(f"unknown format {fmt!r}; choose one of: {', '.join(sorted(tabulate_formats))}")
    return fmt


@dataclass(frozen=True)
class Column:
    """A results-table column: its key (for ``--columns``), header, priority and cell."""

    key: str
    header: str
    priority: int
    """0 always shown; higher numbers are left out first when the terminal is narrow."""
    cell: Callable[[Row, bool], str]
    """``cell(row, is_reference)``."""


def _credited(cell: Callable[[Row], str]) -> Callable[[Row, bool], str]:
    """A figure of a suspect or failed row in parentheses: what it reported, not what it is credited with."""
    def show(row: Row, _: bool) -> str:
        text = cell(row)
        return f"({text})" if row.status in UNCREDITED and text != "-" else text

    return show


def node_label(node: Mapping[str, Any] | None) -> str:
    """Where a row ran (``--executor ray``): ``host/1a2b3c`` (the host and the start of its
    Ray node id, which tells apart nodes of one machine); ``-`` for a row of this machine."""
    if not node:
        return "-"
    host = str(node.get("hostname") or node.get("ray_node_ip") or "?")
    node_id = str(node.get("ray_node_id") or "")
    return f"{host}/{node_id[:6]}" if node_id else host


NODE = Column("node", "node", 1, lambda r, _: safe_text(node_label(r.node)))
"""Shown (beside the identity) when any row ran on a node of a cluster."""


def _parity(attribute: str) -> Callable[[Row, bool], str]:
    return lambda row, ref: "ref" if ref else sci(getattr(row, attribute))


COLUMNS: tuple[Column, ...] = (
    Column("plugin", "plugin", 0, lambda r, _: safe_text(r.plugin)),
    Column("device", "device", 0, lambda r, _: safe_text(r.device)),
    Column("status", "status", 0, lambda r, _: str(r.status)),
    Column("accuracy", "acc %", 1, _credited(lambda r: num(scaled(r.test_accuracy, 100), 2))),
    Column("steps_per_second", "steps/s", 1, _credited(lambda r: rate_cell(r) + (BUSY_MARK if is_busy(r) else ""))),
    Column("wall", "wall s", 2, lambda r, _: num(r.wall_seconds, 2)),
    Column("parity", "@{parity}", 2, _parity("parity_max_abs_diff")),
    Column("roofline", "% roof", 3, _credited(lambda r: num(scaled(r.roofline_fraction, 100), 0))),
    Column("own_memory", "own MiB", 3, lambda r, _: mib(r.peak_own_memory_bytes)),
    Column("host_memory", "host MiB", 3, lambda r, _: mib(r.peak_host_memory_bytes)),
    Column("device_memory", "dev MiB", 4, lambda r, _: mib(r.peak_device_memory_bytes)),
    Column("first_step", "1st step s", 4, lambda r, _: num(r.first_step_seconds, 3)),
    Column("parity_end", "@end", 5, _parity("final_max_abs_diff")),
    Column("final_loss", "final loss", 6, lambda r, _: num(r.final_loss, 3)),
    Column("load", "load s", 6, lambda r, _: num(r.load_seconds, 3)),
    Column("setup", "setup s", 6, lambda r, _: num(r.setup_seconds, 3)),
    Column("train", "train s", 7, lambda r, _: num(r.train_seconds, 2)),
    Column("eval", "eval s", 7, lambda r, _: num(r.eval_seconds, 3)),
    Column("parameters", "params s", 7, lambda r, _: num(r.parameters_seconds, 3)),
)
TO_TARGET = "to_target"
"""The column key of the two time-to-accuracy columns (``--target-accuracy``)."""
COLUMN_KEYS = (*(column.key for column in COLUMNS), NODE.key, TO_TARGET)
SETTING_HEADERS = {"batch_size": "batch", "steps_per_call": "k/call", "learning_rate": "lr"}
"""Short headers for a sweep's setting columns (the others: the setting's name)."""
NOT_REACHED = "not reached"


def rate_cell(row: Row) -> str:
    """Steps/s, and with ``--repeat`` the 95 % interval over the processes as the larger
    distance to an end: ``1071 ±3%``. One process's interval (from its steps) is left out:
    it knows nothing of the variation between processes (see docs/statistics.md)."""
    rate, interval = row.steps_per_second, row.rate_interval
    if rate is None or interval is None or interval.basis != "processes":
        return num(rate, 0)
    return f"{num(rate, 0)} ±{percent(interval.half_width(rate))}"


def percent(fraction: float) -> str:
    """``3%``, ``0.4%``: a relative figure with the digits that matter."""
    value = 100 * fraction
    if value != value or value == float("inf"):
        return "?%"
    return f"{value:.0f}%" if round(value, 1) >= 1 else f"{value:.1f}%"


def check_columns(text: str) -> list[str]:
    """``--columns a,b,c``: known column keys, in the order given."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [key for key in keys if key not in COLUMN_KEYS]
    if unknown or not keys:
        raise UsageError(f"unknown column {', '.join(unknown) or text!r}; choose from: {', '.join(COLUMN_KEYS)}")
    return keys


def results_table(
    document: RunDocument,
    fmt: str = DEFAULT_FORMAT,
    *,
    columns: Sequence[str] | None = None,
    width: int | None = None,
) -> str:
    """One row per plugin and device (and, in a sweep, combination of settings, grouped by
    plugin, device and then the settings that vary:
    :func:`~bench.results.identity.ordered_rows`); ``columns`` picks the columns, else as
    many as fit ``width`` (``0``: no limit, every column).

    The parity columns show ``ref`` on each schedule's reference row
    (:func:`~bench.results.identity.references`). With ``--target-accuracy`` two columns
    show the steps and seconds to the target, or ``not reached``.
    """
    refs = {id(row) for row in references(document)}
    targets = _target_columns(document) if any(r.target_accuracy is not None for r in document.results) else []
    if columns:
        chosen = [c for key in columns for c in (targets if key == TO_TARGET else (*COLUMNS, NODE))
                  if key == TO_TARGET or c.key == key]
    else:
        chosen = list(COLUMNS)
        at = next((i + 1 for i, c in enumerate(chosen) if c.key == "steps_per_second"), len(chosen))
        chosen[at:at] = targets
        if any(row.node for row in document.results):
            at = next(i + 1 for i, c in enumerate(chosen) if c.key == "status")
            chosen[at:at] = [NODE]
    settings = [_setting_column(key) for key in varying_of(document.results)]
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
    while text_width(text) > limit and any(c.priority > 0 for c in chosen):
        worst = max(c.priority for c in chosen)
        last = max(i for i, c in enumerate(chosen) if c.priority == worst)
        chosen = chosen[:last] + chosen[last + 1 :]
        text = render(chosen)
    return text


def _setting_column(key: str) -> Column:
    header = SETTING_HEADERS.get(key, key.replace("_", " "))
    return Column(key, header, 0,
                  lambda row, _: safe_text(setting_text(row.settings.get(key, row.params.get(key, "-")))))


def _target_columns(document: RunDocument) -> list[Column]:
    targets = {row.target_accuracy for row in document.results if row.target_accuracy is not None}
    name = f"{100 * next(iter(targets)):g}%" if len(targets) == 1 else "target"

    def cell(row: Row, value: str) -> str:
        if row.target_accuracy is None or not row.ok:
            return "-"
        return value if row.target_reached else NOT_REACHED

    return [
        Column("steps_to_target", f"steps to {name}", 1, lambda r, _: cell(r, str(r.steps_to_target))),
        Column("time_to_target", f"s to {name}", 1, lambda r, _: cell(r, num(r.time_to_target_seconds, 3))),
    ]


def parity_note(document: RunDocument) -> str | None:
    """What the parity columns compare, when a run has more than one parity reference."""
    if len(references(document)) < 2:
        return None
    step = document.parity_step
    return (f"@{step}, @end: max |dparams| against the first ok row of the same batch schedule "
            "(same seed and batch size) whose parameters have the same names and shapes, marked ref")


NOISE_LINES = 3
"""Rows named by :func:`noise_notes` at most (the others are counted)."""


def noise_notes(document: RunDocument) -> list[str]:
    """The footnote of the busy mark (when a row has it), and a line for each row whose
    threads competed with other processes for the CPUs (:mod:`bench.results.noise`)."""
    busy = [row for row in document.results if is_busy(row)]
    if not busy:
        return []
    shares = [others_cpus(row) or 0.0 for row in busy]
    low, high = f"{min(shares):.1f}", f"{max(shares):.1f}"
    kept = low if low == high else f"{low}-{high}"
    lines = [f"{BUSY_MARK} timed on a busy machine: other processes kept {kept} CPUs busy on average while it trained "
             f"({100 * BUSY_SHARE:g}% of the CPUs or more); its speed can be far below a quiet machine's"]
    varying = varying_of(document.results)
    crowded = [(row, note) for row in busy if (note := oversubscribed(row))]
    lines += [f"  {safe_text(label_of(row, varying))}: {note}" for row, note in crowded[:NOISE_LINES]]
    if len(crowded) > NOISE_LINES:
        lines.append(f"  and {len(crowded) - NOISE_LINES} more rows whose threads outnumbered the free CPUs")
    return lines
