"""A deterministic stand-in for CIFAR-10: same shape, uint8, learnable, generated in milliseconds.

Each class has a fixed random low-resolution pattern (8x8 per channel, upsampled to 32x32);
an image is its class pattern plus uniform noise. The images go through the same
preprocessing as the real data. A linear softmax classifier learns it well above chance,
without it being trivially separable in a few steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDE = 32
CHANNELS = 3
PATTERN_SIDE = 8
PATTERN_RANGE = 12
"""Class patterns take values 0..PATTERN_RANGE; noise fills the rest of 0..255."""


@dataclass
class SyntheticData:
    """Raw synthetic images (uint8 rows, R/G/B planes like CIFAR-10) and int64 labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    description: str


def make_synthetic(
    seed: int = 0,
    *,
    n_train: int = 5000,
    n_test: int = 1000,
    num_classes: int = 10,
) -> SyntheticData:
    """Generate the synthetic set; the same ``seed`` always gives the same arrays."""
    if n_train < num_classes or n_test < 1 or num_classes < 2:
        raise ValueError("need n_train >= num_classes >= 2 and n_test >= 1")
    rng = np.random.default_rng(seed)
    low = rng.integers(0, PATTERN_RANGE + 1, size=(num_classes, CHANNELS, PATTERN_SIDE, PATTERN_SIDE), dtype=np.uint8)
    scale = SIDE // PATTERN_SIDE
    patterns = low.repeat(scale, axis=2).repeat(scale, axis=3).reshape(num_classes, -1)
    train_labels = _balanced_labels(rng, n_train, num_classes)
    test_labels = _balanced_labels(rng, n_test, num_classes)
    train_images = _images(rng, patterns, train_labels)
    test_images = _images(rng, patterns, test_labels)
    return SyntheticData(
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        class_names=[f"class_{i}" for i in range(num_classes)],
        description=(
            f"synthetic (seed {seed}; {n_train} train / {n_test} test; {num_classes} classes; "
            f"{PATTERN_SIDE}x{PATTERN_SIDE} class patterns 0..{PATTERN_RANGE} + uniform noise)"
        ),
    )


def _balanced_labels(rng: np.random.Generator, n: int, num_classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n, dtype=np.int64) % num_classes)


def _images(rng: np.random.Generator, patterns: np.ndarray, labels: np.ndarray) -> np.ndarray:
    images = rng.integers(0, 256 - PATTERN_RANGE, size=(labels.size, patterns.shape[1]), dtype=np.uint8)
    images += patterns[labels]  # at most 255: no wrap-around
    return images
