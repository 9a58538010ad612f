"""One row on a machine of its own (a Ray node): its own data, the same schedule, a local worker.

:class:`bench.execute.ray.RayExecutor` sends each row as a *request*, a plain dict: the
job (:meth:`bench.job.RowJob.to_dict`, with its schedule's recipe and sha256), the run's
dataset settings, and the sha256 of the run's preprocessed arrays. :func:`run_request` then, on the node:

1. reads CIFAR-10 through the verified path (:func:`bench.dataset.load_dataset`, with the
   node's own ``--data-dir``/``$BENCH_DATA_DIR``/cache default, downloading it when it is
   missing and the node is not offline), or generates the synthetic set, and writes its
   own prepared copy; a copy of unchanged, already verified files is reused, and a damaged
   one rebuilt, as the runner does (both through :func:`bench.dataset.provide.provide_data`);
2. checks that its arrays hash to the run's (:func:`content_digest`), so every node
   trains on exactly the parent's data, whatever format or bench version it read them with;
3. rebuilds the schedule and checks its sha256 against the parent's;
4. measures the row in a fresh worker process through
   :class:`~bench.execute.worker.WorkerExecutor`, exactly as a local row.

Nothing here imports Ray: the node's side can be tested, and reused, on its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.dataset import Dataset
from bench.dataset.provide import DataSettings, provide_data  # DataSettings: re-exported, it lived here
from bench.errors import BenchError, DataError
from bench.execute import RowData
from bench.job import RowJob
from bench.measure import Progress

_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
_CHUNK = 32 << 20
"""Bytes hashed per piece (pieces are hashed on all cores, then hashed together)."""


class NodeError(BenchError):
    """The node cannot run the row as the run describes it (data, schedule, plugin)."""


def content_digest(dataset: Dataset) -> str:
    """sha256 of the preprocessed arrays (dtype, shape and bytes of each) and the class names."""
    pieces: list[tuple[str, memoryview]] = []
    for name in _ARRAYS:
        array = np.ascontiguousarray(getattr(dataset, name))
        data = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")  # type: ignore[arg-type]  # numpy arrays are buffers
        pieces.append((f"{name}|{array.dtype.str}|{array.shape}", data))
    chunks = [data[i : i + _CHUNK] for _, data in pieces for i in range(0, len(data), _CHUNK)]
    with ThreadPoolExecutor() as pool:  # hashlib releases the GIL on large buffers
        hashed = list(pool.map(lambda chunk: hashlib.sha256(chunk).digest(), chunks))
    total = hashlib.sha256()
    total.update("|".join(dataset.class_names).encode())
    for header, _ in pieces:
        total.update(header.encode())
    for digest in hashed:
        total.update(digest)
    return total.hexdigest()


_DIGESTS: dict[str, str] = {}
"""Digests of prepared copies this process has checked (a copy never changes once written)."""


def prepared_copy(settings: DataSettings) -> tuple[Path, dict[str, Any]]:
    """This machine's prepared copy of the run's dataset, and how it was obtained.

    The runner's steps, in one place (:func:`bench.dataset.provide.provide_data`): reuse an
    intact copy made from the same unchanged CIFAR-10 files (verified when it was made), else
    load through :func:`bench.dataset.load_dataset` (verify, download if missing, preprocess)
    and write a copy, rebuilding a damaged one (``note`` in the facts says so).
    """
    try:
        provided = provide_data(settings)
    except DataError as exc:  # the node's own data: not this run's --data-dir
        where = "--ray-data-dir" if settings.data_dir else "the node's $BENCH_DATA_DIR, or --ray-data-dir"
        raise DataError(f"{str(exc).replace('--data-dir', '--ray-data-dir')} (on this node; set {where})"
                        ) from None
    assert provided.prepared is not None  # asked for (prepare=True)
    copy = provided.prepared
    if provided.reused:
        return copy, {"reused_prepared_copy": True, "seconds": provided.seconds, **_note(provided.note)}
    digest_start = time.perf_counter()
    _DIGESTS[str(copy)] = content_digest(provided.dataset)
    seconds = provided.seconds + time.perf_counter() - digest_start
    facts = {
        "reused_prepared_copy": False,
        "downloaded": bool(provided.dataset.details.get("downloaded")),
        "source": provided.dataset.source,
        "seconds": seconds,
        **_note(provided.note),
    }
    return copy, facts


def _note(note: str | None) -> dict[str, str]:
    return {"note": note} if note else {}


def check_copy(copy: Path, expected: str) -> Dataset:
    """Open the prepared copy and check that its arrays are the run's; return it."""
    from bench.dataset.prepared import open_prepared

    dataset = open_prepared(copy, populate=False)
    digest = _DIGESTS.get(str(copy))
    if digest is None:
        digest = _DIGESTS[str(copy)] = content_digest(dataset)
    if digest != expected:
        raise NodeError(
            f"this node's {dataset.name} ({dataset.source}) differs from the run's after preprocessing "
            f"(sha256 {digest[:12]} here, {expected[:12]} in the run): another bench version or other data?"
        )
    return dataset


