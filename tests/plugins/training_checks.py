"""Training runs and checks that the classifier tests under tests/plugins share: the
TensorFlow tests and the JAX/PyTorch tests train and compare their classifiers the same way.

Imported by name (``import training_checks``): pytest puts this folder on ``sys.path`` for
its ``conftest.py``, before any test below it is collected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest

from bench import Classifier, SetupConfig
from bench.classifier import MultiStepClassifier, ResidentClassifier

INPUT_DIM, NUM_CLASSES, BATCH = 3072, 10, 100
"""The shapes of the protocol tests: CIFAR-10's, on the synthetic set."""

Results = dict[str, tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]
"""name -> (final parameters, predictions on the training images, every step's loss)."""


def setup_config(**overrides: Any) -> SetupConfig:
    """The protocol tests' setup: learning rate 0.05, :data:`BATCH`, :data:`INPUT_DIM`,
    :data:`NUM_CLASSES`, and ``overrides``."""
    values: dict[str, Any] = dict(learning_rate=0.05, batch_size=BATCH, input_dim=INPUT_DIM, num_classes=NUM_CLASSES)
    values.update(overrides)
    return SetupConfig(**values)


def trained_twenty_steps(clf: Any, images: np.ndarray, labels: np.ndarray) -> list[float]:
    """Set the new classifier ``clf`` up (:func:`setup_config`) and train it 20 steps, twice
    over the 1000 images; checked: a Classifier, Python-float losses, the first uniform (zero
    weights), the last under half of it. Its losses."""
    assert isinstance(clf, Classifier)
    clf.setup(setup_config())
    starts = [(step * BATCH) % len(images) for step in range(20)]
    losses = [clf.train_step(images[i : i + BATCH], labels[i : i + BATCH]) for i in starts]
    assert all(type(loss) is float for loss in losses)
    assert losses[0] == pytest.approx(np.log(NUM_CLASSES), rel=1e-6)
    assert losses[-1] < 0.5 * losses[0]
    return losses


def checked_predictions(clf: Any, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``clf.predict(images)``, checked: one integer per image, more than half right, and the
    same for a slice that is not a chunk or batch multiple."""
    predictions = clf.predict(images)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (len(images),)
    assert np.issubdtype(predictions.dtype, np.integer)
    assert np.mean(predictions == labels) > 0.5
    np.testing.assert_array_equal(clf.predict(images[:7]), predictions[:7])
    return predictions


def checked_linear_parameters(clf: Any) -> dict[str, np.ndarray]:
    """``clf.parameters()``, checked: float32 ``weights`` (INPUT_DIM x NUM_CLASSES) and ``biases``."""
    params = clf.parameters()
    assert set(params) == {"weights", "biases"}
    assert params["weights"].shape == (INPUT_DIM, NUM_CLASSES) and params["weights"].dtype == np.float32
    assert params["biases"].shape == (NUM_CLASSES,) and params["biases"].dtype == np.float32
    return params


def train_placed(clf: Any, mode: str, images: np.ndarray, labels: np.ndarray,
                 schedule: np.ndarray) -> tuple[dict[str, np.ndarray], list[float]]:
    """Train the new classifier ``clf`` along ``schedule`` (rows of indices) and close it;
    ``mode``: ``feed``, ``resident``, or ``calls`` (resident, several steps per call, cut as
    the runner cuts them: 1 step, then up to 9, then the rest). Its parameters and losses."""
    clf.setup(SetupConfig(learning_rate=0.05, batch_size=schedule.shape[1], input_dim=images.shape[1], num_classes=10))
    try:
        if mode == "feed":
            losses = [clf.train_step(images[rows], labels[rows]) for rows in schedule]
        else:
            assert isinstance(clf, MultiStepClassifier if mode == "calls" else ResidentClassifier)
            clf.place_dataset(images, labels)
            if mode == "calls":
                calls = (schedule[:1], schedule[1:10], schedule[10:])
                losses = [float(loss) for call in calls for loss in clf.train_steps_indices(call)]
            else:
                losses = [clf.train_step_indices(rows) for rows in schedule]
        return clf.parameters(), losses
    finally:
        clf.close()


def assert_same_training(make: Callable[[], Any], mode: str, reference_mode: str, images: np.ndarray,
                         labels: np.ndarray, schedule: np.ndarray) -> None:
    """Two fresh classifiers from ``make``, trained in ``mode`` and ``reference_mode``, end
    bit-identical: every loss and every parameter."""
    expected, expected_losses = train_placed(make(), reference_mode, images, labels, schedule)
    actual, actual_losses = train_placed(make(), mode, images, labels, schedule)
    assert actual_losses == expected_losses
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


def train_all(makers: Iterable[tuple[str, Callable[[], Any]]], images: np.ndarray, labels: np.ndarray,
              steps: int, batch: int, learning_rate: float) -> Results:
    """Every classifier of ``makers`` trained on one batch schedule (drawn with seed 5)."""
    schedule = np.random.default_rng(5).integers(0, len(images), (steps, batch))
    batches = [(np.ascontiguousarray(images[index]), labels[index]) for index in schedule]
    config = SetupConfig(learning_rate=learning_rate, batch_size=batch, input_dim=images.shape[1], num_classes=10)
    results: Results = {}
    for name, make in makers:
        clf = make()
        clf.setup(config)
        losses = np.array([clf.train_step(x, y) for x, y in batches])
        results[name] = (clf.parameters(), clf.predict(images), losses)
        clf.close()
    return results


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """The largest absolute difference of the weights and of the biases."""
    return {key: float(np.abs(a[key].astype(np.float64) - b[key]).max()) for key in ("weights", "biases")}


def assert_parameters_match(name: str, results: Results, tolerance: float) -> None:
    """``name``'s final parameters within ``tolerance`` of numpy's, relative to the largest of numpy's."""
    reference = results["numpy"][0]
    diff = max_diff(results[name][0], reference)
    for key in ("weights", "biases"):
        scale = float(np.abs(reference[key]).max())
        assert diff[key] <= tolerance * scale, f"{name} {key}: max |diff| {diff[key]:.3g}, max |ref| {scale:.3g}"


def assert_predictions_match(name: str, images: np.ndarray, results: Results) -> None:
    """``name`` predicts what numpy predicts, except where two classes tie to within rounding."""
    reference, predictions = results["numpy"][0], results[name][1]
    differ = predictions != results["numpy"][1]
    if differ.any():
        logits = np.sort(images[differ].astype(np.float64) @ reference["weights"] + reference["biases"], axis=1)
        assert np.all(logits[:, -1] - logits[:, -2] < 1e-4), f"{name}: {int(differ.sum())} predictions differ"
