"""The batch schedule: which training images every step uses, fixed once per run.

Every plugin and device in a run trains on the same schedule, so the only difference
between their rows is the implementation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from bench.errors import UsageError

SAMPLINGS = ("replacement", "epoch")


@dataclass(frozen=True)
class BatchSchedule:
    """``indices[step]`` holds the training-set indices of that step's batch."""

    indices: np.ndarray
    seed: int
    sampling: str

    @property
    def steps(self) -> int:
        return int(self.indices.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.indices.shape[1])

    def sha256(self) -> str:
        """Digest of the indices as little-endian int64, so equal schedules hash equal."""
        canonical = np.ascontiguousarray(self.indices, dtype="<i8")
        return hashlib.sha256(canonical.tobytes()).hexdigest()


def check_schedule(num_examples: int, steps: int, batch_size: int, sampling: str = "replacement") -> None:
    """A UsageError if no schedule of these settings can be drawn (without drawing one)."""
    if steps < 1 or batch_size < 1:
        raise UsageError("steps and batch size must be at least 1")
    if batch_size > num_examples:
        raise UsageError(f"batch size {batch_size} is larger than the training set ({num_examples} images)")
    if sampling not in SAMPLINGS:
        raise UsageError(f"unknown sampling {sampling!r}; choose one of: {', '.join(SAMPLINGS)}")


def build_schedule(
    num_examples: int, steps: int, batch_size: int, seed: int, sampling: str = "replacement"
) -> BatchSchedule:
    """Draw the schedule for a run.

    ``replacement`` draws every batch uniformly with replacement, exactly as the reference
    script's ``np.random.choice(n, batch_size)`` does after ``np.random.seed(seed)``: the
    same legacy generator and the same stream, so seed ``s`` reproduces its batches.
    ``epoch`` shuffles the training set once per epoch and cuts batches in order.
    """
    check_schedule(num_examples, steps, batch_size, sampling)
    rng = np.random.RandomState(seed)
    if sampling == "replacement":
        indices = rng.randint(0, num_examples, size=(steps, batch_size))
    elif sampling == "epoch":
        needed = steps * batch_size
        epochs = -(-needed // num_examples)
        stream = np.concatenate([rng.permutation(num_examples) for _ in range(epochs)])
        indices = stream[:needed].reshape(steps, batch_size)
    else:
        raise UsageError(f"unknown sampling {sampling!r}; choose one of: {', '.join(SAMPLINGS)}")
    return BatchSchedule(indices=indices.astype(np.int64, copy=False), seed=seed, sampling=sampling)