def check_version(expected: Mapping[str, Any] | None) -> None:
    """Raise :class:`NodeError` unless this node's bench is the run's (version, and git
    commit when both know theirs)."""
    if not expected:
        return
    import bench
    from bench.machine import git_commit

    here = {"version": bench.__version__, "git_commit": git_commit()}
    differs = here["version"] != expected.get("version") or (
        here["git_commit"] and expected.get("git_commit") and here["git_commit"] != expected["git_commit"])
    if differs:
        def show(facts: Mapping[str, Any]) -> str:
            commit = facts.get("git_commit")
            return f"{facts.get('version')}" + (f" (commit {str(commit)[:12]})" if commit else "")

        raise NodeError(f"bench on this node is {show(here)}, the run's is {show(expected)}: install the same bench "
                        f"on every node (or submit the run with `ray job submit --working-dir .`)")


def node_ceilings(threads: int | None) -> dict[str, Any] | None:
    """This node's CPU ceilings with ``threads`` (measured once, then from the node's cache)."""
    from bench.roofline import cpu_ceilings

    try:
        return cpu_ceilings(threads).as_dict()
    except Exception:  # noqa: BLE001 - an optional figure must not fail the row
        return None


def node_device(device: str) -> str:
    """The device name on the node: a GPU row sees only the one GPU it was given, as ``gpu:0``."""
    return "gpu:0" if device.startswith("gpu") else device


def run_request(
    request: Mapping[str, Any], progress: Progress | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Measure one requested row here; return its measurement, parameter snapshots and facts.

    Raises :class:`NodeError` (or another :class:`BenchError`) when the node cannot run it
    as the run describes it; a plugin's failure is a row, as locally.
    """
    from bench.execute.worker import WorkerExecutor
    from bench.plugins import installed_registry

    started = time.perf_counter()
    check_version(request.get("bench"))
    settings = DataSettings(**request["data"])
    copy, data_facts = prepared_copy(settings)
    dataset = check_copy(copy, request["data_sha256"])
    job = RowJob.from_dict(request["job"])
    try:
        job.schedule.rebuild(len(dataset.train_labels))
    except RuntimeError:
        raise NodeError("the batch schedule rebuilt on this node differs from the run's (sha256 mismatch)") from None
    data_facts["seconds_check"] = time.perf_counter() - started - data_facts["seconds"]
    try:
        installed_registry().get(job.classifier)
    except BenchError as exc:
        raise NodeError(f"not installed on this node: {exc}") from None
    device = node_device(job.device)
    local_job = replace(job, device=device, setup=replace(job.setup, device=device))
    outcome = WorkerExecutor(env=env).run_row(local_job, RowData(dataset, copy, settings), progress)
    ceilings = node_ceilings(job.setup.threads) if request.get("roofline") and device == "cpu" else None
    return {
        "ceilings": ceilings,
        "row": outcome.measurement.to_dict(),
        "params_at_parity": outcome.parameters.at_parity,
        "params_final": outcome.parameters.final,
        "environment": outcome.environment,
        "interrupted": outcome.interrupted,
        "data": {
            **data_facts,
            "prepared_copy": str(copy),
            "dataset_sha256": request["data_sha256"],
            "batch_schedule_sha256": job.schedule.sha256,
            "device_on_node": device,
        },
    }
