"""Shared fixtures: small datasets and a fake installed distribution."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.dataset import Dataset


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Install a throwaway distribution with ``bench`` entry points on sys.path.

    ``make(dist_name, {entry_name: module_name}, {module_name: source})`` writes the
    modules and a ``.dist-info`` that importlib.metadata (and so pluggy) discovers.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[bench]\n{lines}\n")
        return site

    yield make
    for module in [m for m in sys.modules if m.startswith("fakeplugin_")]:
        del sys.modules[module]


def _tiny_dataset(seed: int = 0, train: int = 400, test: int = 100, dim: int = 12, classes: int = 3) -> Dataset:
    """A small, well separated dataset: fast runs that still learn."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 2
    ytr, yte = rng.integers(0, classes, train), rng.integers(0, classes, test)
    xtr = (centres[ytr] + rng.normal(size=(train, dim))).astype(np.float32)
    xte = (centres[yte] + rng.normal(size=(test, dim))).astype(np.float32)
    return Dataset("tiny", xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), [f"c{i}" for i in range(classes)])


@pytest.fixture
def tiny_dataset():
    """``tiny_dataset(seed=0, train=400, test=100, dim=12, classes=3) -> Dataset``."""
    return _tiny_dataset


def _synthetic(n: int, input_dim: int = 3072, num_classes: int = 10, *, seed: int = 0, separation: float = 0.05):
    """Class-structured data, standardised per feature (mean 0, std 1), float32 C-order.

    Each class has a random mean direction (``separation`` per feature) under unit noise,
    so there is something to learn while inputs stay O(1) like standardised CIFAR-10.
    """
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((num_classes, input_dim)) * separation
    labels = rng.integers(0, num_classes, n).astype(np.int64)
    images = means[labels] + rng.standard_normal((n, input_dim))
    images = (images - images.mean(axis=0)) / images.std(axis=0)
    return np.ascontiguousarray(images, dtype=np.float32), labels


@pytest.fixture(scope="session")
def synthetic() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``synthetic(n, input_dim=3072, num_classes=10, seed=0, separation=0.05)``."""
    return _synthetic


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that start Ray clusters run first. Ray starts its processes with a
    ``preexec_fn`` (Python code between fork and exec), which is unsafe once a framework's
    threads run in this process: JAX warns of a deadlock. Every other test that starts a
    process execs it directly (tests/cli/launch.py), so the order of the rest is kept."""
    items.sort(key=lambda item: 0 if "/execute/ray/" in f"/{item.nodeid}" else 1)
