"""A bench run in pytest-benchmark's JSON layout, for ``pytest-benchmark compare``.

:func:`to_pytest_benchmark` turns a result document (bench/result.py) into what
``pytest --benchmark-json`` writes: ``machine_info``, ``commit_info``, ``benchmarks``
(one per ok row: its steady-state training steps, the first step left out, as bench
reports them) with ``stats``, ``options`` and ``extra_info``, then ``datetime`` and
``version``. So ``pytest-benchmark compare a.json b.json`` (and ``--histogram``, with
pygal installed) works on bench runs, beside or against pytest-benchmark's own files.

The stats come from the most exact source the row has:

1. ``step_seconds``: every step's time (the first included), when the row keeps them;
   then every statistic is computed exactly as pytest-benchmark computes it.
2. Summary fields ``step_seconds_min/max/mean/stddev/q1/q3`` where present.
3. Otherwise what every row has: the median, p10 and p90 of the steady steps, and
   ``train_seconds`` and ``first_step_seconds`` (which give the exact mean and total).
   Quartiles are then interpolated between p10, the median and p90, min and max are
   taken as p10 and p90, stddev as (p90 - p10) / 2.563 (a normal distribution's), and
   the outlier counts are unknown (``"?;?"``). Each approximated statistic is listed in
   ``extra_info["approximated"]``.

``python -m bench.benchjson RESULT.json [-o OUT.json]`` converts a saved run.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LAYOUT_VERSION = "5.3.1"
"""The pytest-benchmark version whose ``--benchmark-json`` layout this follows."""
_P10_P90_SIGMAS = 2 * 1.2815515655446004  # p90 - p10 of a normal distribution, in standard deviations


def to_pytest_benchmark(document: Mapping[str, Any]) -> dict[str, Any]:
    """The run ``document`` in pytest-benchmark's JSON layout (see the module docstring)."""
    machine = dict(document.get("machine") or {})
    config = dict(document.get("config") or {})
    dataset = document.get("dataset") or {}
    dataset_name = dataset.get("name") or config.get("dataset") or "?"
    batch_size = config.get("batch_size")
    benchmarks = []
    for row in document.get("results") or []:
        bench = _benchmark(row, document, dataset_name, batch_size)
        if bench is not None:
            benchmarks.append(bench)
    return {
        "machine_info": _machine_info(machine),
        "commit_info": _commit_info(machine),
        "benchmarks": benchmarks,
        "datetime": document.get("created") or "",
        "version": LAYOUT_VERSION,
    }


def _benchmark(
    row: Mapping[str, Any], document: Mapping[str, Any], dataset: str, batch_size: Any
) -> dict[str, Any] | None:
    if row.get("status") != "ok":
        return None
    stats, data, approximated = step_stats(row)
    if stats is None:
        return None
    plugin, device = str(row.get("plugin")), str(row.get("device"))
    placement = row.get("placement") or "feed"
    param = f"{plugin}-{device}" + ("" if placement == "feed" else f"-{placement}")
    extra = {
        key: row.get(key)
        for key in (
            "steps_per_second", "steps_completed", "first_step_seconds", "setup_seconds", "eval_seconds",
            "test_accuracy", "final_loss", "roofline_fraction", "plugin_version", "distribution",
        )
        if row.get(key) is not None
    }
    extra.update(
        source="bench run",
        what="one training step, the batch gather from the schedule included; the first step left out",
        plugin=plugin,
        device=device,
        placement=placement,
        dataset=dataset,
        batch_size=batch_size,
        run_id=document.get("run_id"),
        batch_schedule_sha256=document.get("batch_schedule_sha256"),
        frameworks=(document.get("machine") or {}).get("frameworks") or {},
    )
    if row.get("params"):
        extra["params"] = row["params"]
    if approximated:
        extra["approximated"] = approximated
    if data is not None:
        stats["data"] = data
    return {
        "group": f"bench_train_step_{dataset}_batch{batch_size}",
        "name": f"train_step[{param}]",
        "fullname": f"bench::train_step[{param}]",
        "params": {"plugin": plugin, "device": device, "placement": placement},
        "param": param,
        "extra_info": extra,
        "options": {
            "disable_gc": False,
            "timer": "perf_counter",
            "min_rounds": stats["rounds"],
            "max_time": 0,
            "min_time": 0,
            "precision": None,
            "confidence": None,
            "warmup": False,
        },
        "stats": stats,
    }


def step_stats(row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[float] | None, list[str]]:
    """``(stats, per-step data or None, names of approximated stats)`` for one row's steady steps."""
    samples = _numbers(row.get("step_seconds"))
    if samples:
        steady = samples[1:] if len(samples) > 1 else samples
        return exact_stats(steady), steady, []
    return _summary_stats(row)


