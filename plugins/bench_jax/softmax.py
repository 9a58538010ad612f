"""``jax-jit`` and ``jax-eager``: the reference softmax classifier in JAX.

Both compute the same step: ``logits = x @ W + b``, the mean sparse softmax cross-entropy
(``logsumexp(logits) - logits[label]``, as optax writes it), its gradient by
``jax.value_and_grad``, and plain gradient descent ``p - learning_rate * grad``, from zero
parameters. ``jax-jit`` runs the step under ``jax.jit`` with the parameters donated (XLA
updates them in place) and, with ``--steps-per-call K``, K steps in one ``lax.scan``;
``jax-eager`` calls the same Python function without ``jit``, so every ``jax.numpy``
operation is dispatched on its own (JAX's counterpart of eager mode).

**Weight layout.** The weights are held as ``(classes, features)`` = ``(10, 3072)``
(``--param layout=cd``, the default) and handed to the harness as the usual ``(3072, 10)``.
With the reference's ``(3072, 10)`` (``--param layout=dc``) XLA's CPU backend computes the
weight gradient ``x.T @ dlogits`` as an Eigen contraction whose operand packing
(``gemm_pack_colmajor_block``, half of all CPU samples in a profile) costs about 3.5 times
the product itself; in the ``(10, 3072)`` layout the same sums come out as
``dlogits.T @ x``, which Eigen packs cheaply. Writing ``(dlogits.T @ x).T`` in the
``(3072, 10)`` layout does not help: XLA's algebraic simplifier folds the transpose back
into the slow dot. Figures: README, section "JAX and PyTorch".
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from bench import SetupConfig, StepWork
from bench.linear_softmax import PREDICT_CHUNK, check_layout, linear_logits, weight_shape
from bench_jax._runtime import apply_cpu_threads, import_jax, jax_device, peak_bytes

jax = import_jax()
jnp = jax.numpy


def logits(params: tuple[Any, Any], images: Any, layout: str) -> Any:
    weights, biases = params
    return linear_logits(weights, biases, images, layout)


def mean_loss(params: tuple[Any, Any], images: Any, labels: Any, layout: str) -> Any:
    """Mean sparse softmax cross-entropy of the batch."""
    out = logits(params, images, layout)
    label_logits = jnp.take_along_axis(out, labels[:, None], axis=1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(out, axis=1) - label_logits)


def make_step(layout: str, learning_rate: float) -> Any:
    """``step(params, images, labels) -> (new params, loss)``: one SGD update."""
    loss_and_grad = jax.value_and_grad(partial(mean_loss, layout=layout))

    def step(params: tuple[Any, Any], images: Any, labels: Any) -> tuple[tuple[Any, Any], Any]:
        loss, grads = loss_and_grad(params, images, labels)
        return tuple(p - learning_rate * g for p, g in zip(params, grads, strict=True)), loss

    return step


class _JaxSoftmax:
    """What jax-jit and jax-eager share; ``jit`` chooses between them."""

    name = ""
    jit = True

    def __init__(self) -> None:
        self._params: Any = None
        self._device: Any = None
        self._data: Any = None

    # -- protocol ---------------------------------------------------------------------

    def setup(self, config: SetupConfig) -> None:
        self.close()
        layout = check_layout(config.params, self.name)
        apply_cpu_threads(jax, config.threads, self.name)  # before JAX creates its CPU client
        device = jax_device(jax, config.device)
        shape = weight_shape(config, layout)
        self._params = (
            jax.device_put(np.zeros(shape, np.float32), device),
            jax.device_put(np.zeros(config.num_classes, np.float32), device),
        )
        self._device, self._layout, self._config = device, layout, config
        step = make_step(layout, config.learning_rate)

        def step_on_indices(params: Any, images: Any, labels: Any, indices: Any) -> Any:
            return step(params, images[indices], labels[indices])

        def predict(params: Any, images: Any) -> Any:
            return jnp.argmax(logits(params, images, layout), axis=1)

        if self.jit:
            self._step = jax.jit(step, donate_argnums=0)
            self._step_indices = jax.jit(step_on_indices, donate_argnums=0)
            self._predict = jax.jit(predict)
        else:
            self._step, self._step_indices, self._predict = step, step_on_indices, predict
        self._raw_step, self._raw_step_indices = step, step_on_indices
        self._ran: str | None = None

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        # The batch goes to the device inside the step. On the CPU, XLA aliases a numpy
        # array only when its data is 64-byte aligned; the runner's batch buffer is not, so
        # this is a copy (README, "JAX and PyTorch").
        x = jax.device_put(images, self._device)
        y = jax.device_put(labels.astype(np.int32), self._device)
        self._params, loss = self._step(self._params, x, y)
        return self._finish(loss, "feed")

    def place_dataset(self, images: np.ndarray, labels: np.ndarray) -> None:
        """``--placement resident``: the training set as arrays on the device."""
        self._data = (
            jax.device_put(images, self._device),
            jax.device_put(labels.astype(np.int32), self._device),
        )
        jax.block_until_ready(self._data)

    def train_step_indices(self, indices: np.ndarray) -> float:
        rows = jax.device_put(indices.astype(np.int32), self._device)
        self._params, loss = self._step_indices(self._params, *self._data, rows)
        return self._finish(loss, "resident")

    def predict(self, images: np.ndarray) -> np.ndarray:
        chunks = []
        for start in range(0, len(images), PREDICT_CHUNK):
            chunk = jax.device_put(images[start : start + PREDICT_CHUNK], self._device)
            chunks.append(np.asarray(self._predict(self._params, chunk)).astype(np.int64))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def parameters(self) -> dict[str, np.ndarray]:
        weights, biases = (np.array(p, dtype=np.float32, copy=True) for p in self._params)
        if self._layout == "cd":
            weights = np.ascontiguousarray(weights.T)
        return {"weights": weights, "biases": biases}

    def close(self) -> None:
        self._params = self._data = None
        self._step = self._step_indices = self._predict = None
        self._raw_step = self._raw_step_indices = None

    # -- optional ---------------------------------------------------------------------

    def peak_device_memory_bytes(self) -> int | None:
        """Peak bytes JAX's allocator held on the row's GPU; None on the CPU (not tracked)."""
        return peak_bytes(self._device) if self._device is not None else None

    # -- helpers ----------------------------------------------------------------------

    def _finish(self, loss: Any, mode: str) -> float:
        # Wait for the parameters as well as the loss: op by op (jax-eager), the update is
        # still running when the loss is ready.
        jax.block_until_ready(self._params)
        self._ran = mode
        return float(loss)


class JaxJitSoftmax(_JaxSoftmax):
    """The step under ``jax.jit``, parameters donated; many steps per call in ``lax.scan``."""

    name = "jax-jit"
    jit = True

    def place_dataset(self, images: np.ndarray, labels: np.ndarray) -> None:
        super().place_dataset(images, labels)
        step = self._raw_step

        def steps(params: Any, images: Any, labels: Any, indices: Any) -> Any:
            def body(params: Any, rows: Any) -> Any:
                return step(params, images[rows], labels[rows])

            return jax.lax.scan(body, params, indices)

        self._steps = jax.jit(steps, donate_argnums=0)

    def train_steps_indices(self, indices: np.ndarray) -> np.ndarray:
        """``--steps-per-call``: one update per row of ``indices``, in one ``lax.scan``."""
        rows = jax.device_put(np.asarray(indices, dtype=np.int32), self._device)
        self._params, losses = self._steps(self._params, *self._data, rows)
        jax.block_until_ready(self._params)
        self._ran = "calls"
        return np.asarray(losses, dtype=np.float64)

    def compiled_step_work(self) -> StepWork | None:
        """XLA's cost analysis of the step that ran (one step; with ``--placement
        resident`` the step that gathers its rows from the placed set)."""
        if self._ran is None or self._params is None:
            return None
        config, device = self._config, self._device
        sharding = jax.sharding.SingleDeviceSharding(device)

        def spec(shape: tuple[int, ...], dtype: Any) -> Any:
            return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)

        params = tuple(spec(p.shape, p.dtype) for p in self._params)
        if self._ran == "feed":
            batch = (spec((config.batch_size, config.input_dim), np.float32), spec((config.batch_size,), np.int32))
            compiled = self._step.lower(params, *batch).compile()
        else:
            data = tuple(spec(a.shape, a.dtype) for a in self._data)
            compiled = self._step_indices.lower(params, *data, spec((config.batch_size,), np.int32)).compile()
        analysis = compiled.cost_analysis()
        if isinstance(analysis, (list, tuple)):  # older JAX: one dict per computation
            analysis = analysis[0] if analysis else None
        if not analysis or "flops" not in analysis:
            return None
        return StepWork(flops=float(analysis["flops"]), bytes=float(analysis.get("bytes accessed", 0.0)))

    def close(self) -> None:
        super().close()
        self._steps = None


class JaxEagerSoftmax(_JaxSoftmax):
    """The same step without ``jit``: every operation dispatched on its own.

    No ``train_steps_indices``: a loop of many steps in one call would need ``lax.scan``,
    which compiles its body, i.e. jax-jit."""

    name = "jax-eager"
    jit = False
