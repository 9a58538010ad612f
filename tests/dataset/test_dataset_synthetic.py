"""The synthetic dataset: deterministic, CIFAR-shaped, fast, and learnable."""

from __future__ import annotations


import numpy as np

from bench.dataset import load_dataset
from bench.dataset.synthetic import make_synthetic


def test_shapes_and_types() -> None:
    data = make_synthetic(0)
    assert data.train_images.shape == (5000, 3072) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (1000, 3072) and data.test_images.dtype == np.uint8
    assert data.train_labels.dtype == np.int64 and data.test_labels.dtype == np.int64
    assert np.bincount(data.train_labels).tolist() == [500] * 10
    assert np.bincount(data.test_labels).tolist() == [100] * 10
    assert len(data.class_names) == 10


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = make_synthetic(7), make_synthetic(7), make_synthetic(8)
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.train_images, c.train_images)


def test_sizes_are_configurable() -> None:
    data = make_synthetic(1, n_train=30, n_test=7, num_classes=3)
    assert data.train_images.shape == (30, 3072) and data.test_labels.shape == (7,)
    assert set(data.train_labels) == {0, 1, 2}


def test_a_linear_softmax_learns_it_well_above_chance() -> None:
    dataset = load_dataset("synthetic", seed=0)
    x, y = dataset.train_images, dataset.train_labels
    rng = np.random.default_rng(0)
    weights, bias = np.zeros((x.shape[1], 10)), np.zeros(10)
    for _ in range(300):
        idx = rng.integers(0, len(y), 100)
        logits = x[idx] @ weights + bias
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(idx)), y[idx]] -= 1
        # einsum, not BLAS: a threaded BLAS on a busy 2-core machine is slow at this shape.
        weights -= 1e-6 * np.einsum("nd,nk->dk", x[idx], probs) / len(idx)
        bias -= 1e-6 * probs.mean(axis=0)
    accuracy = np.mean(np.argmax(dataset.test_images @ weights + bias, axis=1) == dataset.test_labels)
    assert accuracy > 0.4  # chance is 0.1


def test_load_dataset_synthetic() -> None:
    dataset = load_dataset("synthetic", seed=3, preprocessing="standardize")
    assert dataset.name == "synthetic"
    assert dataset.train_images.dtype == np.float32 and dataset.input_dim == 3072
    assert dataset.num_classes == 10
    assert dataset.preprocessing == "standardize"
    assert dataset.details["seed"] == 3
    assert "seed 3" in dataset.source
    again = load_dataset("synthetic", seed=3, preprocessing="standardize")
    np.testing.assert_array_equal(dataset.train_images, again.train_images)

