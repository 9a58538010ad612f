"""The bounds of the within-run check: allowed step-time ratios and harness floors, read from JSON.

bench ships its own (``bench/regression/bounds.json``, package data), used when no file is named.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bench.errors import UsageError

REFERENCE = "numpy"


@dataclass(frozen=True)
class RatioBound:
    """Allowed range of (a classifier's step time) / (the reference's), measured interleaved."""

    max: float
    min: float = 0.0
    threads: int | None = None
    """The threads the classifier is set up with for the check; ``None``: the file's
    ``threads`` (:attr:`Bounds.threads`)."""


@dataclass(frozen=True)
class Bounds:
    """What the within-run check allows; see ``bench/regression/bounds.json``."""

    reference: str = REFERENCE
    threads: int | None = None
    """The threads every classifier is set up with for the check, unless its bound names its
    own (``None``: each framework's default). bench's file says 1, as the numpy reference
    runs: a framework's thread pool spinning against other jobs on a busy machine makes
    the ratio the machine's load, not the code's (see bounds.json)."""
    step_time_ratio: Mapping[str, RatioBound] = field(default_factory=dict)
    """Classifier name -> allowed step-time ratio over the reference."""
    default_step_time_ratio: RatioBound | None = None
    """For classifiers not listed (a third-party plugin); ``None``: they are not checked."""
    harness_min_ratio: Mapping[str, float] = field(default_factory=dict)
    """Classifier name -> lowest allowed (harness steps/s) / (bare loop with the same gather)."""
    harness_pregathered_min_ratio: Mapping[str, float] = field(default_factory=dict)
    """Classifier name -> lowest allowed (harness steps/s) / (bare loop on pre-gathered batches)."""

    def ratio_bound(self, name: str) -> RatioBound | None:
        return self.step_time_ratio.get(name, self.default_step_time_ratio)

    def threads_for(self, name: str) -> int | None:
        """The threads ``name`` is set up with for the check: its bound's, else the file's."""
        bound = self.ratio_bound(name)
        return bound.threads if bound is not None and bound.threads is not None else self.threads


def default_bounds_path() -> Path:
    """The bounds bench ships for its built-in classifiers (package data)."""
    return Path(str(resources.files("bench.regression").joinpath("bounds.json")))


def load_bounds(path: str | Path | None = None) -> Bounds:
    """Read a bounds file (JSON); ``None``: the shipped one. Keys starting with ``_`` are comments.

    ::

        {"reference": "numpy", "threads": 1,
         "step_time_ratio": {"tf-graph": {"max": 8.0, "min": 0.4}, "torch-eager": {"max": 4, "threads": 2},
                             "*": {"max": 40.0}},
         "harness_min_ratio": {"numpy": 0.6}}
    """
    path = default_bounds_path() if path is None else Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read bounds file {path}: {exc}") from None
    return bounds_from_dict(data, str(path))


def bounds_from_dict(data: Mapping[str, Any], where: str = "bounds") -> Bounds:
    if not isinstance(data, Mapping):
        raise UsageError(f"{where}: top level is not an object")
    ratios: dict[str, RatioBound] = {}
    default = None
    for name, spec in _entries(data.get("step_time_ratio", {})):
        bound = _ratio_bound(spec, f"{where}: step_time_ratio.{name}")
        if name == "*":
            default = bound
        else:
            ratios[name] = bound
    floors: dict[str, dict[str, float]] = {}
    for section in ("harness_min_ratio", "harness_pregathered_min_ratio"):
        floors[section] = {}
        for name, value in _entries(data.get(section, {})):
            if isinstance(value, Mapping):
                value = value.get("min")
            floors[section][name] = _positive(value, f"{where}: {section}.{name}")
    return Bounds(
        reference=str(data.get("reference", REFERENCE)),
        threads=_threads(data.get("threads"), f"{where}: threads"),
        step_time_ratio=ratios,
        default_step_time_ratio=default,
        harness_min_ratio=floors["harness_min_ratio"],
        harness_pregathered_min_ratio=floors["harness_pregathered_min_ratio"],
    )


def _entries(section: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(section, Mapping):
        raise UsageError("bounds: a section is not an object")
    for name, value in section.items():
        if not str(name).startswith("_"):
            yield str(name), value


def _ratio_bound(spec: Any, where: str) -> RatioBound:
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return RatioBound(max=_positive(spec, where))
    if not isinstance(spec, Mapping) or "max" not in spec:
        raise UsageError(f"{where}: expected a number or an object with max (and min)")
    low, threads = spec.get("min", 0.0), _threads(spec.get("threads"), f"{where}.threads")
    bound = RatioBound(max=_positive(spec["max"], where), min=0.0 if low in (None, 0) else _positive(low, where),
                       threads=threads)
    if bound.min >= bound.max:
        raise UsageError(f"{where}: min {bound.min} is not below max {bound.max}")
    return bound


def _threads(value: Any, where: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UsageError(f"{where}: threads must be a positive integer, not {value!r}")
    return value


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise UsageError(f"{where}: expected a positive number, not {value!r}")
    return float(value)
