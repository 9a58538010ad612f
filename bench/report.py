"""Tables for people: a run's rows, where its time went, and two runs side by side."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate, tabulate_formats

from bench.errors import UsageError

DEFAULT_FORMAT = "simple"


def check_format(fmt: str) -> str:
    """Return ``fmt`` if tabulate knows it, else raise a UsageError listing the formats."""
    if fmt not in tabulate_formats:
        raise UsageError(f"unknown --format {fmt!r}; choose one of: {', '.join(sorted(tabulate_formats))}")
    return fmt


def _num(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def _sci(value: Any) -> str:
    return "-" if value is None else f"{value:.2g}"


def results_table(document: dict[str, Any], fmt: str = DEFAULT_FORMAT) -> str:
    """One row per plugin and device: accuracy, speed, times and parity."""
    headers = [
        "plugin",
        "device",
        "status",
        "test acc %",
        "final loss",
        "steps/s",
        "first step s",
        "setup s",
        "train s",
        "eval s",
        "wall s",
        f"max |dparams| @{_parity_step(document)}",
        "@end",
    ]
    body = []
    rows = document.get("results", [])
    reference = next((i for i, row in enumerate(rows) if row.get("status") == "ok"), None)
    for i, row in enumerate(rows):
        accuracy = row.get("test_accuracy")
        parity = ["ref", "ref"] if i == reference else [
            _sci(row.get("parity_max_abs_diff")),
            _sci(row.get("final_max_abs_diff")),
        ]
        body.append(
            [
                row.get("plugin"),
                row.get("device"),
                row.get("status"),
                _num(None if accuracy is None else 100 * accuracy, 2),
                _num(row.get("final_loss"), 3),
                _num(row.get("steps_per_second"), 0),
                _num(row.get("first_step_seconds"), 3),
                _num(row.get("setup_seconds"), 3),
                _num(row.get("train_seconds"), 2),
                _num(row.get("eval_seconds"), 3),
                _num(row.get("wall_seconds"), 2),
                *parity,
            ]
        )
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def problems(document: dict[str, Any]) -> list[str]:
    """One line per row that is not ok, with its error."""
    return [
        f"{row.get('plugin')} ({row.get('device')}): {row.get('status')}: {row.get('error')}"
        for row in document.get("results", [])
        if row.get("status") != "ok"
    ]


def timeline_table(document: dict[str, Any], fmt: str = DEFAULT_FORMAT) -> str:
    """Where each second of the process went, with each phase's share."""
    timeline = document.get("timeline") or []
    total = sum(seconds for _, seconds in timeline) or 1.0
    body = [[label, f"{seconds:.3f}", f"{100 * seconds / total:.1f}"] for label, seconds in timeline]
    body.append(["total measured", f"{sum(s for _, s in timeline):.3f}", "100.0"])
    return tabulate(body, headers=["phase", "seconds", "%"], tablefmt=fmt, disable_numparse=True)


def compare_table(a: dict[str, Any], b: dict[str, Any], fmt: str = DEFAULT_FORMAT) -> str:
    """Rows of run B beside the same plugin and device in run A."""
    before = {(r.get("plugin"), r.get("device")): r for r in a.get("results", [])}
    headers = ["plugin", "device", "steps/s A", "steps/s B", "B/A", "acc % A", "acc % B", "acc diff (B-A) pts"]
    body = []
    for row in b.get("results", []):
        old = before.get((row.get("plugin"), row.get("device")))
        if old is None:
            continue
        sa, sb = old.get("steps_per_second"), row.get("steps_per_second")
        aa, ab = old.get("test_accuracy"), row.get("test_accuracy")
        body.append(
            [
                row.get("plugin"),
                row.get("device"),
                _num(sa, 0),
                _num(sb, 0),
                _num(sb / sa if sa and sb else None, 3),
                _num(None if aa is None else 100 * aa, 2),
                _num(None if ab is None else 100 * ab, 2),
                _num(None if aa is None or ab is None else 100 * (ab - aa), 2),
            ]
        )
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def _parity_step(document: dict[str, Any]) -> int:
    return int((document.get("config") or {}).get("parity_step") or 10)
