"""Each TensorFlow classifier follows the Classifier protocol and trains."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from bench.classifier import Classifier, SetupConfig  # noqa: E402
from bench.errors import DeviceUnavailable, UsageError  # noqa: E402

TF_NAMES = ("tf-graph", "tf-eager", "tf-function", "tf-xla")
INPUT_DIM, NUM_CLASSES, BATCH = 3072, 10, 100


def _config(**overrides: object) -> SetupConfig:
    values: dict[str, object] = dict(
        learning_rate=0.05, batch_size=BATCH, input_dim=INPUT_DIM, num_classes=NUM_CLASSES
    )
    values.update(overrides)
    return SetupConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def data(synthetic):
    return synthetic(1000, seed=3)


@pytest.mark.parametrize("name", TF_NAMES)
def test_protocol_training_and_close(name, factories, data):
    images, labels = data
    clf = factories[name]()
    assert isinstance(clf, Classifier)
    clf.setup(_config())
    starts = [(step * BATCH) % len(images) for step in range(20)]  # 20 steps, twice over the data
    losses = [clf.train_step(images[i : i + BATCH], labels[i : i + BATCH]) for i in starts]
    assert all(type(loss) is float for loss in losses)
    assert losses[0] == pytest.approx(np.log(NUM_CLASSES), rel=1e-6)  # zero weights: uniform
    assert losses[-1] < 0.5 * losses[0]  # measured: 2.30 -> 0.85
    assert np.mean(losses[10:]) < np.mean(losses[:10])

    predictions = clf.predict(images)
    assert isinstance(predictions, np.ndarray)
    assert predictions.shape == (len(images),)
    assert np.issubdtype(predictions.dtype, np.integer)
    assert predictions.min() >= 0 and predictions.max() < NUM_CLASSES
    assert np.mean(predictions == labels) > 0.5  # learnt something
    odd = clf.predict(images[:7])  # a size that is not a chunk or batch multiple
    np.testing.assert_array_equal(odd, predictions[:7])

    params = clf.parameters()
    assert set(params) == {"weights", "biases"}
    assert params["weights"].shape == (INPUT_DIM, NUM_CLASSES) and params["weights"].dtype == np.float32
    assert params["biases"].shape == (NUM_CLASSES,) and params["biases"].dtype == np.float32
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
        clf.setup(_config(device="gpu:0"))
    clf.close()


@pytest.mark.parametrize("name", TF_NAMES)
def test_absent_gpu_index_and_bad_device_name(name, factories):
    gpus = len(tf.config.list_physical_devices("GPU"))
    clf = factories[name]()
    with pytest.raises(DeviceUnavailable, match=f"gpu:{gpus + 3}"):
        clf.setup(_config(device=f"gpu:{gpus + 3}"))
    with pytest.raises(UsageError, match="tpu"):
        clf.setup(_config(device="tpu"))


def test_tf_graph_lives_beside_eager_code(factories, data):
    images, labels = data
    clf = factories["tf-graph"]()
    clf.setup(_config())
    clf.train_step(images[:BATCH], labels[:BATCH])
    assert tf.executing_eagerly()  # eager execution was not disabled globally
    assert clf._graph.finalized and clf._graph is not tf.compat.v1.get_default_graph()
    assert float(tf.reduce_sum(tf.ones([2, 2]))) == 4.0
    clf.close()


@pytest.mark.parametrize("name", ["tf-eager", "tf-function", "tf-xla"])
def test_eager_variables_live_on_the_requested_device(name, factories):
    clf = factories[name]()
    clf.setup(_config())
    assert clf._weights.device.endswith("CPU:0") and clf._biases.device.endswith("CPU:0")
    clf.close()


@pytest.mark.parametrize("name", ["tf-function", "tf-xla"])
def test_train_step_is_traced_once(name, factories, synthetic):
    images, labels = synthetic(2000, seed=7)
    clf = factories[name]()
    clf.setup(_config())
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
    clf.setup(_config())
    clf.train_step(images[:BATCH], labels[:BATCH])
    assert clf.tracing_counts() == {"train_step": 0, "predict": 0}
    assert not hasattr(clf._train_fn, "get_concrete_function")
    clf.close()


@pytest.mark.parametrize("name", TF_NAMES)
def test_a_thread_count_the_process_cannot_honour_is_a_usage_error(name, factories):
    from bench_tensorflow import _runtime

    # Make sure TensorFlow's process-wide CPU pool exists (default size unless set before).
    warm = factories["tf-eager"]()
    warm.setup(_config())
    warm.close()
    current = _runtime._INTRA_POOL
    assert current is not _runtime._UNSET
    other = 3 if current != 3 else 5
    clf = factories[name]()
    with pytest.raises(UsageError, match="thread"):
        clf.setup(_config(threads=other))
    clf.setup(_config(threads=current))  # the same count (or None = default) is fine
    clf.close()
