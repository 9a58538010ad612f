"""The Ray tasks themselves: what runs on a node for :class:`bench.execute.ray.RayExecutor`.

:func:`row_task` is a streaming generator. It reports ``started`` (with the node's facts)
as soon as Ray gave it its resources, then the row's progress, then ``done`` (the row,
its parameter snapshots, the node's machine facts) or ``error``. The row itself is
measured by :func:`bench.execute.ray.node.run_request`, in a thread, so that progress can be
sent while it runs.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import describe_exception

PROGRESS_SECONDS = 0.25
"""How often a task sends the row's progress."""


def node_facts() -> dict[str, Any]:
    import platform

    import ray

    context = ray.get_runtime_context()
    return {
        "hostname": platform.node(),
        "ray_node_id": context.get_node_id(),
        "ray_node_ip": ray.util.get_node_ip_address(),
        "ray_worker_pid": os.getpid(),
        "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "started_at": time.time(),
    }


def injected_by_ray(name: str) -> bool:
    """Whether ``name`` was set in this process after it started (Ray sets OMP_NUM_THREADS
    per task); the environment it started with is in /proc/self/environ."""
    try:
        initial = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return name in os.environ and not any(item.startswith(name.encode() + b"=") for item in initial)


def row_task(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Ray task of one row (a streaming generator; runs on the node)."""
    from bench.execute.ray.node import run_request
    from bench.machine import machine_info

    facts = node_facts()
    yield {"event": "started", "node": facts}
    # Ray sets OMP_NUM_THREADS to the task's CPUs; a local row runs with the machine's own
    # thread settings, so the row (and the machine facts) do not inherit Ray's.
    saved = os.environ.pop("OMP_NUM_THREADS") if injected_by_ray("OMP_NUM_THREADS") else None
    try:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            try:
                events.put(("done", run_request(request, progress=lambda n: events.put(("progress", n)))))
            except BaseException as exc:  # noqa: BLE001 - reported as the row's error
                events.put(("error", exc))

        threading.Thread(target=work, name="bench-row", daemon=True).start()
        steps, last = 0, time.monotonic()
        while True:
            try:
                kind, value = events.get(timeout=PROGRESS_SECONDS)
            except queue.Empty:
                kind, value = "", None
            if kind == "progress":
                steps += int(value)
            if steps and (kind in ("done", "error") or time.monotonic() - last >= PROGRESS_SECONDS):
                yield {"event": "progress", "steps": steps}
                steps, last = 0, time.monotonic()
            if kind == "done":
                yield {"event": "done", **value, "node": {**facts, "finished_at": time.time(), "machine": machine_info()}}
                return
            if kind == "error":
                yield {"event": "error", "message": describe_exception(value), "node": facts}
                return
    finally:
        if saved is not None:
            os.environ["OMP_NUM_THREADS"] = saved


def devices_task(name: str) -> list[str]:
    """The Ray task behind :meth:`RayExecutor.list_devices` (a worker process asks the plugin)."""
    from bench.execute.worker import WorkerExecutor
    from bench.plugins import installed_registry

    spec = installed_registry().get(name)
    return WorkerExecutor().list_devices(spec)
