"""Shared fixtures: small datasets and a fake installed distribution."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
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
