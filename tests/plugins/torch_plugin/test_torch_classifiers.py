"""torch-eager and torch-compile follow the Classifier protocol, train, and keep their promises.

torch-compile compiles for ~15 s on a cold cache here, so its tests share one shape and
learning rate (one compilation per process; Dynamo reuses it for every new classifier).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bench_torch  # noqa: E402
from bench import Classifier, DeviceUnavailable, SetupConfig, UsageError  # noqa: E402

NAMES = ("torch-eager", "torch-compile")
FACTORIES = {"torch-eager": bench_torch.make_torch_eager, "torch-compile": bench_torch.make_torch_compile}
INPUT_DIM, NUM_CLASSES, BATCH = 3072, 10, 100


def _config(**overrides: object) -> SetupConfig:
    values: dict[str, object] = dict(learning_rate=0.05, batch_size=BATCH, input_dim=INPUT_DIM, num_classes=NUM_CLASSES)
    values.update(overrides)
    return SetupConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def data(synthetic):
    return synthetic(1000, seed=3)


@pytest.mark.parametrize("name", NAMES)
def test_protocol_training_and_close(name, data):
    images, labels = data
    clf = FACTORIES[name]()
    assert isinstance(clf, Classifier)
    clf.setup(_config())
    starts = [(step * BATCH) % len(images) for step in range(20)]
    losses = [clf.train_step(images[i : i + BATCH], labels[i : i + BATCH]) for i in starts]
    assert all(type(loss) is float for loss in losses)
    assert losses[0] == pytest.approx(np.log(NUM_CLASSES), rel=1e-6)
    assert losses[-1] < 0.5 * losses[0]
    predictions = clf.predict(images)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (len(images),)
    assert predictions.dtype == np.int64
    assert np.mean(predictions == labels) > 0.5
    np.testing.assert_array_equal(clf.predict(images[:7]), predictions[:7])
    params = clf.parameters()
    assert set(params) == {"weights", "biases"}
    assert params["weights"].shape == (INPUT_DIM, NUM_CLASSES) and params["weights"].dtype == np.float32
    assert params["weights"].flags.c_contiguous
    params["weights"][:] = 123.0  # a copy: the model is untouched
    assert not np.any(clf.parameters()["weights"] == 123.0)
    assert clf.peak_device_memory_bytes() is None  # the CPU: not tracked
    clf.close()
    clf.close()


def test_the_batch_buffer_may_be_reused_after_the_step(data):
    # The runner overwrites one buffer every step; torch.from_numpy shares it, so nothing
    # may still read it once train_step has returned.
    images, labels = data
    reference, reused = FACTORIES["torch-eager"](), FACTORIES["torch-eager"]()
    reference.setup(_config())
    reused.setup(_config())
    buffer, label_buffer = np.empty((BATCH, INPUT_DIM), np.float32), np.empty(BATCH, np.int64)
    for start in range(0, 500, BATCH):
        reference.train_step(images[start : start + BATCH].copy(), labels[start : start + BATCH].copy())
        np.copyto(buffer, images[start : start + BATCH])
        np.copyto(label_buffer, labels[start : start + BATCH])
        reused.train_step(buffer, label_buffer)
        buffer[:] = np.nan
    for key, value in reference.parameters().items():
        np.testing.assert_array_equal(reused.parameters()[key], value)


def test_torch_compile_is_one_graph_compiled_once(data):
    images, labels = data
    torch._dynamo.reset()  # forget earlier compilations (inductor's cache keeps this one fast)
    torch._dynamo.utils.counters.clear()
    counters = torch._dynamo.utils.counters
    for _ in range(2):  # a second classifier reuses the first one's compiled graph
        clf = FACTORIES["torch-compile"]()
        clf.setup(_config())
        for start in range(0, 500, BATCH):
            clf.train_step(images[start : start + BATCH], labels[start : start + BATCH])
        clf.close()
        assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])
        assert not counters["graph_break"], dict(counters["graph_break"])
    assert counters["inductor"]["extern_calls"] == 2  # the two products stay library calls (mm)


@pytest.mark.parametrize("name", NAMES)
def test_bad_params_are_usage_errors(name):
    clf = FACTORIES[name]()
    with pytest.raises(UsageError, match="layout must be one of cd, dc"):
        clf.setup(_config(params={"layout": "diagonal"}))
    with pytest.raises(UsageError, match="unknown --param dtype; valid: layout"):
        clf.setup(_config(params={"dtype": "float64"}))


def test_both_weight_layouts_train_the_same_model(data):
    images, labels = data
    results = {}
    for layout in ("cd", "dc"):
        clf = FACTORIES["torch-eager"]()
        clf.setup(_config(params={"layout": layout}))
        expected_shape = (NUM_CLASSES, INPUT_DIM) if layout == "cd" else (INPUT_DIM, NUM_CLASSES)
        assert tuple(clf._weights.shape) == expected_shape
        losses = [clf.train_step(images[i : i + BATCH], labels[i : i + BATCH]) for i in range(0, 1000, BATCH)]
        results[layout] = clf.parameters(), losses
        clf.close()
    (cd, cd_losses), (dc, dc_losses) = results["cd"], results["dc"]
    np.testing.assert_allclose(cd_losses, dc_losses, rtol=1e-5)
    for key in cd:
        assert np.abs(cd[key] - dc[key]).max() <= 1e-5 * np.abs(dc[key]).max()


@pytest.mark.parametrize("name", NAMES)
def test_gpu_unavailable_with_its_reason(name):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible to PyTorch")
    why = "this PyTorch build has no CUDA" if not torch.backends.cuda.is_built() else "no GPU visible to PyTorch"
    clf = FACTORIES[name]()
    with pytest.raises(DeviceUnavailable, match=why):
        clf.setup(_config(device="gpu:0"))
    with pytest.raises(UsageError, match="tpu"):
        clf.setup(_config(device="tpu"))
    clf.close()
