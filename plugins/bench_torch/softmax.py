"""``torch-eager`` and ``torch-compile``: the reference softmax classifier in PyTorch.

Both train ``logits = x @ W + b`` with ``F.cross_entropy`` (mean sparse softmax
cross-entropy) and plain gradient descent ``p -= learning_rate * grad``, from zero
parameters, with PyTorch's autograd formulas for the gradient.

- ``torch-eager``: the usual autograd step: forward, ``loss.backward()``, an in-place
  update under ``torch.no_grad()``.
- ``torch-compile``: the same step as **one** ``torch.compile(fullgraph=True)`` graph. To be
  one graph, the gradient comes from ``torch.func.grad_and_value`` instead of
  ``loss.backward()``: compiling the eager step as written breaks the graph at
  ``backward()`` (a forward graph, the compiled backward, and an update graph, each
  called through Dynamo's guards and AOTAutograd's wrappers), which measured slower than
  eager itself (README, "JAX and PyTorch"). Compilation happens in the first step.

The weights are held as ``(classes, features)`` = ``(10, 3072)``, the layout of
``torch.nn.Linear.weight`` (``--param layout=cd``, the default), and handed to the
harness as ``(3072, 10)``; autograd then computes the weight gradient as
``dlogits.T @ x``, which MKL does in about half the time of the ``x.T @ dlogits`` that the
reference layout ``(3072, 10)`` (``--param layout=dc``) needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import SetupConfig
from bench.linear_softmax import PREDICT_CHUNK, check_layout, linear_logits, weight_shape
from bench_torch._runtime import (
    apply_threads,
    import_torch,
    peak_bytes,
    reset_peak,
    synchronize,
    torch_device,
)

torch = import_torch()
F = torch.nn.functional


def make_autograd_step(weights: Any, biases: Any, layout: str, learning_rate: float) -> Any:
    """``step(images, labels) -> loss``: forward, ``backward()``, update in place."""

    def step(images: Any, labels: Any) -> Any:
        loss = F.cross_entropy(linear_logits(weights, biases, images, layout), labels)
        loss.backward()
        with torch.no_grad():
            for param in (weights, biases):
                param.grad.mul_(learning_rate)  # p -= lr * grad, rounded as numpy rounds it
                param.sub_(param.grad)
                param.grad = None
        return loss.detach()

    return step


def make_functional_step(weights: Any, biases: Any, layout: str, learning_rate: float) -> Any:
    """The same update with ``torch.func.grad_and_value``: one graph for ``torch.compile``."""

    def loss_fn(weights: Any, biases: Any, images: Any, labels: Any) -> Any:
        return F.cross_entropy(linear_logits(weights, biases, images, layout), labels)

    loss_and_grads = torch.func.grad_and_value(loss_fn, argnums=(0, 1))

    def step(images: Any, labels: Any) -> Any:
        grads, loss = loss_and_grads(weights, biases, images, labels)
        for param, grad in zip((weights, biases), grads, strict=True):
            param.sub_(grad * learning_rate)
        return loss

    return step


def _fail_instead_of_falling_back_to_eager() -> None:
    """Make Dynamo raise when a function has been recompiled too often (8 times: new shapes,
    learning rates, layouts in one process) instead of silently running it eagerly, which
    would measure eager mode under the name torch-compile."""
    config = torch._dynamo.config
    for flag in ("fail_on_recompile_limit_hit", "fail_on_cache_limit_hit"):  # newer, older name
        if hasattr(config, flag):
            setattr(config, flag, True)
            return


class _TorchSoftmax:
    """What torch-eager and torch-compile share; ``compiled`` chooses between them."""

    name = ""
    compiled = False

    def __init__(self) -> None:
        self._weights: Any = None
        self._biases: Any = None
        self._device: Any = None
        self._data: Any = None
        self._previous_threads: int | None = None

    # -- protocol ---------------------------------------------------------------------

    def setup(self, config: SetupConfig) -> None:
        self.close()
        layout = check_layout(config.params, self.name)
        device = torch_device(torch, config.device)
        self._previous_threads = apply_threads(torch, config.threads)
        torch.manual_seed(config.seed)
        shape = weight_shape(config, layout)
        trainable = not self.compiled  # the functional step differentiates without the tape
        self._weights = torch.zeros(shape, dtype=torch.float32, device=device, requires_grad=trainable)
        self._biases = torch.zeros(config.num_classes, dtype=torch.float32, device=device, requires_grad=trainable)
        self._device, self._layout = device, layout
        make = make_functional_step if self.compiled else make_autograd_step
        step = make(self._weights, self._biases, layout, config.learning_rate)
        # Compiled lazily, in the first step. One graph serves both placements: resident
        # steps gather their rows on the device first (an index_select, which the graph
        # would have to materialise for the product anyway), so both compute bit-identical
        # updates and losses, and the step compiles once.
        if self.compiled:
            _fail_instead_of_falling_back_to_eager()
            step = torch.compile(step, fullgraph=True, dynamic=False)
        self._step = step
        reset_peak(torch, device)

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        # torch.from_numpy shares the batch's memory; on a GPU .to() copies it there as
        # part of the step. Nothing keeps the tensors once the step returns.
        x = torch.from_numpy(images).to(self._device)
        y = torch.from_numpy(labels).to(self._device)
        loss = self._step(x, y)
        synchronize(torch, self._device)  # the update too, not only the loss
        return float(loss)

    def place_dataset(self, images: np.ndarray, labels: np.ndarray) -> None:
        """``--placement resident``: the training set as tensors on the device (on the CPU
        they share the dataset's memory, as the numpy reference does)."""
        self._data = (
            torch.as_tensor(images, device=self._device),
            torch.as_tensor(labels.astype(np.int64, copy=False), device=self._device),
        )
        synchronize(torch, self._device)

    def train_step_indices(self, indices: np.ndarray) -> float:
        rows = torch.from_numpy(np.asarray(indices, dtype=np.int64)).to(self._device)
        images, labels = self._data
        loss = self._step(images[rows], labels[rows])
        synchronize(torch, self._device)
        return float(loss)

    def predict(self, images: np.ndarray) -> np.ndarray:
        chunks = []
        with torch.no_grad():
            for start in range(0, len(images), PREDICT_CHUNK):
                chunk = torch.from_numpy(images[start : start + PREDICT_CHUNK]).to(self._device)
                out = linear_logits(self._weights, self._biases, chunk, self._layout)
                chunks.append(out.argmax(dim=1).cpu().numpy().astype(np.int64))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def parameters(self) -> dict[str, np.ndarray]:
        weights = self._weights.detach().cpu().numpy()
        if self._layout == "cd":
            weights = weights.T
        return {
            "weights": np.array(weights, dtype=np.float32, order="C", copy=True),
            "biases": np.array(self._biases.detach().cpu().numpy(), dtype=np.float32, copy=True),
        }

    def close(self) -> None:
        self._weights = self._biases = self._data = None
        self._step = None
        previous, self._previous_threads = self._previous_threads, None
        if previous is not None:
            torch.set_num_threads(previous)

    # -- optional ---------------------------------------------------------------------

    def peak_device_memory_bytes(self) -> int | None:
        """``torch.cuda.max_memory_allocated`` since setup on a GPU; None on the CPU."""
        return peak_bytes(torch, self._device)


class TorchEagerSoftmax(_TorchSoftmax):
    """The autograd step, every op eager."""

    name = "torch-eager"
    compiled = False


class TorchCompileSoftmax(_TorchSoftmax):
    """The step as one ``torch.compile`` graph (functional gradient, in-place update)."""

    name = "torch-compile"
    compiled = True

    def __init__(self) -> None:
        super().__init__()
        # The compiler's own modules (about 3 s to import here) load with the classifier,
        # timed as its load, so that setup builds the model and the first step compiles.
        import torch._dynamo
        import torch._inductor.compile_fx  # noqa: F401 - imported for its side effect
