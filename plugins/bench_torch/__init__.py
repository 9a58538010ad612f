"""Built-in plugin ``torch``: the softmax classifier in PyTorch, eager and compiled.

``torch-eager`` (the autograd step) and ``torch-compile`` (the same step as one
``torch.compile`` graph). Both train exactly the reference model: zero-initialised
3072x10 weights and 10 biases, mean sparse softmax cross-entropy, plain gradient descent
(see :mod:`bench_torch.softmax`).

Install with ``pip install "bench-harness[torch]"``. PyTorch is imported only when one of these
classifiers is created, its devices are listed or its environment is reported, never when
plugins are listed.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import Classifier, ClassifierSpec, hookimpl, linear_softmax_work
from bench.linear_softmax import LAYOUT_PARAM


def make_torch_eager() -> Classifier:
    from bench_torch.softmax import TorchEagerSoftmax

    return TorchEagerSoftmax()


def make_torch_compile() -> Classifier:
    from bench_torch.softmax import TorchCompileSoftmax

    return TorchCompileSoftmax()


def torch_devices() -> list[str]:
    """The CPU and every GPU PyTorch sees, as ``cpu`` / ``gpu:N``."""
    from bench_torch._runtime import device_names

    return device_names()


def torch_environment() -> dict[str, str]:
    """torch, CUDA and cuDNN versions, threads, and the GPUs PyTorch sees."""
    from bench_torch._runtime import environment

    return environment()


_SOFTMAX = "Softmax classifier in PyTorch"
_CLASSIFIERS: tuple[tuple[str, str, Callable[[], Classifier]], ...] = (
    ("torch-eager", f"{_SOFTMAX}: autograd step (backward(), in-place update), every op eager", make_torch_eager),
    ("torch-compile", f"{_SOFTMAX}: the step as one torch.compile graph (compiled in the first step)", make_torch_compile),
)
NAMES = frozenset(name for name, *_ in _CLASSIFIERS)


@hookimpl
def bench_register_classifiers(register: Callable[[ClassifierSpec], None]) -> None:
    for name, description, factory in _CLASSIFIERS:
        # No --steps-per-call: PyTorch has no compiled loop to run many steps in one call
        # (torch.compile would unroll a Python loop, one compilation per count).
        register(
            ClassifierSpec(
                name,
                description,
                factory,
                devices=torch_devices,
                environment=torch_environment,
                work=linear_softmax_work,
                params=(LAYOUT_PARAM,),
                supports_resident=True,
                supports_steps_per_call=False,
            )
        )
