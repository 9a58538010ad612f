"""Each TensorFlow classifier follows the Classifier protocol and trains."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from bench.errors import DeviceUnavailable, UsageError  # noqa: E402
from training_checks import (  # noqa: E402
    BATCH,
    NUM_CLASSES,
    checked_linear_parameters,
    checked_predictions,
    setup_config,
    trained_twenty_steps,
)

TF_NAMES = ("tf-graph", "tf-eager", "tf-function", "tf-xla")


@pytest.fixture(scope="module")
def data(synthetic):
    return synthetic(1000, seed=3)


@pytest.mark.parametrize("name", TF_NAMES)
def test_protocol_training_and_close(name, factories, data):
    images, labels = data
    clf = factories[name]()
    losses = trained_twenty_steps(clf, images, labels)  # measured: 2.30 -> 0.85
    assert np.mean(losses[10:]) < np.mean(losses[:10])

    predictions = checked_predictions(clf, images, labels)
    assert predictions.min() >= 0 and predictions.max() < NUM_CLASSES

    params = checked_linear_parameters(clf)
    params["weights"][:] = 123.0  # a copy: the model is untouched
    assert not np.any(clf.parameters()["weights"] == 123.0)

    clf.close()
    clf.close()


@pytest.mark.parametrize("name", TF_NAMES)
def test_missing_gpu_is_device_unavailable(name, factories):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible to TensorFlow")
    clf = factories[name]()
    with pytest.raises(DeviceUnavailable, match="no GPU visible to TensorFlow"):
        clf.setup(setup_config(device="gpu:0"))
    clf.close()


@pytest.mark.parametrize("name", TF_NAMES)
def test_absent_gpu_index_and_bad_device_name(name, factories):
    gpus = len(tf.config.list_physical_devices("GPU"))
    clf = factories[name]()
    with pytest.raises(DeviceUnavailable, match=f"gpu:{gpus + 3}"):
        clf.setup(setup_config(device=f"gpu:{gpus + 3}"))
    with pytest.raises(UsageError, match="tpu"):
        clf.setup(setup_config(device="tpu"))


def test_tf_graph_lives_beside_eager_code(factories, data):
    images, labels = data
    clf = factories["tf-graph"]()
    clf.setup(setup_config())
    clf.train_step(images[:BATCH], labels[:BATCH])
    assert tf.executing_eagerly()  # eager execution was not disabled globally
    assert clf._graph.finalized and clf._graph is not tf.compat.v1.get_default_graph()
    assert float(tf.reduce_sum(tf.ones([2, 2]))) == 4.0
    clf.close()


@pytest.mark.parametrize("name", ["tf-eager", "tf-function", "tf-xla"])
def test_eager_variables_live_on_the_requested_device(name, factories):
    clf = factories[name]()
    clf.setup(setup_config())
    assert clf._weights.device.endswith("CPU:0") and clf._biases.device.endswith("CPU:0")
    clf.close()


@pytest.mark.parametrize("name", ["tf-function", "tf-xla"])
def test_train_step_is_traced_once(name, factories, synthetic):
    images, labels = synthetic(2000, seed=7)
    clf = factories[name]()
    clf.setup(setup_config())
    rng = np.random.default_rng(1)
    for _ in range(20):  # varying contents, same shape
        index = rng.integers(0, len(images), BATCH)
        clf.train_step(np.ascontiguousarray(images[index]), labels[index])
    clf.predict(images)
    clf.predict(images[:333])
    clf.train_step(images[:BATCH], labels[:BATCH])
    assert clf.tracing_counts() == {"train_step": 1, "predict": 1}
    clf.train_step(images[:37], labels[:37])  # a short final batch: batch dim is None
    assert clf.tracing_counts()["train_step"] == 1
    clf.close()


def test_tf_eager_is_not_compiled(factories, data):
    images, labels = data
    clf = factories["tf-eager"]()
    clf.setup(setup_config())
    clf.train_step(images[:BATCH], labels[:BATCH])
    assert clf.tracing_counts() == {"train_step": 0, "predict": 0}
    assert not hasattr(clf._train_fn, "get_concrete_function")
    clf.close()


@pytest.mark.parametrize("name", TF_NAMES)
def test_a_thread_count_the_process_cannot_honour_is_a_usage_error(name, factories):
    from bench_tensorflow import _runtime

    # Make sure TensorFlow's process-wide CPU pool exists (default size unless set before).
    warm = factories["tf-eager"]()
    warm.setup(setup_config())
    warm.close()
    current = _runtime._INTRA_POOL
    assert current is not _runtime._UNSET
    other = 3 if current != 3 else 5
    clf = factories[name]()
    with pytest.raises(UsageError, match="thread"):
        clf.setup(setup_config(threads=other))
    clf.setup(setup_config(threads=current))  # the same count (or None = default) is fine
    clf.close()
