"""A run for a terminal: what ran where, its rows, their problems, the roofline, the
device speed-ups and where the time went; :func:`render_run` puts it together for
``bench run``, ``bench sweep`` and ``bench report``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tabulate import tabulate

from bench.report.accuracy import accuracy_table
from bench.report.table import noise_notes, parity_note, results_table
from bench.report.text import DEFAULT_FORMAT, fitted_table, num, safe_text, wrap
from bench.results.compare import rate
from bench.results.identity import label_of, ordered_rows, setting_text, varying_of
from bench.results.model import Row, RunDocument, Status


def render_run(
    document: RunDocument,
    fmt: str = DEFAULT_FORMAT,
    *,
    columns: Sequence[str] | None = None,
    width: int | None = None,
    identity: bool = False,
) -> str:
    """The run as ``bench report`` prints it (``identity``: its identity lines first, as
    ``bench report`` does; ``bench run`` starts at the table): the results table, the
    parity note, the rows' problems, the accuracy over seeds, the roofline, the speed-ups and
    the timeline; every note wrapped to ``width`` (the terminal's when ``None`` or 0)."""
    parts = [wrap("\n".join(identity_lines(document)), width, indent="         "), ""] if identity else []
    table = results_table(document, fmt, columns=columns, width=width)
    parts.append(table)
    note = parity_note(document)
    header = table.splitlines()[0] if table else ""
    if note and (f"@{document.parity_step}" in header or "@end" in header):  # only under a parity column
        parts.append(wrap(note, width))
    parts += [wrap(line, width) for line in noise_notes(document)]
    parts += [wrap(f"  {line}", width) for line in problems(document)]
    spread = accuracy_table(document, fmt, width=width)
    if spread:
        parts += ["", spread]
    roof = roofline_line(document)
    if roof:
        parts.append(wrap(roof, width))
    speedups = device_speedup_table(document, fmt)
    if speedups:
        parts += ["", speedups]
    parts += ["", timeline_table(document, fmt, width=width)]
    return "\n".join(parts)


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
    repeat = config.get("repeat")
    if isinstance(repeat, int) and repeat > 1:
        settings += f", repeat {repeat}"
    lines.append(f"config:  {dataset}, {settings}")
    sweep = config.get("sweep")
    if isinstance(sweep, dict) and sweep:
        swept = "; ".join(f"{key} {', '.join(map(setting_text, values))}" for key, values in sweep.items()
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
    for device, entry in sorted(document.ceilings().items()):
        peak, bandwidth = entry.get("peak_flops_per_second"), entry.get("memory_bytes_per_second")
        if not isinstance(peak, (int, float)) or not isinstance(bandwidth, (int, float)):
            continue
        threads = (entry.get("settings") or {}).get("threads")
        note = "cached" if entry.get("from_cache") else "measured"
        lines.append(
            f"roofline {safe_text(device)}: {peak / 1e9:.0f} GFLOP/s, {bandwidth / 1e9:.1f} GB/s "
            f"({threads} thread(s), {note} {safe_text(entry.get('measured', ''))[:10]}); "
            "% roof: steps/s against 1 / max(FLOPs / peak, bytes / bandwidth)"
        )
    if not lines and isinstance(section.get("steps_per_second"), (int, float)):  # schema 1
        lines.append(f"unfused numpy bound of the linear model (schema-1 file): {num(section['steps_per_second'], 0)} "
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
        speedup = num(sg / sc if both_ok and sg and sc else None, 2)
        wall_speedup = num(wc / wg if both_ok and wc and wg else None, 2)
        if not both_ok:
            speedup = wall_speedup = f"({row.status if base.ok else 'cpu ' + str(base.status)})"
        body.append([safe_text(row.plugin), row.device, num(sc, 0), num(sg, 0) if both_ok else "-", speedup,
                     num(wc, 2), num(wg, 2) if both_ok else "-", wall_speedup])
    if not body:
        return None
    headers = ["plugin", "device", "cpu steps/s", "steps/s", "speed-up", "cpu wall s", "wall s", "wall x"]
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


TAIL_LINES = 10
"""How many of a failed row's last output lines its problem shows."""


def problems(document: RunDocument) -> list[str]:
    """One line per row that is not ok, with its error (control characters escaped), and
    the last lines of its worker's output; one per row after which bench had to kill
    processes it left running."""
    axes = varying_of(document.results)
    lines = []
    for row in ordered_rows(document):
        label = safe_text(label_of(row, axes))
        if row.status != Status.OK:
            lines.append(f"{label}: {row.status}: {safe_text(row.error)}")
            lines += [f"  output: {line}" for line in output_lines(row)[-TAIL_LINES:]]
        if row.killed_after_row:
            lines.append(f"{label}: killed after the row: {safe_text(', '.join(row.killed_after_row))}")
    return lines


def output_lines(row: Row) -> list[str]:
    """The row's kept worker output, line by line (control characters escaped)."""
    return [safe_text(line) for line in (row.output_tail or "").splitlines() if line.strip()]


ROW_PHASES = (
    "worker start, bench import, data mapping", "load", "setup", "place dataset on device", "first step",
    "other steps", "evaluations during training (predict)", "evaluation (predict)", "parameter snapshots (parameters())",
    "close", "harness bookkeeping",
)


LOAD_ALONGSIDE = "load, while the next row's worker started alongside"
"""A row's load phase when a worker started ahead of its row ran at the same time (its
figure may be the slower for it; ``load_overlapped_seconds`` says for how long at most)."""


def row_phases(row: Row, label: str | None = None) -> list[tuple[str, float]]:
    """Where one row's time went, phase by phase (each phase named ``label: phase``)."""
    steady = None
    if row.train_seconds is not None and row.first_step_seconds is not None:
        steady = row.train_seconds - row.first_step_seconds
    parts = list(zip(ROW_PHASES, [
        row.worker_start_seconds, row.load_seconds, row.setup_seconds, row.placement_seconds,
        row.first_step_seconds, steady, row.eval_during_training_seconds, row.eval_seconds, row.parameters_seconds,
        row.close_seconds,
    ], strict=False))  # the last phase, bookkeeping, is derived below
    label = label_of(row) if label is None else label
    phases = [(f"{label}: {LOAD_ALONGSIDE if name == 'load' and row.load_overlapped_seconds else name}", seconds)
              for name, seconds in parts if seconds is not None]
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
    if not varying_of(document.results):
        return [*document.timeline, *(phase for row in document.results for phase in row_phases(row))]
    measured = [row for row in document.results if row.wall_seconds is not None]
    totals = dict.fromkeys((*ROW_PHASES[:2], LOAD_ALONGSIDE, *ROW_PHASES[2:]), 0.0)
    present: set[str] = set()
    for row in measured:
        for label, seconds in row_phases(row, ""):
            totals[label[2:]] = totals.get(label[2:], 0.0) + seconds
            present.add(label[2:])
    totals = {name: seconds for name, seconds in totals.items() if name in present}
    count = f"{len(measured)} rows" if len(measured) != 1 else "1 row"
    return [*document.timeline, *((f"{count}: {name}", seconds) for name, seconds in totals.items())]


OVERLAPPED = "(overlapped)"
"""The end of a timeline phase that ran alongside others (a worker started ahead of its row)."""


def overlapped(label: str) -> bool:
    """Whether the timeline phase ``label`` ran at the same time as the phases around it."""
    return label.endswith(OVERLAPPED)


def timeline_table(document: RunDocument, fmt: str = DEFAULT_FORMAT, *, width: int | None = None) -> str:
    """Where each second of the process went, with each phase's share (the phases' names
    wrap to fit ``width``, the terminal's when ``None``)."""
    phases = timeline(document)
    # huge values give inf (shown as "-"), never an error; an overlapped phase ran at the
    # same time as others, so it is shown but not added to the total (which stays the wall time)
    total = sum(seconds for label, seconds in phases if not overlapped(label))
    finite = math.isfinite(total)
    body = [[safe_text(label), num(seconds, 3),
             "-" if overlapped(label) else
             num(100 * seconds / total if finite and total > 0 else (0.0 if finite else None), 1)]
            for label, seconds in phases]
    body.append(["total measured", num(total, 3), "100.0" if finite else "-"])
    return fitted_table(body, ["phase", "seconds", "%"], fmt, flexible=[0], width=width or None)
