"""The JAX and PyTorch classifiers train the same model as the numpy reference, tightly.

The well-conditioned setting of tests/plugins/tensorflow_plugin/test_tf_parity.py (standardised inputs,
logits O(1), 300 steps at learning rate 0.05): implementations differ only in float32
rounding, which a contractive problem keeps at rounding level, so the final parameters
and every step's loss must agree to a few ulps of the largest value.
"""

from __future__ import annotations

import numpy as np
import pytest
from training_checks import assert_parameters_match, assert_predictions_match, train_all

NEW = ("jax-jit", "jax-eager", "torch-eager", "torch-compile")

STEPS, BATCH, LEARNING_RATE = 300, 100, 0.05
# Measured here (x86-64; numpy/OpenBLAS; JAX 0.10.2 XLA:CPU; torch 2.13 CPU/MKL; either weight
# layout): weights and biases within 4.8e-7 of numpy, relative to the largest reference
# value, and every loss within 1.2e-6 (jax-eager; the others 9.1e-7 or less), i.e. a few
# float32 ulps (2^-24 = 6e-8), as tf-graph (4.8e-7, 6.1e-7). 5e-6, the TF test's bound, leaves
# 4x headroom and still catches numpy with the learning rate off by 1 + 1e-4 (2.3e-5 away).
RELATIVE_TOLERANCE = 5e-6


@pytest.fixture(scope="module")
def trained(synthetic, make, available):
    """Every installed implementation on one batch schedule: name -> (params, predictions, losses)."""
    images, labels = synthetic(2000, seed=1, separation=0.05)
    makers = ((name, lambda name=name: make(name)) for name in ("numpy", *available))
    return images, train_all(makers, images, labels, STEPS, BATCH, LEARNING_RATE)


def test_the_setting_is_well_conditioned_and_learns(trained):
    _, results = trained
    params, _, losses = results["numpy"]
    assert losses[0] == pytest.approx(np.log(10), rel=1e-6)
    assert losses[-20:].mean() < 0.5 * losses[0]
    assert np.abs(params["weights"]).max() < 1.0


@pytest.mark.parametrize("name", NEW)
def test_parameters_match_numpy(name, trained, require):
    require(name)
    _, results = trained
    assert_parameters_match(name, results, RELATIVE_TOLERANCE)


@pytest.mark.parametrize("name", NEW)
def test_losses_match_numpy(name, trained, require):
    require(name)
    _, results = trained
    np.testing.assert_allclose(results[name][2], results["numpy"][2], rtol=RELATIVE_TOLERANCE, atol=0)


@pytest.mark.parametrize("name", NEW)
def test_predictions_match_numpy(name, trained, require):
    require(name)
    images, results = trained
    assert_predictions_match(name, images, results)
