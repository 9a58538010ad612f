"""``tf-mlp-graph`` and ``tf-mlp-eager``: the two-layer network of the reference article's
follow-up (Wolfgang Beyer, ``two_layer_fc.py`` / ``run_fc_model.py``).

Model: ``3072 -> hidden (ReLU) -> 10``. Weights start from a truncated normal (values
beyond two standard deviations redrawn) with ``stddev = 1 / sqrt(fan_in)``, biases from
zero. Loss, as in the original::

    loss = mean(sparse_softmax_cross_entropy(logits, labels))
           + l2 * l2_loss(hidden_weights) + l2 * l2_loss(output_weights)

where ``tf.nn.l2_loss(w) = sum(w ** 2) / 2``. This is exactly what the original computed:
each weight matrix carries ``l2_regularizer(reg_constant)`` (which returns
``reg_constant * tf.nn.l2_loss(w)``) and the loss adds ``tf.add_n`` of the collected
regularisation losses; biases are not regularised. The returned training loss is this
total (the original's ``loss`` op), not the cross-entropy alone. Plain gradient descent.

The original's defaults (2000 steps, batch 400, learning rate 0.001, 120 hidden units,
reg_constant 0.1, inputs 0-255 minus the per-pixel mean) are registered as the
classifier's defaults; ``--param hidden=N`` and ``--param l2=X`` change the model.

The initial weights are drawn once, in numpy (:func:`initial_weights`, from
``np.random.default_rng(seed)``), and loaded into either variant, so both start from the
same point for a given seed and can be compared step by step. (The original drew them
with TensorFlow's unseeded initialiser; the distribution is the same.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import SetupConfig, UsageError
from bench_tensorflow._runtime import (
    PREDICT_CHUNK,
    apply_eager_threads,
    claim_cpu_thread_pool,
    import_tensorflow,
    peak_device_memory,
    session_config,
    tf_device_name,
)

tf = import_tensorflow()

PARAM_DEFAULTS: dict[str, str] = {"hidden": "120", "l2": "0.1"}
PARAMETER_NAMES = ("hidden_weights", "hidden_biases", "output_weights", "output_biases")
TRUNCATE_AT = 2.0
"""Truncation bound in standard deviations, as ``tf.truncated_normal``."""


@dataclass(frozen=True)
class MLPSettings:
    """The model's own hyperparameters, from ``--param``."""

    hidden: int = 120
    l2: float = 0.1


