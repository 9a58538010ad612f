"""The in-memory dataset every plugin trains on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Preprocessed images (float32, one flattened row per image) and int64 labels."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    source: str = ""
    """Where it came from: a directory, or a description of how it was generated."""
    preprocessing: str = ""
    details: dict[str, object] = field(default_factory=dict)
    """Anything worth recording with a run (checksums verified, load timings, ...)."""

    @property
    def input_dim(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
