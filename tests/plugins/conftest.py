"""Cross-framework tests: the JAX and PyTorch classifiers against the numpy reference.

Each classifier's test skips when its framework is not installed (``pip install -e
".[test]"`` has neither; ``.[test,jax,torch]`` has both).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest

FRAMEWORK = {"jax-jit": "jax", "jax-eager": "jax", "torch-eager": "torch", "torch-compile": "torch"}
NEW = tuple(FRAMEWORK)


def installed(name: str) -> bool:
    return importlib.util.find_spec(FRAMEWORK[name]) is not None


@pytest.fixture(scope="session")
def require() -> Callable[[str], None]:
    """``require(name)``: skip the calling test when ``name``'s framework is not installed."""

    def skip_unless_installed(name: str) -> None:
        if not installed(name):
            pytest.skip(f"{FRAMEWORK[name]} is not installed")

    return skip_unless_installed


@pytest.fixture(scope="session")
def available() -> list[str]:
    """The new classifiers whose framework is installed."""
    return [name for name in NEW if installed(name)]


@pytest.fixture(scope="session")
def make() -> Callable[[str], object]:
    """``make(name)``: a fresh classifier from the installed registry."""
    from bench.plugins import installed_registry

    return lambda name: installed_registry().get(name).factory()
