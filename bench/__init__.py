"""bench: a plugin-based benchmarking harness for image classifiers on CIFAR-10.

What a plugin needs is importable from here::

    from bench import ClassifierSpec, DeviceUnavailable, SetupConfig, hookimpl

and so is running bench from Python (:func:`bench.run`, see :mod:`bench.api`)::

    import bench

    document = bench.run(["numpy"], dataset="synthetic", steps=100)
    row = document.results[0]
    assert row.status == bench.Status.OK

The running side (``run``, ``RunConfig``, ``RunDocument``, ``Row``, ``Status``,
``load_run``, ``installed_registry``) is imported when first used, so that a plugin's
``from bench import hookimpl`` stays fast.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from bench.classifier import Classifier, ClassifierSpec, Param, RecipeDefaults, SetupConfig, StepWork
from bench.errors import DeviceUnavailable, UsageError
from bench.hookspecs import hookimpl

if TYPE_CHECKING:
    from bench.api import run
    from bench.plugins import installed_registry
    from bench.results.model import Row, RunDocument, Status
    from bench.results.storage import load_run
    from bench.settings import RunConfig

try:
    __version__ = version("bench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

_LAZY = {
    "run": "bench.api",
    "RunConfig": "bench.settings",
    "RunDocument": "bench.results.model",
    "Row": "bench.results.model",
    "Status": "bench.results.model",
    "load_run": "bench.results.storage",
    "installed_registry": "bench.plugins",
}


def __getattr__(name: str) -> Any:
    """The running side of the API, imported on first use."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


__all__ = [
    "Classifier",
    "ClassifierSpec",
    "DeviceUnavailable",
    "Param",
    "RecipeDefaults",
    "Row",
    "RunConfig",
    "RunDocument",
    "SetupConfig",
    "Status",
    "StepWork",
    "UsageError",
    "__version__",
    "hookimpl",
    "installed_registry",
    "load_run",
    "run",
]