def exact_stats(data: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's ``Stats.as_dict()`` for ``data`` (per-iteration seconds), plus iterations."""
    ordered = sorted(data)
    n = len(ordered)
    mean = statistics.mean(ordered)
    stddev = statistics.stdev(ordered) if n > 1 else 0
    q1, q3 = _quartiles(ordered)
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for v in ordered if v < low_fence or v > high_fence)
    stddev_outliers = sum(1 for v in ordered if v < mean - stddev or v > mean + stddev)
    total = sum(data)
    stats = {
        "min": ordered[0],
        "max": ordered[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": n,
        "median": statistics.median(ordered),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": ordered[0] if n == 1 else ordered[bisect_left(ordered, low_fence)],
        "hd15iqr": ordered[0] if n == 1 else ordered[bisect_right(ordered, high_fence) - 1],
        "ops": n / total if total else 0,
        "total": total,
        "iterations": 1,
    }
    return stats


def _quartiles(ordered: Sequence[float]) -> tuple[float, float]:
    """Q1 and Q3 as pytest-benchmark computes them (Wikipedia's methods 2 and 3)."""
    n = len(ordered)
    if n == 1:
        return ordered[0], ordered[0]
    if n % 2:
        k, r = n // 4, n % 4
        if r == 1:
            return 0.25 * ordered[k - 1] + 0.75 * ordered[k], 0.75 * ordered[3 * k] + 0.25 * ordered[3 * k + 1]
        return 0.75 * ordered[k] + 0.25 * ordered[k + 1], 0.25 * ordered[3 * k + 1] + 0.75 * ordered[3 * k + 2]
    return statistics.median(ordered[: n // 2]), statistics.median(ordered[n // 2 :])


def _summary_stats(row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, None, list[str]]:
    median = _number(row.get("step_seconds_median"))
    done = row.get("steps_completed")
    if median is None or not isinstance(done, int) or done < 1:
        return None, None, []
    n = done - 1 if done > 1 else 1
    approximated: list[str] = []
    p10 = _number(row.get("step_seconds_p10"))
    p90 = _number(row.get("step_seconds_p90"))
    p10 = median if p10 is None else min(p10, median)
    p90 = median if p90 is None else max(p90, median)

    def field(name: str, fallback: float) -> float:
        value = _number(row.get(f"step_seconds_{name}"))
        if value is None:
            approximated.append(name)
            return fallback
        return value

    train, first = _number(row.get("train_seconds")), _number(row.get("first_step_seconds"))
    exact_mean = None
    if train is not None and first is not None and done > 1:
        exact_mean = max(0.0, train - first) / n
    elif train is not None and done == 1:
        exact_mean = train
    mean = _number(row.get("step_seconds_mean"))
    if mean is None:
        mean = exact_mean
    if mean is None:
        mean = median
        approximated.append("mean")
    lowest = field("min", p10)
    highest = field("max", p90)
    q1 = field("q1", p10 + (25 - 10) / (50 - 10) * (median - p10))
    q3 = field("q3", median + (75 - 50) / (90 - 50) * (p90 - median))
    stddev = field("stddev", (p90 - p10) / _P10_P90_SIGMAS)
    iqr = q3 - q1
    ld15iqr, hd15iqr = max(lowest, q1 - 1.5 * iqr), min(highest, q3 + 1.5 * iqr)
    approximated += ["ld15iqr", "hd15iqr", "iqr_outliers", "stddev_outliers"]
    if "mean" in approximated:
        approximated += ["ops", "total"]
    total = mean * n
    stats: dict[str, Any] = {
        "min": lowest,
        "max": highest,
        "mean": mean,
        "stddev": stddev,
        "rounds": n,
        "median": median,
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": None,
        "stddev_outliers": None,
        "outliers": "?;?",
        "ld15iqr": ld15iqr,
        "hd15iqr": hd15iqr,
        "ops": 1 / mean if mean > 0 else 0,
        "total": total,
        "iterations": 1,
    }
    return stats, None, approximated


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _numbers(value: Any) -> list[float] | None:
    if not isinstance(value, list) or not value:
        return None
    numbers = [_number(v) for v in value]
    return None if any(v is None for v in numbers) else numbers  # type: ignore[return-value]


def _machine_info(machine: Mapping[str, Any]) -> dict[str, Any]:
    os_text = str(machine.get("os") or "")
    parts = os_text.split("-")
    python = str(machine.get("python") or "")
    return {
        "node": machine.get("hostname") or "",
        "processor": "",
        "machine": next((p for p in parts if p in ("x86_64", "aarch64", "arm64", "AMD64", "ppc64le", "s390x")), ""),
        "python_compiler": "",
        "python_implementation": machine.get("python_implementation") or "",
        "python_implementation_version": python,
        "python_version": python,
        "python_build": [],
        "release": parts[1] if len(parts) > 1 else "",
        "system": parts[0] if parts else "",
        "cpu": {"brand_raw": machine.get("cpu") or "", "count": machine.get("cpu_count_logical")},
        "bench": dict(machine),
    }


def _commit_info(machine: Mapping[str, Any]) -> dict[str, Any]:
    commit = machine.get("git_commit")
    return {
        "id": commit,
        "time": None,
        "author_time": None,
        "dirty": machine.get("git_dirty"),
        "project": "bench",
        "branch": machine.get("git_branch"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    from bench.errors import BenchError
    from bench.result import load_run, write_json_atomic

    parser = argparse.ArgumentParser(
        prog="python -m bench.benchjson",
        description="Write a saved bench run in pytest-benchmark's JSON layout (for pytest-benchmark compare).",
    )
    parser.add_argument("file", help="a bench result JSON file")
    parser.add_argument("-o", "--output", help="where to write (default: FILE with .pytest-benchmark.json)")
    args = parser.parse_args(argv)
    source = Path(args.file)
    target = Path(args.output) if args.output else source.with_suffix(".pytest-benchmark.json")
    try:
        converted = to_pytest_benchmark(load_run(source))
        write_json_atomic(target, converted)
    except BenchError as exc:
        print(f"bench.benchjson: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {target} ({len(converted['benchmarks'])} benchmarks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
