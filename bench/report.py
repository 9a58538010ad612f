"""Tables for people: a run's rows, where its time went, and two runs side by side."""

from __future__ import annotations

import math
from typing import Any

from tabulate import tabulate, tabulate_formats

from bench.errors import UsageError

DEFAULT_FORMAT = "simple"


def check_format(fmt: str) -> str:
    """Return ``fmt`` if tabulate knows it, else raise a UsageError listing the formats."""
    if fmt not in tabulate_formats:
        raise UsageError(f"unknown --format {fmt!r}; choose one of: {', '.join(sorted(tabulate_formats))}")
    return fmt


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, else None (missing, not a number, NaN, infinite, too large)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _num(value: Any, digits: int) -> str:
    number = _finite(value)
    return "-" if number is None else f"{number:.{digits}f}"


def _sci(value: Any) -> str:
    if value in ("nan", "inf") or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)  # a NaN in the parameters is shown, never hidden
    number = _finite(value)
    return "-" if number is None else f"{number:.2g}"


def _mib(value: Any) -> str:
    number = _finite(value)
    return "-" if number is None else f"{number / 2**20:.0f}"


def _scaled(value: Any, factor: float) -> float | None:
    """``factor * value``, or None when either is missing or the product is not finite."""
    number = _finite(value)
    return None if number is None else _finite(factor * number)


def _share(part: Any, total: float | None) -> float | None:
    """``part`` as a percentage of ``total``."""
    number = _finite(part)
    if number is None or total is None or total <= 0:
        return None
    return _finite(100 * (number / total))


def results_table(document: dict[str, Any], fmt: str = DEFAULT_FORMAT) -> str:
    """One row per plugin and device: accuracy, speed, times and parity."""
    headers = [
        "plugin",
        "device",
        "status",
        "test acc %",
        "final loss",
        "steps/s",
        "% roofline",
        "first step s",
        "setup s",
        "train s",
        "eval s",
        "wall s",
        "host MiB",
        "device MiB",
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
                _num(_scaled(accuracy, 100), 2),
                _num(row.get("final_loss"), 3),
                _num(row.get("steps_per_second"), 0),
                _num(_scaled(row.get("roofline_fraction"), 100), 0),
                _num(row.get("first_step_seconds"), 3),
                _num(row.get("setup_seconds"), 3),
                _num(row.get("train_seconds"), 2),
                _num(row.get("eval_seconds"), 3),
                _num(row.get("wall_seconds"), 2),
                _mib(row.get("peak_host_memory_bytes")),
                _mib(row.get("peak_device_memory_bytes")),
                *parity,
            ]
        )
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def roofline_line(document: dict[str, Any]) -> str | None:
    """The CPU limit the ``% roofline`` column refers to, and what it is made of."""
    limit = document.get("roofline")
    if not isinstance(limit, dict) or _finite(limit.get("steps_per_second")) is None:
        return None
    parts = ", ".join(
        f"{label} {_num(_scaled(limit.get(key), 1e6), 0)} us"
        for label, key in (
            ("gather", "gather_seconds"),
            ("forward product", "forward_matmul_seconds"),
            ("gradient product", "gradient_matmul_seconds"),
        )
    )
    threads = limit.get("blas_threads")
    blas = "default BLAS threads" if threads is None else f"{threads} BLAS thread(s)"
    return f"roofline of the linear model (this CPU, numpy BLAS, {blas}): {_num(limit.get('steps_per_second'), 0)} steps/s = {parts}"


def device_speedup_table(document: dict[str, Any], fmt: str = DEFAULT_FORMAT) -> str | None:
    """GPU/CPU speed-ups for every plugin run on the CPU and on another device.

    ``None`` when no plugin was run on more than the CPU. A device that was unavailable
    or failed still gets its line, with its status in place of the speed-up.
    """
    rows = document.get("results", [])
    cpu = {r.get("plugin"): r for r in rows if r.get("device") == "cpu"}
    body = []
    for row in rows:
        base = cpu.get(row.get("plugin"))
        if base is None or row.get("device") == "cpu":
            continue
        sg, sc = _finite(row.get("steps_per_second")), _finite(base.get("steps_per_second"))
        wg, wc = _finite(row.get("wall_seconds")), _finite(base.get("wall_seconds"))
        both_ok = row.get("status") == "ok" and base.get("status") == "ok"
        speedup = _num(sg / sc if both_ok and sg and sc else None, 2)
        wall_speedup = _num(wc / wg if both_ok and wc and wg else None, 2)
        if not both_ok:
            speedup = wall_speedup = f"({row.get('status') if base.get('status') == 'ok' else 'cpu ' + str(base.get('status'))})"
        body.append(
            [
                row.get("plugin"),
                row.get("device"),
                _num(sc, 0),
                _num(sg, 0) if both_ok else "-",
                speedup,
                _num(wc, 2),
                _num(wg, 2) if both_ok else "-",
                wall_speedup,
            ]
        )
    if not body:
        return None
    headers = ["plugin", "device", "steps/s cpu", "steps/s device", "speed-up", "wall s cpu", "wall s device",
               "wall speed-up"]
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
    total = _finite(sum(_finite(seconds) or 0.0 for _, seconds in timeline))
    base = None if total is None else (total or 1.0)  # all zero: every share is 0.0
    body = [[label, _num(seconds, 3), _num(_share(seconds, base), 1)] for label, seconds in timeline]
    body.append(["total measured", _num(total, 3), "-" if total is None else "100.0"])
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
        sa, sb = _finite(old.get("steps_per_second")), _finite(row.get("steps_per_second"))
        aa, ab = _finite(old.get("test_accuracy")), _finite(row.get("test_accuracy"))
        body.append(
            [
                row.get("plugin"),
                row.get("device"),
                _num(sa, 0),
                _num(sb, 0),
                _num(sb / sa if sa and sb else None, 3),
                _num(_scaled(aa, 100), 2),
                _num(_scaled(ab, 100), 2),
                _num(None if aa is None or ab is None else _scaled(ab - aa, 100), 2),
            ]
        )
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def _parity_step(document: dict[str, Any]) -> int:
    return int((document.get("config") or {}).get("parity_step") or 10)
