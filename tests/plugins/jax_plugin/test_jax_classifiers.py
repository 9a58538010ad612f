"""jax-jit and jax-eager follow the Classifier protocol, train, and keep their promises."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import bench_jax  # noqa: E402
from training_checks import (  # noqa: E402
    BATCH,
    INPUT_DIM,
    NUM_CLASSES,
    checked_linear_parameters,
    checked_predictions,
    setup_config,
    trained_twenty_steps,
)

from bench import DeviceUnavailable, StepWork, UsageError  # noqa: E402
from bench import linear_softmax_work  # noqa: E402

NAMES = ("jax-jit", "jax-eager")
FACTORIES = {"jax-jit": bench_jax.make_jax_jit, "jax-eager": bench_jax.make_jax_eager}


@pytest.fixture(scope="module")
def data(synthetic):
    return synthetic(1000, seed=3)


@pytest.mark.parametrize("name", NAMES)
def test_protocol_training_and_close(name, data):
    images, labels = data
    clf = FACTORIES[name]()
    trained_twenty_steps(clf, images, labels)
    checked_predictions(clf, images, labels)
    params = checked_linear_parameters(clf)
    assert params["weights"].flags.c_contiguous
    assert clf.peak_device_memory_bytes() is None  # JAX keeps no statistics for its CPU
    clf.close()
    clf.close()


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_copies_that_survive_donation(name, data):
    # jax-jit donates the parameters' buffers to the next step; a snapshot must not see it.
    images, labels = data
    clf = FACTORIES[name]()
    clf.setup(setup_config())
    clf.train_step(images[:BATCH], labels[:BATCH])
    snapshot = clf.parameters()
    kept = {k: v.copy() for k, v in snapshot.items()}
    clf.train_step(images[BATCH : 2 * BATCH], labels[BATCH : 2 * BATCH])
    for key in kept:
        np.testing.assert_array_equal(snapshot[key], kept[key])
    assert not np.array_equal(clf.parameters()["weights"], kept["weights"])
    snapshot["weights"][:] = 123.0
    assert not np.any(clf.parameters()["weights"] == 123.0)
    clf.close()


def test_jit_compiles_the_step_once(data):
    images, labels = data
    clf = bench_jax.make_jax_jit()
    clf.setup(setup_config())
    rng = np.random.default_rng(1)
    for _ in range(10):
        rows = rng.integers(0, len(images), BATCH)
        clf.train_step(np.ascontiguousarray(images[rows]), labels[rows])
    assert clf._step._cache_size() == 1
    clf.close()


@pytest.mark.parametrize("name", NAMES)
def test_both_weight_layouts_train_the_same_model(name, data):
    images, labels = data
    results = {}
    for layout in ("cd", "dc"):
        clf = FACTORIES[name]()
        clf.setup(setup_config(params={"layout": layout}))
        expected_shape = (NUM_CLASSES, INPUT_DIM) if layout == "cd" else (INPUT_DIM, NUM_CLASSES)
        assert clf._params[0].shape == expected_shape
        losses = [clf.train_step(images[i : i + BATCH], labels[i : i + BATCH]) for i in range(0, 1000, BATCH)]
        results[layout] = clf.parameters(), losses
        clf.close()
    (cd, cd_losses), (dc, dc_losses) = results["cd"], results["dc"]
    np.testing.assert_allclose(cd_losses, dc_losses, rtol=1e-5)
    for key in cd:  # the same sums, possibly in another order
        assert np.abs(cd[key] - dc[key]).max() <= 1e-5 * np.abs(dc[key]).max()


@pytest.mark.parametrize("name", NAMES)
def test_bad_params_are_usage_errors(name):
    clf = FACTORIES[name]()
    with pytest.raises(UsageError, match="layout must be one of cd, dc"):
        clf.setup(setup_config(params={"layout": "diagonal"}))
    with pytest.raises(UsageError, match="unknown --param dtype; valid: layout"):
        clf.setup(setup_config(params={"dtype": "float64"}))


@pytest.mark.parametrize("name", NAMES)
def test_missing_gpu_is_device_unavailable(name):
    if bench_jax.jax_devices() != ["cpu"]:
        pytest.skip("a GPU is visible to JAX")
    clf = FACTORIES[name]()
    with pytest.raises(DeviceUnavailable, match=r"gpu:0: no GPU visible to JAX \(.+\)"):
        clf.setup(setup_config(device="gpu:0"))
    clf.close()


@pytest.mark.parametrize("name", NAMES)
def test_absent_gpu_index_and_bad_device_name(name):
    gpus = len(bench_jax.jax_devices()) - 1
    clf = FACTORIES[name]()
    with pytest.raises(DeviceUnavailable, match=f"gpu:{gpus + 3}"):
        clf.setup(setup_config(device=f"gpu:{gpus + 3}"))
    with pytest.raises(UsageError, match="tpu"):
        clf.setup(setup_config(device="tpu"))


@pytest.mark.parametrize("placement", ["feed", "resident"])
def test_compiled_step_work_is_xlas_count_of_the_step(placement, data):
    images, labels = data
    config = setup_config()
    clf = bench_jax.make_jax_jit()
    clf.setup(config)
    assert clf.compiled_step_work() is None  # nothing ran yet
    if placement == "feed":
        clf.train_step(images[:BATCH], labels[:BATCH])
    else:
        clf.place_dataset(images, labels)
        clf.train_step_indices(np.arange(BATCH))
    work = clf.compiled_step_work()
    clf.close()
    assert isinstance(work, StepWork)
    analytic = linear_softmax_work(config)
    # XLA counts the same two products (2*B*D*C each) and a few elementwise ops more or less.
    assert 0.95 * analytic.flops < work.flops < 1.2 * analytic.flops, (work, analytic)
    # and at least the batch, read once, among the bytes it accesses
    assert work.bytes >= BATCH * INPUT_DIM * 4


def test_eager_has_no_compiled_work_or_loop():
    clf = bench_jax.make_jax_eager()
    assert not hasattr(clf, "compiled_step_work")
    assert not hasattr(clf, "train_steps_indices")
