"""bench: a plugin-based benchmarking harness for image classifiers on CIFAR-10.

What a plugin needs is importable from here::

    from bench import ClassifierSpec, DeviceUnavailable, SetupConfig, hookimpl

- the spec and its parts: :class:`ClassifierSpec`, :class:`Param`, :class:`RecipeDefaults`,
  :class:`StepWork`, and :func:`hookimpl` to mark the hook that registers it;
- the classifier's side: :class:`Classifier` (and the optional
  :class:`ResidentClassifier`, :class:`MultiStepClassifier`), :class:`SetupConfig`,
  :func:`gpu_index`, :class:`DeviceUnavailable`, :class:`UsageError`;
- a step's work for ``ClassifierSpec(work=...)``, in FLOPs and bytes per step:
  :func:`linear_softmax_work`, :func:`mlp_work`, and their parts :func:`dense_flops`,
  :func:`softmax_cross_entropy_flops`, :func:`minimum_bytes` (see :mod:`bench.work`).

So is running bench from Python (:func:`bench.run`, see :mod:`bench.api`)::

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

from bench.classifier import (
    Classifier,
    ClassifierSpec,
    MultiStepClassifier,
    Param,
    RecipeDefaults,
    ResidentClassifier,
    SetupConfig,
    StepWork,
    gpu_index,
)
from bench.errors import DeviceUnavailable, UsageError
from bench.hookspecs import hookimpl
from bench.work import dense_flops, linear_softmax_work, minimum_bytes, mlp_work, softmax_cross_entropy_flops

DISTRIBUTION = "bench-harness"
"""The distribution's name on PyPI (``pip install bench-harness``); the import package, the
``bench`` command and the entry-point group are ``bench``."""

if TYPE_CHECKING:
    from bench.api import run
    from bench.plugins import installed_registry
    from bench.results.model import Row, RunDocument, Status
    from bench.results.storage import load_run
    from bench.settings import RunConfig

try:
    __version__ = version(DISTRIBUTION)
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
    "MultiStepClassifier",
    "Param",
    "RecipeDefaults",
    "ResidentClassifier",
    "Row",
    "RunConfig",
    "RunDocument",
    "SetupConfig",
    "Status",
    "StepWork",
    "UsageError",
    "__version__",
    "dense_flops",
    "gpu_index",
    "hookimpl",
    "installed_registry",
    "linear_softmax_work",
    "load_run",
    "minimum_bytes",
    "mlp_work",
    "run",
    "softmax_cross_entropy_flops",
]
