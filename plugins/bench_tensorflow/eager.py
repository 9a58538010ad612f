"""``tf-eager``, ``tf-function`` and ``tf-xla``: the softmax classifier in TF2 style.

All three hold the parameters in ``tf.Variable``s, differentiate with ``tf.GradientTape``
and update with ``assign_sub``. ``tf-eager`` runs every op eagerly; ``tf-function``
compiles the step with ``tf.function`` and a fixed input signature (batch dimension
``None``), so it is traced once; ``tf-xla`` adds ``jit_compile=True`` (XLA still compiles
once per distinct batch shape, which is not a retrace). ``tracing_counts()`` reports how
often the compiled functions were traced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import DeviceUnavailable, SetupConfig, StepWork
from bench_tensorflow._runtime import (
    PREDICT_CHUNK,
    apply_eager_threads,
    import_tensorflow,
    peak_device_memory,
    tf_device_name,
)

tf = import_tensorflow()


class TFEagerSoftmax:
    """Linear softmax classifier, every op executed eagerly (no tf.function)."""

    name = "tf-eager"
    jit_compile: bool | None = None
    """``None``: plain eager; ``False``: tf.function; ``True``: tf.function + XLA."""

    def __init__(self) -> None:
        self._device: Any = None
        self._weights: Any = None
        self._biases: Any = None
        self._train_fn: Any = None
        self._predict_fn: Any = None

    # -- protocol ---------------------------------------------------------------------

    def setup(self, config: SetupConfig) -> None:
        self.close()
        device = tf_device_name(tf, config.device)
        self._memory_device = device
        apply_eager_threads(tf, config.threads, self.name)  # before the runtime starts
        tf.random.set_seed(config.seed)
        with tf.device(device):
            self._weights = tf.Variable(
                tf.zeros([config.input_dim, config.num_classes], tf.float32), name="weights"
            )
            self._biases = tf.Variable(tf.zeros([config.num_classes], tf.float32), name="biases")
            learning_rate = tf.constant(config.learning_rate, tf.float32)
        train, predict = _make_step_functions(self._weights, self._biases, learning_rate)
        if self.jit_compile is not None:
            images_spec = tf.TensorSpec([None, config.input_dim], tf.float32, name="images")
            labels_spec = tf.TensorSpec([None], tf.int64, name="labels")
            train = _compile(train, device, [images_spec, labels_spec], self.jit_compile)
            predict = _compile(predict, device, [images_spec], self.jit_compile)
        self._device = device
        self._train_fn, self._predict_fn = train, predict
        self._input_dim, self._batch_size = config.input_dim, config.batch_size
        self._make_train = lambda: _make_step_functions(self._weights, self._biases, learning_rate)[0]

    def place_dataset(self, images: np.ndarray, labels: np.ndarray) -> None:
        """``--placement resident``: the training set as tensors on the device; each step
        gathers its rows there (inside the compiled function for tf-function/tf-xla)."""
        with tf.device(self._device):
            data = tf.identity(tf.convert_to_tensor(images))  # identity: a device copy
            targets = tf.identity(tf.convert_to_tensor(labels.astype(np.int64, copy=False)))
        train = self._make_train()

        def train_on_indices(indices: Any) -> Any:
            return train(tf.gather(data, indices), tf.gather(targets, indices))

        def train_loop(all_indices: Any) -> Any:
            # One update per row, in order, inside one compiled call.
            count = tf.shape(all_indices)[0]
            losses = tf.TensorArray(tf.float32, size=count)
            for i in tf.range(count):
                losses = losses.write(i, train_on_indices(all_indices[i]))
            return losses.stack()

        self._train_loop_fn = None
        if self.jit_compile is not None:
            spec = [tf.TensorSpec([None], tf.int64, name="indices")]
            loop_spec = [tf.TensorSpec([None, None], tf.int64, name="indices")]
            self._train_loop_fn = _compile(train_loop, self._device, loop_spec, self.jit_compile)
            train_on_indices = _compile(train_on_indices, self._device, spec, self.jit_compile)
        self._data = (data, targets)
        self._train_indices_fn = train_on_indices

    def train_steps_indices(self, indices: np.ndarray) -> np.ndarray:
        """``--steps-per-call``: many steps in one tf.function call (a ``tf.range`` loop)."""
        if self._train_loop_fn is None:
            raise DeviceUnavailable(f"{self.name} runs every op eagerly; --steps-per-call needs a compiled loop")
        with tf.device(self._device):
            losses = self._train_loop_fn(tf.convert_to_tensor(indices))
        return losses.numpy()

    def train_step_indices(self, indices: np.ndarray) -> float:
        with tf.device(self._device):
            loss = self._train_indices_fn(tf.convert_to_tensor(indices))
        return float(loss)

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        # Converted inside the device scope: on a GPU the batch is copied there as part of
        # the step; the float() fetches the loss, so the device has finished on return.
        with tf.device(self._device):
            loss = self._train_fn(tf.convert_to_tensor(images), tf.convert_to_tensor(labels))
        return float(loss)

    def predict(self, images: np.ndarray) -> np.ndarray:
        chunks = []
        with tf.device(self._device):
            for start in range(0, len(images), PREDICT_CHUNK):
                chunk = tf.convert_to_tensor(images[start : start + PREDICT_CHUNK])
                chunks.append(self._predict_fn(chunk).numpy())
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def parameters(self) -> dict[str, np.ndarray]:
        return {
            "weights": np.array(self._weights.numpy(), copy=True),
            "biases": np.array(self._biases.numpy(), copy=True),
        }

    def peak_device_memory_bytes(self) -> int | None:
        return peak_device_memory(tf, getattr(self, "_memory_device", None))

    def close(self) -> None:
        self._train_fn = self._predict_fn = self._train_indices_fn = self._train_loop_fn = self._data = None
        self._weights = self._biases = self._device = None

    # -- introspection ----------------------------------------------------------------

    def tracing_counts(self) -> dict[str, int]:
        """How often the train and predict functions were traced (0 when not compiled)."""
        return {
            "train_step": _tracing_count(self._train_fn),
            "predict": _tracing_count(self._predict_fn),
        }


class TFFunctionSoftmax(TFEagerSoftmax):
    """The eager step compiled once with tf.function (fixed input signature)."""

    name = "tf-function"
    jit_compile = False


class TFXlaSoftmax(TFEagerSoftmax):
    """The tf.function step compiled by XLA (jit_compile=True)."""

    name = "tf-xla"
    jit_compile = True

    def compiled_step_work(self) -> StepWork | None:
        """One step as XLA compiled it, counted from its optimised HLO with
        :mod:`bench_tensorflow.hlo_cost` (TensorFlow does not expose XLA's own cost analysis).

        The resident step (its gather included) when the dataset was placed, else the fed
        step, at the configured batch size; ``None`` when the HLO holds work the counter
        cannot read (a GPU's cuBLAS product is a ``custom-call``).
        """
        from bench_tensorflow.hlo_cost import HloCostError, count

        resident = getattr(self, "_train_indices_fn", None)
        if self._train_fn is None:
            return None
        with tf.device(self._device):
            if resident is not None:
                function, args = resident, (tf.zeros([self._batch_size], tf.int64),)
            else:
                images = tf.zeros([self._batch_size, self._input_dim], tf.float32)
                function, args = self._train_fn, (images, tf.zeros([self._batch_size], tf.int64))
            hlo = function.experimental_get_compiler_ir(*args)(stage="optimized_hlo")
        try:
            cost = count(hlo)
        except HloCostError:
            return None
        return StepWork(flops=cost.flops, bytes=cost.bytes)


def _make_step_functions(weights: Any, biases: Any, learning_rate: Any) -> tuple[Any, Any]:
    """The train and predict steps, closed over the variables (no ``self`` captured)."""

    def train(images: Any, labels: Any) -> Any:
        with tf.GradientTape() as tape:
            logits = tf.matmul(images, weights) + biases
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        grad_weights, grad_biases = tape.gradient(loss, [weights, biases])
        weights.assign_sub(learning_rate * grad_weights)
        biases.assign_sub(learning_rate * grad_biases)
        return loss

    def predict(images: Any) -> Any:
        return tf.argmax(tf.matmul(images, weights) + biases, axis=1)

    return train, predict


def _compile(fn: Any, device: str, signature: list[Any], jit_compile: bool) -> Any:
    """``fn`` as a tf.function with a fixed signature, every traced op pinned to ``device``."""

    def pinned(*args: Any) -> Any:
        with tf.device(device):
            return fn(*args)

    pinned.__name__ = fn.__name__
    return tf.function(pinned, input_signature=signature, jit_compile=jit_compile)


def _tracing_count(fn: Any) -> int:
    get = getattr(fn, "experimental_get_tracing_count", None)
    return int(get()) if get is not None else 0
