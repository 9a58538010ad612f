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

from training_checks import assert_parameters_match, assert_predictions_match, max_diff, train_all  # noqa: E402

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
    return images, train_all(((name, factories[name]) for name in NAMES), images, labels, STEPS, BATCH, LEARNING_RATE)


def test_the_setting_is_well_conditioned_and_learns(trained):
    _, results = trained
    params, _, losses = results["numpy"]
    assert losses[0] == pytest.approx(np.log(10), rel=1e-6)
    assert losses[-20:].mean() < 0.5 * losses[0]  # it trains ...
    assert np.abs(params["weights"]).max() < 1.0  # ... and logits stay O(1)


@pytest.mark.parametrize("name", NAMES[1:])
def test_parameters_match_numpy(name, trained):
    _, results = trained
    assert_parameters_match(name, results, RELATIVE_TOLERANCE)


@pytest.mark.parametrize("name", NAMES[1:])
def test_losses_match_numpy(name, trained):
    _, results = trained
    np.testing.assert_allclose(results[name][2], results["numpy"][2], rtol=RELATIVE_TOLERANCE, atol=0)


@pytest.mark.parametrize("name", NAMES[1:])
def test_predictions_match_numpy(name, trained):
    images, results = trained
    assert_predictions_match(name, images, results)


def test_tf_graph_and_tf_eager_agree(trained):
    _, results = trained
    graph, eager = results["tf-graph"][0], results["tf-eager"][0]
    diff = max_diff(graph, eager)
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
            diff = max_diff(snapshots[name, step], snapshots["numpy", step])
            print(f"reference regime, step {step}: {name} vs numpy max |diff| {diff}")
    print(f"step 100: tf-graph vs tf-eager max |diff| {max_diff(snapshots['tf-graph', 100], snapshots['tf-eager', 100])}")
    print(f"test accuracy after 100 steps: {accuracy}")
    # Loose: after 10 steps the runs have not parted yet (measured 7e-7 of weights ~0.13).
    assert max_diff(snapshots["tf-graph", 10], snapshots["numpy", 10])["weights"] < 1e-3
    assert all(0.12 < acc < 0.45 for acc in accuracy.values())
