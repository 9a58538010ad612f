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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class SetupConfig:
    """Everything a classifier needs to build itself."""

    learning_rate: float
    batch_size: int
    input_dim: int
    num_classes: int
    device: str = "cpu"
    """``"cpu"`` or ``"gpu:N"``; raise :class:`bench.errors.DeviceUnavailable` if absent."""
    seed: int = 0
    threads: int | None = None
    """Threads the framework may use for its ops; ``None`` leaves its default."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Extra ``--param key=value`` settings, for models that take more than the above."""


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
    defaults: Mapping[str, object] = field(default_factory=dict)
    """Run settings this model is meant to use when the user gives none: any of
    ``steps``, ``batch_size``, ``learning_rate`` and ``params`` (a dict for ``--param``)."""
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
    plugin: str = ""
    """Entry-point name of the plugin that registered it (filled in by the manager)."""
    distribution: str = ""
    version: str = ""
