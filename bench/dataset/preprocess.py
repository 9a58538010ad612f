"""Turn uint8 image rows (R plane, G plane, B plane) into the float32 inputs every plugin sees.

``"reference"`` (default) reproduces the reference script bit for bit: pixels on the 0-255
scale minus the float64 per-pixel mean of the training set, computed in float64 and then
cast to float32, i.e. ``(x.astype(np.float64) - mean64).astype(np.float32)``. It is done in
blocks of rows (the subtraction runs in float64 and is cast on the way out), so no float64
copy of the training set ever exists.

``"standardize"`` scales to [0, 1] and then subtracts the per-channel mean and divides by the
per-channel (population) standard deviation of the training set; a channel is one
1024-value plane.

Both statistics come from exact integer sums, and the work is split over a few threads
(numpy releases the GIL in these loops).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from bench.dataset import memory
from bench.errors import UsageError

PREPROCESSINGS = ("reference", "standardize")
CHANNELS = 3
_BLOCK_ROWS = 256
T = TypeVar("T")


@dataclass(frozen=True)
class Transform:
    """Statistics fitted on the training rows; :meth:`apply` maps uint8 rows to float32."""

    method: str
    mean: np.ndarray
    """``"reference"``: float64 per-pixel mean (0-255); ``"standardize"``: per-channel mean (0-1)."""
    std: np.ndarray | None = None
    """``"standardize"`` only: per-channel population std (0-1)."""

    def apply(self, x: np.ndarray, *, workers: int = 2) -> np.ndarray:
        _check_rows(x, "images")
        if self.method == "reference":
            return subtract_mean(x, self.mean, workers=workers)
        assert self.std is not None
        return standardize(x, self.mean, self.std, workers=workers)

    def stats(self) -> dict[str, object]:
        """A few numbers worth recording with a run."""
        if self.method == "reference":
            planes = self.mean.reshape(CHANNELS, -1).mean(axis=1)
            return {"train_channel_mean_0_255": [round(float(m), 4) for m in planes]}
        assert self.std is not None
        return {
            "train_channel_mean_0_1": [round(float(m), 6) for m in self.mean],
            "train_channel_std_0_1": [round(float(s), 6) for s in self.std],
        }


def fit(train: np.ndarray, method: str = "reference", *, workers: int = 2) -> Transform:
    """Compute the training-set statistics that ``method`` needs."""
    _check_rows(train, "train images")
    if method == "reference":
        return Transform(method, pixel_mean(train, workers=workers))
    if method == "standardize":
        mean, std = channel_mean_std(train, workers=workers)
        return Transform(method, mean, std)
    known = ", ".join(PREPROCESSINGS)
    raise UsageError(f"unknown preprocessing {method!r}; available: {known}")


def preprocess(
    train: np.ndarray, test: np.ndarray, method: str = "reference", *, workers: int = 2
) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """Return float32 ``(train, test)`` rows and the statistics used (see :func:`fit`)."""
    transform = fit(train, method, workers=workers)
    return transform.apply(train, workers=workers), transform.apply(test, workers=workers), transform.stats()


def pixel_mean(train: np.ndarray, *, workers: int = 2) -> np.ndarray:
    """The float64 mean of each feature over the training rows.

    Equal to ``np.mean(train.astype(float), axis=0)`` bit for bit: a float64 sum of
    integers this small is exact in any order, so the int64 sum divided by n is the same.
    """
    n = train.shape[0]
    if n == 0:
        raise ValueError("cannot compute the mean of an empty training set")
    parts = _map_row_ranges(n, workers, lambda lo, hi: np.add.reduce(train[lo:hi], axis=0, dtype=np.int64))
    return np.sum(parts, axis=0) / np.float64(n)


def subtract_mean(x: np.ndarray, mean64: np.ndarray, *, workers: int = 2) -> np.ndarray:
    """``(x.astype(np.float64) - mean64).astype(np.float32)``, block by block."""
    out = memory.empty(x.shape, np.float32)

    def run(lo: int, hi: int) -> None:
        for a in range(lo, hi, _BLOCK_ROWS):
            b = min(a + _BLOCK_ROWS, hi)
            # uint8 - float64 selects the float64 loop; the float32 output is a cast of it.
            np.subtract(x[a:b], mean64, out=out[a:b], casting="unsafe")

    _map_row_ranges(x.shape[0], workers, run)
    return out


def channel_mean_std(train: np.ndarray, *, workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population std of ``train / 255`` (float64), from exact sums."""
    n = train.shape[0]
    if n == 0:
        raise ValueError("cannot compute statistics of an empty training set")

    def sums(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(CHANNELS, dtype=np.int64)
        squares = np.zeros(CHANNELS, dtype=np.int64)
        for a in range(lo, hi, _BLOCK_ROWS):
            block = train[a : min(a + _BLOCK_ROWS, hi)].reshape(-1, CHANNELS, train.shape[1] // CHANNELS)
            total += block.sum(axis=(0, 2), dtype=np.int64)
            wide = block.astype(np.uint32)
            squares += np.einsum("ijk,ijk->j", wide, wide, dtype=np.int64)
        return total, squares

    parts = _map_row_ranges(n, workers, sums)
    count = n * (train.shape[1] // CHANNELS)
    mean = np.empty(CHANNELS)
    std = np.empty(CHANNELS)
    for c in range(CHANNELS):
        s = sum(int(p[0][c]) for p in parts)
        sq = sum(int(p[1][c]) for p in parts)
        mean[c] = s / count / 255.0
        # Exact integer variance numerator: count * sum(x^2) - sum(x)^2.
        std[c] = math.sqrt(count * sq - s * s) / count / 255.0
    if np.any(std == 0):
        raise ValueError("a channel of the training set is constant; cannot standardize")
    return mean, std


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray, *, workers: int = 2) -> np.ndarray:
    """``((x / 255) - mean[c]) / std[c]`` per channel plane, as float32."""
    out = memory.empty(x.shape, np.float32)
    scale = (1.0 / (255.0 * std)).astype(np.float32)[None, :, None]
    shift = (-mean / std).astype(np.float32)[None, :, None]
    plane = x.shape[1] // CHANNELS

    def run(lo: int, hi: int) -> None:
        for a in range(lo, hi, _BLOCK_ROWS):
            b = min(a + _BLOCK_ROWS, hi)
            dst = out[a:b].reshape(-1, CHANNELS, plane)
            np.multiply(x[a:b].reshape(-1, CHANNELS, plane), scale, out=dst)
            np.add(dst, shift, out=dst)

    _map_row_ranges(x.shape[0], workers, run)
    return out


def _check_rows(x: np.ndarray, name: str) -> None:
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] % CHANNELS:
        raise ValueError(f"{name} must be uint8 rows of 3 channel planes, got {x.dtype} {x.shape}")


def _map_row_ranges(n: int, workers: int, func: Callable[[int, int], T]) -> list[T]:
    """Call ``func(lo, hi)`` on ``workers`` contiguous row ranges covering ``0..n``, in threads."""
    workers = max(1, min(workers, n // _BLOCK_ROWS or 1))
    bounds = [n * i // workers for i in range(workers + 1)]
    if workers == 1:
        return [func(0, n)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preprocess") as pool:
        return list(pool.map(func, bounds[:-1], bounds[1:]))
