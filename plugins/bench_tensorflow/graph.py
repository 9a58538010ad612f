"""``tf-graph``: the softmax classifier in TF1 style (placeholders, Session), as in the
reference script.

The model lives in its own ``tf.Graph`` and runs in a ``tf.compat.v1.Session``, so it
coexists with eager code in one process; eager execution is never disabled globally.
The graph is finalised before the first step, so nothing can be added to it per step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import SetupConfig
from bench_tensorflow._runtime import (
    PREDICT_CHUNK,
    claim_cpu_thread_pool,
    import_tensorflow,
    peak_device_memory,
    session_config,
    tf_device_name,
)

tf = import_tensorflow()

NAME = "tf-graph"


class TFGraphSoftmax:
    """Linear softmax classifier; GradientDescentOptimizer in a v1 Session."""

    def __init__(self) -> None:
        self._session: Any = None
        self._graph: Any = None
        self._train: Any = None
        self._predict: Any = None
        self._params: Any = None

    def setup(self, config: SetupConfig) -> None:
        self.close()
        device = tf_device_name(tf, config.device)
        self._memory_device = device
        graph = tf.Graph()
        with graph.as_default(), tf.device(device):
            tf.compat.v1.set_random_seed(config.seed)
            images = tf.compat.v1.placeholder(tf.float32, [None, config.input_dim], name="images")
            labels = tf.compat.v1.placeholder(tf.int64, [None], name="labels")
            weights = tf.Variable(tf.zeros([config.input_dim, config.num_classes], tf.float32), name="weights")
            biases = tf.Variable(tf.zeros([config.num_classes], tf.float32), name="biases")
            loss, train_op, logits = _train_ops(images, labels, weights, biases, config.learning_rate)
            predictions = tf.argmax(logits, axis=1)
            init = tf.compat.v1.global_variables_initializer()

        claim_cpu_thread_pool(tf, config.threads, NAME)
        session = tf.compat.v1.Session(graph=graph, config=session_config(tf, config.threads))
        try:
            session.run(init)
            # make_callable: one Session::Run per call (loss and train op fetched together),
            # without session.run's per-call parsing of fetches and feeds.
            train = session.make_callable([loss, train_op], feed_list=[images, labels])

            def first_step(*batch: np.ndarray) -> Any:
                # Lock the graph once training starts (place_dataset may still add to it
                # before): an op created per step would be a bug.
                graph.finalize()
                self._train = train
                return train(*batch)

            self._train = first_step
            self._predict = session.make_callable(predictions, feed_list=[images])
            self._params = session.make_callable([weights, biases])
        except BaseException:
            session.close()
            raise
        self._session, self._graph = session, graph
        self._device, self._weights, self._biases = device, weights, biases
        self._learning_rate = config.learning_rate

    def place_dataset(self, images: np.ndarray, labels: np.ndarray) -> None:
        """``--placement resident``: the training set in graph variables on the device.

        Initialised once from placeholders (a constant that large would bloat the graph);
        each step then feeds only the batch's indices and gathers on the device.
        """
        with self._graph.as_default(), tf.device(self._device):
            images_in = tf.compat.v1.placeholder(tf.float32, images.shape)
            labels_in = tf.compat.v1.placeholder(tf.int64, labels.shape)
            all_images = tf.Variable(images_in, trainable=False, name="train_images")
            all_labels = tf.Variable(labels_in, trainable=False, name="train_labels")
            indices = tf.compat.v1.placeholder(tf.int64, [None], name="indices")
            loss, train_op, _ = _train_ops(
                tf.gather(all_images, indices), tf.gather(all_labels, indices),
                self._weights, self._biases, self._learning_rate,
            )
        self._session.run(
            [all_images.initializer, all_labels.initializer],
            feed_dict={images_in: images, labels_in: labels.astype(np.int64, copy=False)},
        )
        self._graph.finalize()
        self._train_indices = self._session.make_callable([loss, train_op], feed_list=[indices])

    def train_step_indices(self, indices: np.ndarray) -> float:
        loss, _ = self._train_indices(indices)
        return float(loss)

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        loss, _ = self._train(images, labels)
        return float(loss)

    def predict(self, images: np.ndarray) -> np.ndarray:
        chunks = [self._predict(images[i : i + PREDICT_CHUNK]) for i in range(0, len(images), PREDICT_CHUNK)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def parameters(self) -> dict[str, np.ndarray]:
        weights, biases = self._params()
        return {"weights": np.array(weights, copy=True), "biases": np.array(biases, copy=True)}

    def peak_device_memory_bytes(self) -> int | None:
        return peak_device_memory(tf, getattr(self, "_memory_device", None))

    def close(self) -> None:
        session, self._session = self._session, None
        self._graph = self._train = self._predict = self._params = None
        self._train_indices = self._weights = self._biases = None
        if session is not None:
            session.close()


def _train_ops(images: Any, labels: Any, weights: Any, biases: Any, learning_rate: float) -> tuple[Any, Any, Any]:
    """The reference model's loss, SGD update and logits on these inputs."""
    logits = tf.matmul(images, weights) + biases
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train_op = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss)
    return loss, train_op, logits
