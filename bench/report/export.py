"""A bench run in pytest-benchmark's JSON layout, for ``pytest-benchmark compare``.

:func:`to_pytest_benchmark` turns a run into what ``pytest --benchmark-json`` writes:
``machine_info``, ``commit_info``, ``benchmarks`` (one per ok row: its steady-state
training steps, the first step left out, as bench reports them) with ``stats``,
``options`` and ``extra_info``, then ``datetime`` and ``version``. The statistics come
from the row's raw step times through :class:`bench.results.model.StepStats`, so they are
exactly what pytest-benchmark computes from the same data. A schema-1 row, which kept no
raw times, is left out (:func:`skipped_rows`).
"""

from __future__ import annotations

from typing import Any

from bench.report.text import safe_text
from bench.results.identity import label_of, value_of, varying_of
from bench.results.model import Row, RunDocument

LAYOUT_VERSION = "5.3.1"
"""The pytest-benchmark version whose ``--benchmark-json`` layout this follows."""


def to_pytest_benchmark(document: RunDocument) -> dict[str, Any]:
    """The run in pytest-benchmark's JSON layout (see the module docstring)."""
    dataset = (document.dataset or {}).get("name") or document.config.get("dataset") or "?"
    batch_size = document.config.get("batch_size")
    axes = [key for key in varying_of(document.results) if key != "batch_size"]  # the batch is in the group
    benchmarks = [_benchmark(row, document, dataset, batch_size, axes) for row in document.results
                  if row.ok and row.stats is not None]
    return {
        "machine_info": _machine_info(document.machine),
        "commit_info": _commit_info(document.machine),
        "benchmarks": benchmarks,
        "datetime": document.created,
        "version": LAYOUT_VERSION,
    }


def skipped_rows(document: RunDocument) -> list[Row]:
    """Ok rows that have no raw step times (schema 1) and so are not exported."""
    return [row for row in document.results if row.ok and row.stats is None]


def skipped_lines(document: RunDocument) -> list[str]:
    """One line per :func:`skipped_rows` row, for people."""
    axes = varying_of(document.results)
    return [f"not exported: {safe_text(label_of(row, axes))}: a schema-1 row without per-step times"
            for row in skipped_rows(document)]


def _benchmark(row: Row, document: RunDocument, dataset: str, batch_size: Any, axes: list[str]) -> dict[str, Any]:
    """One ok row; a sweep's varying settings (``axes``) name it apart from its neighbours."""
    stats = row.stats
    assert stats is not None
    batch = row.settings.get("batch_size", batch_size)
    param = f"{row.plugin}-{row.device}" + ("" if row.placement == "feed" or "placement" in axes
                                            else f"-{row.placement}")
    param += "".join(f"-{key}{value_of(row.settings, row.params, key)}" for key in axes)
    extra = {
        key: getattr(row, key)
        for key in (
            "steps_per_second", "steps_completed", "first_step_seconds", "setup_seconds", "eval_seconds",
            "test_accuracy", "final_loss", "roofline_fraction", "plugin_version", "distribution",
            "peak_host_memory_bytes", "peak_own_memory_bytes", "peak_device_memory_bytes",
        )
        if getattr(row, key) is not None
    }
    extra.update(
        source="bench run",
        what="one training step, the batch gather from the schedule included; the first step left out",
        plugin=row.plugin,
        device=row.device,
        placement=row.placement,
        dataset=dataset,
        batch_size=batch,
        run_id=document.run_id,
        batch_schedule_sha256=row.schedule_sha256 or document.batch_schedule_sha256,
        frameworks=row.environment or document.machine.get("frameworks") or {},  # the row's own; older files: the run's
    )
    if row.params:
        extra["params"] = row.params
    if row.node:
        from bench.report.table import node_label

        extra["node"] = node_label(row.node)
        extra["node_machine"] = {key: (row.node.get("machine") or {}).get(key)
                                 for key in ("hostname", "cpu", "cpu_count_logical")}
    if row.settings:
        extra["settings"] = row.settings
    data = stats.as_pytest_benchmark()
    data["data"] = list(stats.data)
    return {
        "group": f"bench_train_step_{dataset}_batch{batch}",
        "name": f"train_step[{param}]",
        "fullname": f"bench::train_step[{param}]",
        "params": {"plugin": row.plugin, "device": row.device, "placement": row.placement},
        "param": param,
        "extra_info": extra,
        "options": {
            "disable_gc": False,
            "timer": "perf_counter",
            "min_rounds": stats.rounds,
            "max_time": 0,
            "min_time": 0,
            "precision": None,
            "confidence": None,
            "warmup": False,
        },
        "stats": data,
    }


def _machine_info(machine: dict[str, Any]) -> dict[str, Any]:
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


def _commit_info(machine: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": machine.get("git_commit"),
        "time": None,
        "author_time": None,
        "dirty": machine.get("git_dirty"),
        "project": "bench",
        "branch": machine.get("git_branch"),
    }
