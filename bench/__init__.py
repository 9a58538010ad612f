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
"""

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("bench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Classifier",
    "ClassifierSpec",
    "DeviceUnavailable",
    "MultiStepClassifier",
    "Param",
    "RecipeDefaults",
    "ResidentClassifier",
    "SetupConfig",
    "StepWork",
    "UsageError",
    "__version__",
    "dense_flops",
    "gpu_index",
    "hookimpl",
    "linear_softmax_work",
    "minimum_bytes",
    "mlp_work",
    "softmax_cross_entropy_flops",
]
