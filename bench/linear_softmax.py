"""Framework-free pieces of the linear softmax classifier, shared by the JAX and PyTorch plugins.

``bench_jax`` and ``bench_torch`` train the same model (``logits = x @ W + b``, mean
sparse softmax cross-entropy, plain SGD) with the weights in either of two layouts; what
does not depend on the framework is here, once: the ``layout`` ``--param`` and its check,
the weights' shape, the logits (written with ``@``, ``.T`` and ``+``, so the same
expression serves JAX and PyTorch arrays) and the predict chunk size. Nothing here imports
a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.classifier import Param, SetupConfig
from bench.errors import UsageError

LAYOUTS = ("cd", "dc")
"""``cd``: weights held as (classes, features), the default; ``dc``: (features, classes)."""

LAYOUT_PARAM = Param(
    "layout", str, "cd", "weights held as (classes, features) or (features, classes)", choices=LAYOUTS
)
"""The ``--param layout=cd|dc`` that the JAX and PyTorch specs declare."""

PREDICT_CHUNK = 5000
"""Rows per ``predict`` call: bounds device memory (5000 x 3072 float32 = 61 MB) and splits
CIFAR-10's 10,000 test images evenly, so a compiled predict sees one shape."""


def check_layout(params: Mapping[str, str], name: str) -> str:
    """The weight layout from ``--param layout=...`` (default ``cd``); any other key, or
    another value, is a :class:`bench.UsageError` naming the classifier ``name``."""
    unknown = sorted(set(params) - {"layout"})
    if unknown:
        raise UsageError(f"{name}: unknown --param {', '.join(unknown)}; valid: layout ({', '.join(LAYOUTS)})")
    layout = params.get("layout", "cd")
    if layout not in LAYOUTS:
        raise UsageError(f"{name}: --param layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    return layout


def weight_shape(config: SetupConfig, layout: str) -> tuple[int, int]:
    """The weights' shape as held: ``(num_classes, input_dim)`` for ``cd``, else the transpose."""
    return (config.num_classes, config.input_dim) if layout == "cd" else (config.input_dim, config.num_classes)


def linear_logits(weights: Any, biases: Any, images: Any, layout: str) -> Any:
    """``images @ W + b`` with ``W`` held in ``layout`` (``cd``: ``images @ weights.T``)."""
    return (images @ weights.T if layout == "cd" else images @ weights) + biases
