"""A linear softmax classifier in vectorised numpy: the reference implementation.

Model: ``logits = x @ W + b``; loss: mean sparse softmax cross-entropy; update: plain
gradient descent ``p -= learning_rate * dloss/dp``, with zero-initialised parameters, as
in the reference TensorFlow script. Computes in float32 by default
(``--param dtype=float64`` for a float64 run). BLAS runs on ``--threads`` threads, one by
default (see :func:`_limit_blas_threads`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import DeviceUnavailable, SetupConfig, UsageError


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the mean cross-entropy and its gradient with respect to ``logits``.

    Numerically stable: the row maximum is subtracted before exponentiating, and the
    log-sum-exp is taken from the shifted logits.
    """
    batch = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    rows = np.arange(batch)
    losses = np.log(sums[:, 0]) - shifted[rows, labels]
    grad = exp / sums
    grad[rows, labels] -= 1
    grad *= logits.dtype.type(1.0 / batch)
    return float(losses.mean(dtype=np.float64)), grad


def _limit_blas_threads(threads: int) -> Any:
    """Cap BLAS at ``threads`` until ``restore_original_limits()`` (threadpoolctl).

    One thread by default: the products of a step (100x3072 by 3072x10) are too small for
    BLAS threads to pay, and on a busy machine OpenBLAS's spinning threads made a step up
    to 40 times slower (measured here: 1950 steps/s single-threaded, 42 with two threads
    while other processes held both cores).
    """
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().limit(limits=threads, user_api="blas")


class NumpySoftmax:
    """The reference classifier (see module docstring)."""

    def __init__(self) -> None:
        self.weights: np.ndarray | None = None
        self.biases: np.ndarray | None = None

    def setup(self, config: SetupConfig) -> None:
        if config.device != "cpu":
            raise DeviceUnavailable("numpy runs on the CPU only")
        dtype_name = config.params.get("dtype", "float32")
        if dtype_name not in ("float32", "float64"):
            raise UsageError(f"numpy: --param dtype must be float32 or float64, not {dtype_name!r}")
        self.dtype = np.dtype(dtype_name)
        self.learning_rate = self.dtype.type(config.learning_rate)
        self._blas_threads = _limit_blas_threads(config.threads or 1)
        # Overflow on the way to a diverging loss is reported by the runner as a
        # non-finite loss; numpy's own warnings would only clutter the terminal.
        self._numpy_errors = np.seterr(over="ignore", invalid="ignore", under="ignore")
        self.weights = np.zeros((config.input_dim, config.num_classes), dtype=self.dtype)
        self.biases = np.zeros(config.num_classes, dtype=self.dtype)

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        assert self.weights is not None and self.biases is not None
        if images.dtype != self.dtype:
            images = images.astype(self.dtype)
        logits = images @ self.weights
        logits += self.biases
        loss, dlogits = softmax_cross_entropy(logits, labels)
        grad_w = images.T @ dlogits
        grad_b = dlogits.sum(axis=0)
        grad_w *= self.learning_rate
        grad_b *= self.learning_rate
        self.weights -= grad_w
        self.biases -= grad_b
        return loss

    def place_dataset(self, images: np.ndarray, labels: np.ndarray) -> None:
        """``--placement resident``: the host is the device; keep references, no copy."""
        self.images, self.labels = images, labels
        self.batch = np.empty((0, images.shape[1]), dtype=images.dtype)

    def train_step_indices(self, indices: np.ndarray) -> float:
        if self.batch.shape[0] != len(indices):
            self.batch = np.empty((len(indices), self.images.shape[1]), dtype=self.images.dtype)
        np.take(self.images, indices, axis=0, out=self.batch)
        return self.train_step(self.batch, self.labels[indices])

    def train_steps_indices(self, indices: np.ndarray) -> np.ndarray:
        """``--steps-per-call``: the same steps in a Python loop (numpy has nothing to fuse)."""
        return np.array([self.train_step_indices(rows) for rows in indices])

    def predict(self, images: np.ndarray) -> np.ndarray:
        assert self.weights is not None and self.biases is not None
        return np.argmax(images.astype(self.dtype, copy=False) @ self.weights + self.biases, axis=1)

    def parameters(self) -> dict[str, np.ndarray]:
        assert self.weights is not None and self.biases is not None
        return {"weights": self.weights.copy(), "biases": self.biases.copy()}

    def close(self) -> None:
        limits, self._blas_threads = getattr(self, "_blas_threads", None), None
        if limits is not None:
            limits.restore_original_limits()
        errors, self._numpy_errors = getattr(self, "_numpy_errors", None), None
        if errors is not None:
            np.seterr(**errors)
        self.weights = self.biases = None
        self.images = self.labels = self.batch = None
