"""Built-in plugin ``jax``: the softmax classifier in JAX, compiled and op by op.

``jax-jit`` (the step under ``jax.jit``, parameters donated; ``lax.scan`` for many steps per
call) and ``jax-eager`` (the same step without ``jit``). Both train exactly the reference
model: zero-initialised 3072x10 weights and 10 biases, mean sparse softmax cross-entropy,
plain gradient descent (see :mod:`bench_jax.softmax`).

Install with ``pip install "bench-harness[jax]"`` (CPU) or add JAX's CUDA plugin for GPUs. JAX is
imported only when one of these classifiers is created, its devices are listed or its
environment is reported, never when plugins are listed.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import Classifier, ClassifierSpec, hookimpl, linear_softmax_work
from bench.linear_softmax import LAYOUT_PARAM


def make_jax_jit() -> Classifier:
    from bench_jax.softmax import JaxJitSoftmax

    return JaxJitSoftmax()


def make_jax_eager() -> Classifier:
    from bench_jax.softmax import JaxEagerSoftmax

    return JaxEagerSoftmax()


def jax_devices() -> list[str]:
    """The CPU and every GPU JAX sees, as ``cpu`` / ``gpu:N``."""
    from bench_jax._runtime import device_names

    return device_names()


def jax_environment() -> dict[str, str]:
    """JAX, jaxlib, CUDA plugin, CUDA and cuDNN versions and the GPUs JAX sees."""
    from bench_jax._runtime import environment

    return environment()


_SOFTMAX = "Softmax classifier in JAX"
# name, description, factory, whether it runs many steps per call
_CLASSIFIERS: tuple[tuple[str, str, Callable[[], Classifier], bool], ...] = (
    ("jax-jit", f"{_SOFTMAX}: the step under jax.jit, parameters donated; lax.scan for many steps", make_jax_jit, True),
    ("jax-eager", f"{_SOFTMAX}: the same step without jit, every op dispatched on its own", make_jax_eager, False),
)
NAMES = frozenset(name for name, *_ in _CLASSIFIERS)


@hookimpl
def bench_register_classifiers(register: Callable[[ClassifierSpec], None]) -> None:
    for name, description, factory, many_steps in _CLASSIFIERS:
        register(
            ClassifierSpec(
                name,
                description,
                factory,
                devices=jax_devices,
                environment=jax_environment,
                work=linear_softmax_work,
                params=(LAYOUT_PARAM,),
                supports_resident=True,
                supports_steps_per_call=many_steps,
            )
        )