def parse_params(params: Mapping[str, str], name: str) -> MLPSettings:
    """Read ``hidden`` and ``l2`` from ``params``; anything else is a UsageError."""
    unknown = sorted(set(params) - set(PARAM_DEFAULTS))
    if unknown:
        raise UsageError(
            f"{name}: unknown --param {', '.join(unknown)}; valid: {', '.join(sorted(PARAM_DEFAULTS))}"
        )
    values = {**PARAM_DEFAULTS, **params}
    try:
        hidden = int(values["hidden"])
    except ValueError:
        hidden = 0
    if hidden < 1:
        raise UsageError(f"{name}: --param hidden must be a positive integer, not {values['hidden']!r}")
    try:
        l2 = float(values["l2"])
    except ValueError:
        l2 = -1.0
    if not (math.isfinite(l2) and l2 >= 0):
        raise UsageError(f"{name}: --param l2 must be a non-negative number, not {values['l2']!r}")
    return MLPSettings(hidden=hidden, l2=l2)


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], stddev: float) -> np.ndarray:
    """Normal(0, stddev) samples, those beyond ``TRUNCATE_AT`` stddevs redrawn; float32."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > TRUNCATE_AT
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > TRUNCATE_AT
    return (values * stddev).astype(np.float32)


def initial_weights(seed: int, input_dim: int, hidden: int, num_classes: int) -> dict[str, np.ndarray]:
    """The starting parameters for ``seed``, the same for both variants (see module docstring)."""
    rng = np.random.default_rng(seed)
    return {
        "hidden_weights": truncated_normal(rng, (input_dim, hidden), 1.0 / math.sqrt(input_dim)),
        "hidden_biases": np.zeros(hidden, dtype=np.float32),
        "output_weights": truncated_normal(rng, (hidden, num_classes), 1.0 / math.sqrt(hidden)),
        "output_biases": np.zeros(num_classes, dtype=np.float32),
    }


def _logits(images: Any, p: Mapping[str, Any]) -> Any:
    hidden = tf.nn.relu(tf.matmul(images, p["hidden_weights"]) + p["hidden_biases"])
    return tf.matmul(hidden, p["output_weights"]) + p["output_biases"]


def _loss(logits: Any, labels: Any, p: Mapping[str, Any], l2: float) -> Any:
    """Mean cross-entropy plus ``l2 * l2_loss(w)`` for each weight matrix (module docstring)."""
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    if l2 > 0:
        loss = loss + tf.add_n([l2 * tf.nn.l2_loss(p[name]) for name in ("hidden_weights", "output_weights")])
    return loss


def _predict_chunks(predict: Any, images: np.ndarray) -> np.ndarray:
    chunks = [np.asarray(predict(images[i : i + PREDICT_CHUNK])) for i in range(0, len(images), PREDICT_CHUNK)]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


class TFGraphMLP:
    """The two-layer network in TF1 style: placeholders, GradientDescentOptimizer, Session.

    Like ``tf-graph``: its own ``tf.Graph`` (finalised after it is built) in a
    ``tf.compat.v1.Session``; one ``Session::Run`` per step fetches the loss and applies
    the update.
    """

    name = "tf-mlp-graph"

    def __init__(self) -> None:
        self._session: Any = None
        self._train: Any = None
        self._predict: Any = None
        self._params: Any = None

    def setup(self, config: SetupConfig) -> None:
        self.close()
        settings = parse_params(config.params, self.name)
        device = tf_device_name(tf, config.device)
        self._memory_device = device
        start = initial_weights(config.seed, config.input_dim, settings.hidden, config.num_classes)
        graph = tf.Graph()
        with graph.as_default(), tf.device(device):
            tf.compat.v1.set_random_seed(config.seed)
            images = tf.compat.v1.placeholder(tf.float32, [None, config.input_dim], name="images")
            labels = tf.compat.v1.placeholder(tf.int64, [None], name="labels")
            variables = {key: tf.Variable(value, name=key) for key, value in start.items()}
            logits = _logits(images, variables)
            loss = _loss(logits, labels, variables, settings.l2)
            train_op = tf.compat.v1.train.GradientDescentOptimizer(config.learning_rate).minimize(loss)
            predictions = tf.argmax(logits, axis=1)
            init = tf.compat.v1.global_variables_initializer()
        graph.finalize()

        claim_cpu_thread_pool(tf, config.threads, self.name)
        session = tf.compat.v1.Session(graph=graph, config=session_config(tf, config.threads))
        try:
            session.run(init)
            self._train = session.make_callable([loss, train_op], feed_list=[images, labels])
            self._predict = session.make_callable(predictions, feed_list=[images])
            self._params = session.make_callable([variables[key] for key in PARAMETER_NAMES])
        except BaseException:
            session.close()
            raise
        self._session = session

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        loss, _ = self._train(images, labels)
        return float(loss)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return _predict_chunks(self._predict, images)

    def parameters(self) -> dict[str, np.ndarray]:
        return {key: np.array(value, copy=True) for key, value in zip(PARAMETER_NAMES, self._params(), strict=True)}

    def peak_device_memory_bytes(self) -> int | None:
        return peak_device_memory(tf, getattr(self, "_memory_device", None))

    def close(self) -> None:
        session, self._session = self._session, None
        self._train = self._predict = self._params = None
        if session is not None:
            session.close()


class TFEagerMLP:
    """The two-layer network in TF2 eager style: tf.Variables, GradientTape, assign_sub."""

    name = "tf-mlp-eager"

    def __init__(self) -> None:
        self._device: Any = None
        self._variables: dict[str, Any] | None = None
        self._learning_rate: Any = None
        self._l2 = 0.0

    def setup(self, config: SetupConfig) -> None:
        self.close()
        settings = parse_params(config.params, self.name)
        device = tf_device_name(tf, config.device)
        self._memory_device = device
        apply_eager_threads(tf, config.threads, self.name)  # before the runtime starts
        tf.random.set_seed(config.seed)
        start = initial_weights(config.seed, config.input_dim, settings.hidden, config.num_classes)
        with tf.device(device):
            self._variables = {key: tf.Variable(value, name=key) for key, value in start.items()}
            self._learning_rate = tf.constant(config.learning_rate, tf.float32)
        self._device, self._l2 = device, settings.l2

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        assert self._variables is not None
        p = self._variables
        trainable = [p[key] for key in PARAMETER_NAMES]
        with tf.device(self._device):
            x, y = tf.convert_to_tensor(images), tf.convert_to_tensor(labels)
            with tf.GradientTape() as tape:
                loss = _loss(_logits(x, p), y, p, self._l2)
            for variable, grad in zip(trainable, tape.gradient(loss, trainable), strict=True):
                variable.assign_sub(self._learning_rate * grad)
        return float(loss)  # fetched: the step has finished on the device

    def predict(self, images: np.ndarray) -> np.ndarray:
        assert self._variables is not None
        p = self._variables

        def predict(chunk: np.ndarray) -> np.ndarray:
            return tf.argmax(_logits(tf.convert_to_tensor(chunk), p), axis=1).numpy()

        with tf.device(self._device):
            return _predict_chunks(predict, images)

    def parameters(self) -> dict[str, np.ndarray]:
        assert self._variables is not None
        return {key: np.array(self._variables[key].numpy(), copy=True) for key in PARAMETER_NAMES}

    def peak_device_memory_bytes(self) -> int | None:
        return peak_device_memory(tf, getattr(self, "_memory_device", None))

    def close(self) -> None:
        self._variables = self._learning_rate = self._device = None
