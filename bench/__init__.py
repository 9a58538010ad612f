"""bench: a plugin-based benchmarking harness for image classifiers on CIFAR-10.

What a plugin needs is importable from here::

    from bench import ClassifierSpec, DeviceUnavailable, SetupConfig, hookimpl
"""

from importlib.metadata import PackageNotFoundError, version

from bench.classifier import Classifier, ClassifierSpec, Param, RecipeDefaults, SetupConfig, StepWork
from bench.errors import DeviceUnavailable, UsageError
from bench.hookspecs import hookimpl

try:
    __version__ = version("bench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Classifier",
    "ClassifierSpec",
    "DeviceUnavailable",
    "Param",
    "RecipeDefaults",
    "SetupConfig",
    "StepWork",
    "UsageError",
    "__version__",
    "hookimpl",
]
