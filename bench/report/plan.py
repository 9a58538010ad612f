"""A sweep's plan, before anything runs (``bench sweep --dry-run``): the rows in the order
they would run, what varies, each row's schedule and parity reference."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from bench.plan import PlannedRow, schedule_keys, varying
from bench.report.text import DEFAULT_FORMAT
from bench.results.identity import reference_positions, value_of


def plan_table(planned: Sequence[PlannedRow], fmt: str = DEFAULT_FORMAT) -> str:
    """The rows in the order they would run: what varies, the schedule, the parity reference."""
    axes = varying(planned)
    references = reference_positions((item.schedule_key, item.unavailable is None) for item in planned)
    body = []
    for number, item in enumerate(planned, 1):
        settings = item.settings
        if item.unavailable is not None:
            parity, runs = "-", f"unavailable: {item.unavailable}"
        else:
            reference = references[item.schedule_key] + 1
            parity, runs = ("ref" if reference == number else f"vs #{reference}"), "run"
        seed, batch = item.schedule_key
        body.append([number, item.spec.name, item.device, *(value_of(settings, item.params, key) for key in axes),
                     f"seed {seed}, batch {batch}", parity, runs])
    headers = ["#", "plugin", "device", *(key.replace("_", " ") for key in axes), "schedule", "parity", "status"]
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def plan_summary(planned: Sequence[PlannedRow]) -> str:
    """How many rows run, how many cannot, on how many schedules; and that nothing ran."""
    runnable = [item for item in planned if item.unavailable is None]
    steps = sorted({item.config.steps for item in runnable})
    lines = [
        f"{len(planned)} rows: {len(runnable)} to run, {len(planned) - len(runnable)} unavailable; "
        f"{len(schedule_keys(planned))} batch schedule(s) of {', '.join(map(str, steps))} steps",
        "parity: each row against the first ok row of its schedule (same seed and batch size) whose parameters "
        "have the same names and shapes (known once the rows ran)",
    ]
    if any(item.device == "all" for item in planned):
        lines.append("device 'all' is expanded to each plugin's devices when the sweep runs")
    lines.append("nothing was run (--dry-run)")
    return "\n".join(lines)
