"""The unfused numpy bound: a step of the linear softmax model done as three numpy calls.

Not the machine's limit (that is :mod:`bench.roofline.ceilings` with
:mod:`bench.roofline.bound`), but a second, practical reference: the time of the three
pieces of work a step of the linear model cannot avoid, each done by its own numpy call on
the run's own data and schedule, one after the other: gathering the batch's rows from the
training set, the forward product (batch x D by D x C) and the weight-gradient product
(D x batch by batch x C), with numpy's BLAS at the best of its thread settings. What a
step of this model costs when its pieces are not fused and its batch is gathered from
float32 rows, without Python's per-op overhead for the rest of the step.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

import numpy as np

from bench.schedule import BatchSchedule


def _median_seconds(fn: Any, repeats: int) -> float:
    times = np.empty(repeats)
    clock = time.perf_counter
    for i in range(repeats):
        start = clock()
        fn(i)
        times[i] = clock() - start
    return float(np.median(times[repeats // 5 :]))  # the first fifth warms caches


def probe(
    images: np.ndarray, schedule: BatchSchedule, num_classes: int, repeats: int = 100
) -> dict[str, Any]:
    """Time the gather and the two matrix products of a step; return the limit in steps/s."""
    batch, dim = schedule.batch_size, images.shape[1]
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((dim, num_classes), dtype=np.float32)
    grad_logits = rng.standard_normal((batch, num_classes), dtype=np.float32)
    rows = np.empty((batch, dim), dtype=np.float32)
    logits = np.empty((batch, num_classes), dtype=np.float32)
    grad_weights = np.empty((dim, num_classes), dtype=np.float32)
    steps = schedule.indices
    repeats = max(10, repeats)

    def gather(i: int) -> None:
        np.take(images, steps[i % len(steps)], axis=0, out=rows)

    def forward(i: int) -> None:
        np.matmul(rows, weights, out=logits)

    def backward(i: int) -> None:
        np.matmul(rows.T, grad_logits, out=grad_weights)

    best: dict[str, Any] | None = None
    controller = _blas_controller()
    for threads in [None, 1] if controller is not None else [None]:
        with controller.limit(limits=threads, user_api="blas") if threads else nullcontext():
            parts = {name: _median_seconds(fn, repeats) for name, fn in
                     (("gather", gather), ("forward_matmul", forward), ("gradient_matmul", backward))}
        total = sum(parts.values())
        if best is None or total < best["step_seconds"]:
            best = {"blas_threads": threads, "step_seconds": total, **{f"{k}_seconds": v for k, v in parts.items()}}
    assert best is not None
    best["steps_per_second"] = 1.0 / best["step_seconds"]
    best["shape"] = {"batch": batch, "input_dim": dim, "num_classes": num_classes}
    return best


def _blas_controller() -> Any:
    """threadpoolctl's controller, to try one BLAS thread as well as the default."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()
