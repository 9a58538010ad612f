"""The real CIFAR-10, when ``BENCH_CIFAR10_DIR`` points at it."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from bench.dataset import describe_data, load_dataset
from bench.dataset.cifar10 import load_cifar10

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def data_dir() -> str:
    directory = os.environ.get("BENCH_CIFAR10_DIR")
    if not directory:
        pytest.skip("set BENCH_CIFAR10_DIR to the directory holding the real CIFAR-10")
    return directory


def test_real_cifar10_raw(data_dir: str) -> None:
    raw = load_cifar10(data_dir)

    assert raw.train_images.shape == (50000, 3072) and raw.train_images.dtype == np.uint8
    assert raw.test_images.shape == (10000, 3072) and raw.test_images.dtype == np.uint8
    assert np.bincount(raw.train_labels).tolist() == [5000] * 10
    assert np.bincount(raw.test_labels).tolist() == [1000] * 10
    assert raw.train_labels[:5].tolist() == [6, 9, 9, 4, 1]
    assert raw.test_labels[:5].tolist() == [3, 8, 8, 0, 6]
    assert raw.train_images[0, :3].tolist() == [59, 43, 50]  # first red pixels of the first image
    assert raw.class_names[0] == "airplane" and raw.class_names[-1] == "truck"
    channel_means = raw.train_images.reshape(-1, 3, 1024).mean(axis=(0, 2))
    np.testing.assert_allclose(channel_means, [125.307, 122.950, 113.865], atol=5e-4)
    assert len(raw.md5) == 7 and raw.structural_only == []


def test_real_cifar10_dataset(data_dir: str) -> None:
    start = time.perf_counter()
    dataset = load_dataset("cifar10", data_dir=data_dir, offline=True)
    seconds = time.perf_counter() - start
    print(f"\nload + verify + preprocess: {seconds:.3f} s ({dataset.details})")

    assert dataset.train_images.shape == (50000, 3072) and dataset.train_images.dtype == np.float32
    assert dataset.test_images.shape == (10000, 3072)
    assert dataset.details["md5_ok"] is True
    np.testing.assert_allclose(dataset.details["train_channel_mean_0_255"], [125.307, 122.950, 113.865], atol=5e-4)
    # Reference preprocessing: the training rows average to zero per pixel.
    assert np.abs(dataset.train_images.astype(np.float64).mean(axis=0)).max() < 1e-4
    _, rows, ok = describe_data(data_dir)
    assert ok, rows


def test_the_official_sizes_are_the_real_files_sizes(data_dir: str) -> None:
    from pathlib import Path

    from bench.dataset import checksums as cs
    from bench.dataset.cifar10 import find_layout

    layout = find_layout(Path(data_dir))
    assert layout is not None and layout.format == "python"
    for name in layout.files:
        assert (layout.path / name).stat().st_size == cs.MAX_BYTES[name], name
