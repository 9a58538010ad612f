"""Deprecated: the formulas of a step's work moved to :mod:`bench.work`.

Import them from :mod:`bench` (``from bench import linear_softmax_work, mlp_work``). Every
name that was here still resolves, with a :class:`DeprecationWarning` naming the new
import; this module goes away in a later release.
"""

from __future__ import annotations

import warnings
from typing import Any

import bench.work as _work

_MOVED = (
    "FLOAT_BYTES",
    "LABEL_BYTES",
    "dense_flops",
    "linear_softmax_work",
    "minimum_bytes",
    "mlp_work",
    "softmax_cross_entropy_flops",
)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        where = "bench" if name in _work.__all__ else "bench.work"
        warnings.warn(
            f"bench.roofline.work.{name} is deprecated; use 'from {where} import {name}'",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_work, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_MOVED])
