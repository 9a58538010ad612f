"""The four TensorFlow classifiers train the same model as the numpy reference.

Well-conditioned setting (standardised inputs, logits O(1), a few hundred steps): the
implementations differ only in float32 rounding (reductions summed in another order,
another exp), and in a contractive problem those differences stay at rounding level, so
the final parameters must agree tightly.

The reference regime (0-255 pixels minus the mean, learning rate 0.005) is different:
logits in the thousands, a loss in the hundreds to thousands, and the same rounding
differences are amplified about tenfold every five steps until the runs part ways after
~40 steps (see test_reference_regime_measurement, which only reports).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from bench.classifier import SetupConfig  # noqa: E402

NAMES = ("numpy", "tf-graph", "tf-eager", "tf-function", "tf-xla")
STEPS, BATCH, LEARNING_RATE = 300, 100, 0.05

# Tolerance, relative to the largest reference parameter (max-norm) and, for the losses,
# to each loss. Measured here (x86-64, TF 2.21 with oneDNN, numpy/OpenBLAS; this data and
# two other seeds): every TF variant within 7.2e-7 of numpy for weights and biases, and
# within 7.1e-7 for every step's loss, i.e. a few float32 ulps (2^-24 = 6e-8) of the
# largest value after 300 steps. That is the expected size: one length-3072 float32 dot
# product summed in another order differs by ~sqrt(3072) * 6e-8 = 3e-6 relative at
# most-typical, and in this contractive, well-conditioned problem per-step rounding
# differences are damped rather than compounded, so they do not grow with the steps.
# 5e-6 leaves ~7x headroom for other CPUs / BLAS blockings, and still catches small
# bugs: numpy with the learning rate off by a factor 1 + 1e-4 ends 2.3e-5 away.
RELATIVE_TOLERANCE = 5e-6
# tf-graph and tf-eager run the same TensorFlow kernels on the same inputs: measured
# bit-identical here. Grappler may rewrite the graph on other builds, so allow rounding.
GRAPH_EAGER_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def trained(synthetic, factories):
    """Every implementation trained on one batch schedule: name -> (params, predictions, losses)."""
    images, labels = synthetic(2000, seed=1, separation=0.05)
    schedule = np.random.default_rng(5).integers(0, len(images), (STEPS, BATCH))
    batches = [(np.ascontiguousarray(images[index]), labels[index]) for index in schedule]
    config = SetupConfig(learning_rate=LEARNING_RATE, batch_size=BATCH, input_dim=images.shape[1], num_classes=10)
    results = {}
    for name in NAMES:
        clf = factories[name]()
        clf.setup(config)
        losses = np.array([clf.train_step(x, y) for x, y in batches])
        results[name] = (clf.parameters(), clf.predict(images), losses)
        clf.close()
    return images, results


def _max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    return {key: float(np.abs(a[key].astype(np.float64) - b[key]).max()) for key in ("weights", "biases")}


def test_the_setting_is_well_conditioned_and_learns(trained):
    _, results = trained
    params, _, losses = results["numpy"]
    assert losses[0] == pytest.approx(np.log(10), rel=1e-6)
    assert losses[-20:].mean() < 0.5 * losses[0]  # it trains ...
    assert np.abs(params["weights"]).max() < 1.0  # ... and logits stay O(1)


@pytest.mark.parametrize("name", NAMES[1:])
def test_parameters_match_numpy(name, trained):
    _, results = trained
    reference = results["numpy"][0]
    diff = _max_diff(results[name][0], reference)
    for key in ("weights", "biases"):
        scale = float(np.abs(reference[key]).max())
        assert diff[key] <= RELATIVE_TOLERANCE * scale, f"{name} {key}: max |diff| {diff[key]:.3g}, max |ref| {scale:.3g}"


@pytest.mark.parametrize("name", NAMES[1:])
def test_losses_match_numpy(name, trained):
    _, results = trained
    np.testing.assert_allclose(results[name][2], results["numpy"][2], rtol=RELATIVE_TOLERANCE, atol=0)


@pytest.mark.parametrize("name", NAMES[1:])
def test_predictions_match_numpy(name, trained):
    images, results = trained
    reference, predictions = results["numpy"][0], results[name][1]
    differ = predictions != results["numpy"][1]
    if differ.any():  # allowed only where two classes tie to within rounding
        logits = np.sort(images[differ].astype(np.float64) @ reference["weights"] + reference["biases"], axis=1)
        assert np.all(logits[:, -1] - logits[:, -2] < 1e-4), f"{name}: {int(differ.sum())} predictions differ"


def test_tf_graph_and_tf_eager_agree(trained):
    _, results = trained
    graph, eager = results["tf-graph"][0], results["tf-eager"][0]
    diff = _max_diff(graph, eager)
    for key in ("weights", "biases"):
        assert diff[key] <= GRAPH_EAGER_TOLERANCE * float(np.abs(eager[key]).max()), (key, diff[key])
    np.testing.assert_array_equal(results["tf-graph"][1], results["tf-eager"][1])


@pytest.mark.realdata
@pytest.mark.slow
def test_reference_regime_measurement(factories):
    """Report (and only loosely check) how far the runs drift on real CIFAR-10 with the
    reference preprocessing: 0-255 minus the per-pixel mean, learning rate 0.005."""
    directory = os.environ.get("BENCH_CIFAR10_DIR")
    if not directory:
        pytest.skip("BENCH_CIFAR10_DIR is not set")
    from bench.dataset.cifar10 import load_cifar10
    from bench.dataset.preprocess import preprocess

    raw = load_cifar10(directory)
    train, test, _ = preprocess(raw.train_images, raw.test_images, "reference")
    schedule = np.random.default_rng(0).integers(0, len(train), (100, 100))
    config = SetupConfig(learning_rate=0.005, batch_size=100, input_dim=3072, num_classes=10)
    snapshots: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    accuracy = {}
    for name in ("numpy", "tf-graph", "tf-eager"):
        clf = factories[name]()
        clf.setup(config)
        for step, index in enumerate(schedule, start=1):
            clf.train_step(np.ascontiguousarray(train[index]), raw.train_labels[index])
            if step in (10, 100):
                snapshots[name, step] = clf.parameters()
        accuracy[name] = float(np.mean(clf.predict(test) == raw.test_labels))
        clf.close()
    for step in (10, 100):
        for name in ("tf-graph", "tf-eager"):
            diff = _max_diff(snapshots[name, step], snapshots["numpy", step])
            print(f"reference regime, step {step}: {name} vs numpy max |diff| {diff}")
    print(f"step 100: tf-graph vs tf-eager max |diff| {_max_diff(snapshots['tf-graph', 100], snapshots['tf-eager', 100])}")
    print(f"test accuracy after 100 steps: {accuracy}")
    # Loose: after 10 steps the runs have not parted yet (measured 7e-7 of weights ~0.13).
    assert _max_diff(snapshots["tf-graph", 10], snapshots["numpy", 10])["weights"] < 1e-3
    assert all(0.12 < acc < 0.45 for acc in accuracy.values())
