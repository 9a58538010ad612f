"""Fixtures for the dataset tests (helpers live in cifar_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cifar_files import FakeCifar, write_binary, write_python


@pytest.fixture
def python_copy(tmp_path: Path) -> FakeCifar:
    return write_python(tmp_path / "data" / "cifar-10-batches-py")


@pytest.fixture
def binary_copy(tmp_path: Path) -> FakeCifar:
    return write_binary(tmp_path / "data" / "cifar-10-batches-bin")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide data location and offline mode themselves."""
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
