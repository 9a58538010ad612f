"""Datasets: CIFAR-10 (verified, preprocessed) and a synthetic stand-in of the same shape."""

from bench.dataset.base import Dataset
from bench.dataset.locate import DATASETS, describe_data, is_offline, load_dataset, resolve_data_dir
from bench.dataset.preprocess import PREPROCESSINGS

__all__ = [
    "DATASETS",
    "PREPROCESSINGS",
    "Dataset",
    "describe_data",
    "is_offline",
    "load_dataset",
    "resolve_data_dir",
]
