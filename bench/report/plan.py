"""A sweep's plan, before anything runs (``bench sweep --dry-run``): the rows in the order
they would run, what varies, each row's schedule and parity reference."""

from __future__ import annotations

from collections.abc import Sequence

from bench.plan import PlannedRow, schedule_keys, varying
from bench.report.text import DEFAULT_FORMAT, fitted_table, wrap
from bench.results.identity import reference_positions, value_of


def plan_table(planned: Sequence[PlannedRow], fmt: str = DEFAULT_FORMAT) -> str:
    """The rows in the order they would run: what varies, the schedule, the parity reference;
    why a row is unavailable on a line under the table (the rows with one reason together)."""
    from bench.report.table import SETTING_HEADERS

    axes = varying(planned)
    references = reference_positions((item.schedule_key, item.unavailable is None) for item in planned)
    # a row's schedule is its seed and batch size: columns when they vary, else in plan_summary
    body = []
    reasons: dict[str, list[int]] = {}
    for number, item in enumerate(planned, 1):
        settings = item.settings
        if item.unavailable is not None:
            parity, runs = "-", "unavailable"
            reasons.setdefault(item.unavailable, []).append(number)
        else:
            reference = references[item.schedule_key] + 1
            parity, runs = ("ref" if reference == number else f"vs #{reference}"), "run"
        body.append([number, item.spec.name, item.device, *(value_of(settings, item.params, key) for key in axes),
                     parity, runs])
    headers = ["#", "plugin", "device", *(SETTING_HEADERS.get(key, key.replace("_", " ")) for key in axes),
               "parity", "status"]
    notes = [wrap(f"{', '.join(f'#{n}' for n in numbers)} unavailable: {reason}")
             for reason, numbers in reasons.items()]
    return "\n".join([fitted_table(body, headers, fmt, flexible=[1]), *notes])


def plan_summary(planned: Sequence[PlannedRow]) -> str:
    """How many rows run, how many cannot, on how many schedules; and that nothing ran."""
    runnable = [item for item in planned if item.unavailable is None]
    steps = sorted({item.config.steps for item in runnable})
    lines = [
        f"{len(planned)} rows: {len(runnable)} to run, {len(planned) - len(runnable)} unavailable; "
        f"{len(schedule_keys(planned))} batch schedule(s) of {', '.join(map(str, steps))} steps"
        + (" (seed {}, batch {})".format(*schedule_keys(planned)[0]) if len(schedule_keys(planned)) == 1
           else ", one per seed and batch size"),
        "parity: each row against the first ok row of its schedule (same seed and batch size) whose parameters "
        "have the same names and shapes (known once the rows ran)",
    ]
    if any(item.device == "all" for item in planned):
        lines.append("device 'all' is expanded to each plugin's devices when the sweep runs")
    lines.append("nothing was run (--dry-run)")
    return wrap("\n".join(lines))
