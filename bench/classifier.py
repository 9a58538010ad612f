"""The classifier interface: what a plugin provides and what the runner drives.

The runner calls, in order::

    clf = spec.factory()          # import the framework, build nothing yet
    clf.setup(config)             # build the model for these hyperparameters and device
    loss = clf.train_step(x, y)   # once per scheduled batch; returns the batch's mean loss
    predictions = clf.predict(x)  # class index per image, for evaluation
    params = clf.parameters()     # numpy copies, to compare implementations
    clf.close()                   # release sessions, graphs, device memory

``x`` is a float32 array of shape ``(batch, input_dim)``, C-contiguous; ``y`` an int64
array of shape ``(batch,)``. The harness turns each step's return value into a Python
float inside the timed region, so asynchronous work is finished before the clock is read.
A classifier must not keep references to ``x`` or ``y``.

Optional methods, used when present:

- ``peak_device_memory_bytes() -> int | None``: the peak memory the framework allocated on
  the row's device (``None`` when it cannot tell); called after evaluation.
- ``compiled_step_work() -> StepWork | None``: the compiler's own count of a step's work
  (XLA's cost analysis, for example); called after training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bench.errors import UsageError


@dataclass(frozen=True)
class SetupConfig:
    """Everything a classifier needs to build itself."""

    learning_rate: float
    batch_size: int
    input_dim: int
    num_classes: int
    device: str = "cpu"
    """``"cpu"`` or ``"gpu:N"`` (:func:`gpu_index` gives ``None`` or ``N``); raise
    :class:`bench.errors.DeviceUnavailable` if absent."""
    seed: int = 0
    threads: int | None = None
    """Threads the framework may use for its ops; ``None`` leaves its default."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Extra ``--param key=value`` settings, for models that take more than the above."""


def gpu_index(device: str) -> int | None:
    """The GPU's index in a harness device name: ``"gpu:N"`` -> ``N``, ``"cpu"`` -> ``None``.

    ``device`` is :attr:`SetupConfig.device`. Any other text raises :class:`bench.UsageError`
    (``unknown device 'tpu'; expected 'cpu' or 'gpu:N'``). Whether that GPU exists is the
    plugin's to check (raise :class:`bench.DeviceUnavailable` if not).
    """
    if device == "cpu":
        return None
    match = re.fullmatch(r"gpu:(\d+)", device)
    if match is None:
        raise UsageError(f"unknown device {device!r}; expected 'cpu' or 'gpu:N'")
    return int(match.group(1))


@runtime_checkable
class Classifier(Protocol):
    """A trainable image classifier, driven step by step by the runner."""

    def setup(self, config: SetupConfig) -> None:
        """Build the model (initial parameters, optimiser) on ``config.device``."""

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Apply one update on this batch; return the batch's mean training loss."""

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Return the predicted class index (int) of each image."""

    def parameters(self) -> dict[str, np.ndarray]:
        """Return the model's parameters as numpy arrays (copies), by name."""

    def close(self) -> None:
        """Release whatever ``setup`` acquired. Safe to call more than once."""


@runtime_checkable
class ResidentClassifier(Classifier, Protocol):
    """A classifier that can keep the training set on its device (``--placement resident``).

    ``place_dataset`` is called once after ``setup`` (timed on its own); each step then
    passes only the batch's row indices into that copy, and the gather happens on the
    device, inside the timed step.
    """

    def place_dataset(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Copy the whole training set to the classifier's device."""

    def train_step_indices(self, indices: np.ndarray) -> float:
        """One update on the rows ``indices`` (int64) of the placed set; return the loss."""


@runtime_checkable
class MultiStepClassifier(ResidentClassifier, Protocol):
    """A resident classifier that can run many steps in one call (``--steps-per-call K``).

    It must train on exactly the batches given, in order, with the same arithmetic as K
    single steps; the runner times each call and credits every step in it with an equal
    share. Raise :class:`bench.errors.DeviceUnavailable` if this instance cannot do it.
    """

    def train_steps_indices(self, indices: np.ndarray) -> np.ndarray:
        """One update per row of ``indices`` (shape ``(k, batch)``); return the k losses."""


@dataclass(frozen=True)
class Param:
    """A ``--param`` setting a classifier takes: its name, type, default and valid range.

    The harness checks every ``--param`` against the selected classifiers' declarations
    before any row runs; ``SetupConfig.params`` then holds the checked values as text.
    """

    name: str
    kind: type = str
    """``str``, ``int`` or ``float``."""
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, text: str, owner: str) -> str:
        """``text`` checked against the declaration (normalised); a UsageError otherwise."""
        if self.choices is not None and text not in self.choices:
            raise UsageError(f"{owner}: --param {self.name} must be one of {', '.join(self.choices)}, not {text!r}")
        if self.kind in (int, float):
            try:
                value = self.kind(text)
            except ValueError:
                value = None
            if value is None or (self.kind is float and not math.isfinite(value)):
                raise UsageError(f"{owner}: --param {self.name} must be {self.describe()}, not {text!r}")
            if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
                raise UsageError(f"{owner}: --param {self.name} must be {self.describe()}, not {text!r}")
            return str(value)
        return text

    def describe(self) -> str:
        """``an integer >= 1``, ``one of float32, float64``, ..."""
        if self.choices is not None:
            return f"one of {', '.join(self.choices)}"
        kind = {int: "an integer", float: "a number"}.get(self.kind, "text")
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return " ".join([kind, *bounds])


@dataclass(frozen=True)
class RecipeDefaults:
    """Run settings a model is meant to use when the user gives none (a larger batch, more
    steps); ``None`` keeps the run's own. Param defaults belong in :class:`Param`."""

    steps: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None


@dataclass(frozen=True)
class StepWork:
    """The work one training step must do: floating-point operations and bytes moved."""

    flops: float
    bytes: float
    """Minimum bytes a step reads and writes: the batch in, the parameters read and written,
    the gradients."""


@dataclass(frozen=True)
class ClassifierSpec:
    """A named classifier that a plugin registers."""

    name: str
    description: str
    factory: Callable[[], Classifier]
    defaults: RecipeDefaults = field(default_factory=RecipeDefaults)
    """Run settings this model is meant to use when the user gives none."""
    params: tuple[Param, ...] = ()
    """The ``--param`` settings it takes; any other is refused before a row runs."""
    devices: Callable[[], list[str]] | None = None
    """Devices it can run on now (``"cpu"``, ``"gpu:0"``, ...), for ``--devices all``;
    ``None`` means the CPU only."""
    environment: Callable[[], Mapping[str, str]] | None = None
    """Framework facts worth recording with a row that ran (versions, CUDA, the GPU);
    called in the row's own process after it ran, so it may import the framework."""
    work: Callable[[SetupConfig], StepWork] | None = None
    """The FLOPs and minimum bytes of one training step for these settings (for the
    roofline); ``None`` when the model does not state it."""
    supports_resident: bool = False
    """Implements ``place_dataset`` and ``train_step_indices`` (``--placement resident``)."""
    supports_steps_per_call: bool = False
    """Implements ``train_steps_indices`` (``--steps-per-call K``)."""

    def param_defaults(self) -> dict[str, str]:
        """The declared params' defaults, as text."""
        return {p.name: str(p.default) for p in self.params if p.default is not None}
