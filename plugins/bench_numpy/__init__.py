"""Built-in plugin ``numpy``: the softmax classifier in plain numpy, the reference."""

from __future__ import annotations

from collections.abc import Callable

from bench import ClassifierSpec, Param, hookimpl, linear_softmax_work


@hookimpl
def bench_register_classifiers(register: Callable[[ClassifierSpec], None]) -> None:
    from bench_numpy.softmax import NumpySoftmax

    register(
        ClassifierSpec(
            name="numpy",
            description="Linear softmax classifier in plain numpy (float32), analytic gradient, SGD",
            factory=NumpySoftmax,
            params=(Param("dtype", str, "float32", "the arithmetic's precision", choices=("float32", "float64")),),
            environment=numpy_environment,
            supports_resident=True,
            supports_steps_per_call=True,
            work=linear_softmax_work,
        )
    )


def numpy_environment() -> dict[str, str]:
    """numpy's version and its BLAS: library, version and threads (float32 products are
    float32 on the CPU)."""
    import numpy as np

    info = {"numpy": np.__version__}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a dependency of bench
        return info
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            info["numpy_blas"] = f"{pool.get('internal_api')} {pool.get('version')}"
            info["numpy_blas_threads"] = str(pool.get("num_threads"))
            break
    return info
