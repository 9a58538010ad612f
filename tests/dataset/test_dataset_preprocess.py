"""Preprocessing: the reference mean subtraction bit for bit, and standardization."""

from __future__ import annotations

import numpy as np
import pytest

from bench.dataset.preprocess import channel_mean_std, fit, pixel_mean, preprocess
from bench.errors import UsageError


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3072), dtype=np.uint8)


def _reference(x_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The reference script: float64 throughout, then TensorFlow's cast to float32."""
    mean_image = np.mean(x_train.astype(float), axis=0)
    x = x.astype(float)
    x -= mean_image
    return x.astype(np.float32)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("n_train", [1, 257, 1000])
def test_reference_equals_the_float64_formula_bit_for_bit(workers: int, n_train: int) -> None:
    train, test = _rows(n_train, 1), _rows(300, 2)
    out_train, out_test, stats = preprocess(train, test, "reference", workers=workers)

    assert out_train.dtype == np.float32 and out_test.dtype == np.float32
    assert out_train.flags.c_contiguous
    np.testing.assert_array_equal(out_train.view(np.uint32), _reference(train, train).view(np.uint32))
    np.testing.assert_array_equal(out_test.view(np.uint32), _reference(train, test).view(np.uint32))
    assert len(stats["train_channel_mean_0_255"]) == 3


def test_reference_is_the_default() -> None:
    train = _rows(50, 3)
    assert fit(train).method == "reference"
    np.testing.assert_array_equal(preprocess(train, train)[0], _reference(train, train))


def test_pixel_mean_equals_numpy_mean_exactly() -> None:
    # Values chosen so that float32 accumulation would go wrong but int64 / float64 cannot.
    train = np.full((4000, 3072), 255, dtype=np.uint8)
    train[::3] = 1
    train = np.concatenate([train, _rows(777, 4)])
    np.testing.assert_array_equal(pixel_mean(train), np.mean(train.astype(float), axis=0))


def test_standardize_gives_unit_channel_statistics() -> None:
    rng = np.random.default_rng(5)
    planes = [rng.normal(loc, scale, size=(2000, 1024)) for loc, scale in ((120, 60), (100, 30), (60, 10))]
    train = np.clip(np.concatenate(planes, axis=1), 0, 255).astype(np.uint8)
    test = _rows(100, 6)

    out_train, out_test, stats = preprocess(train, test, "standardize")

    per_channel = out_train.astype(np.float64).reshape(-1, 3, 1024)
    np.testing.assert_allclose(per_channel.mean(axis=(0, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(axis=(0, 2)), 1.0, atol=1e-5)
    # Same as the float64 formula, and the test set uses the training statistics.
    scaled = train.astype(np.float64).reshape(-1, 3, 1024) / 255.0
    mean, std = scaled.mean(axis=(0, 2)), scaled.std(axis=(0, 2))
    np.testing.assert_allclose(channel_mean_std(train)[0], mean, rtol=1e-12)
    np.testing.assert_allclose(channel_mean_std(train)[1], std, rtol=1e-12)
    expected_test = (test.astype(np.float64).reshape(-1, 3, 1024) / 255.0 - mean[None, :, None]) / std[None, :, None]
    np.testing.assert_allclose(out_test.reshape(-1, 3, 1024), expected_test, rtol=1e-5, atol=1e-5)
    assert out_train.dtype == np.float32
    np.testing.assert_allclose(stats["train_channel_std_0_1"], std, atol=1e-6)


def test_unknown_preprocessing_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown preprocessing 'whiten'; available: reference, standardize"):
        preprocess(_rows(2, 0), _rows(2, 1), "whiten")


def test_non_uint8_rows_are_rejected() -> None:
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((2, 3072), np.float32), _rows(2, 1))
