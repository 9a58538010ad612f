"""bench: a plugin-based benchmarking harness for image classifiers on CIFAR-10."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
