"""torch-eager and torch-compile follow the Classifier protocol, train, and keep their promises.

torch-compile compiles for ~15 s on a cold cache here, so its tests share one shape and
learning rate (one compilation per process; Dynamo reuses it for every new classifier).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bench_torch  # noqa: E402
from training_checks import (  # noqa: E402
    BATCH,
    INPUT_DIM,
    NUM_CLASSES,
    checked_linear_parameters,
    checked_predictions,
    setup_config,
    trained_twenty_steps,
)

from bench import DeviceUnavailable, UsageError  # noqa: E402

NAMES = ("torch-eager", "torch-compile")
FACTORIES = {"torch-eager": bench_torch.make_torch_eager, "torch-compile": bench_torch.make_torch_compile}


@pytest.fixture(scope="module")
def data(synthetic):
    return synthetic(1000, seed=3)


@pytest.mark.parametrize("name", NAMES)
def test_protocol_training_and_close(name, data):
    images, labels = data
    clf = FACTORIES[name]()
    trained_twenty_steps(clf, images, labels)
    assert checked_predictions(clf, images, labels).dtype == np.int64
    params = checked_linear_parameters(clf)
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
    reference.setup(setup_config())
    reused.setup(setup_config())
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
        clf.setup(setup_config())
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
        clf.setup(setup_config(params={"layout": "diagonal"}))
    with pytest.raises(UsageError, match="unknown --param dtype; valid: layout"):
        clf.setup(setup_config(params={"dtype": "float64"}))


def test_both_weight_layouts_train_the_same_model(data):
    images, labels = data
    results = {}
    for layout in ("cd", "dc"):
        clf = FACTORIES["torch-eager"]()
        clf.setup(setup_config(params={"layout": layout}))
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
        clf.setup(setup_config(device="gpu:0"))
    with pytest.raises(UsageError, match="tpu"):
        clf.setup(setup_config(device="tpu"))
    clf.close()
