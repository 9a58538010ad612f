"""What the two JAX classifiers share: importing JAX, devices, threads, memory, facts.

Nothing here imports JAX at module level; :func:`import_jax` does, once.
"""

from __future__ import annotations

import importlib.metadata
import os
from typing import Any

from bench import DeviceUnavailable, UsageError, gpu_index

CPU_THREADS_ENV = "PJRT_NPROC"
"""Read by XLA's CPU client when JAX creates it: the size of its intra-op (Eigen) thread pool.

Measured with jaxlib 0.10.2 on this machine (2 cores): ``PJRT_NPROC=1`` runs a jitted
1500x1500 product entirely on the calling thread, the default spreads it over the
``XLAEigen`` pool; ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` (the flag older
advice names) changed nothing, so it is not used."""

_CUDA_PLUGINS = ("jax-cuda13-plugin", "jax-cuda12-plugin")

_jax: Any = None


def import_jax() -> Any:
    """Import and return ``jax`` (once); if it is missing, say which extra installs it."""
    global _jax
    if _jax is None:
        try:
            import jax
        except ModuleNotFoundError as exc:
            if exc.name != "jax":
                raise
            raise ModuleNotFoundError(
                "JAX is not installed: pip install 'bench-harness[jax]'", name="jax"
            ) from None

        _jax = jax
    return _jax


# --- threads -----------------------------------------------------------------------------
#
# XLA's CPU client sizes its thread pool once, when JAX creates its backends (the first
# time any array, device or computation is needed). After that the count is fixed for the
# process, so it can be chosen only before; a row in a fresh process always can.

_UNSET = object()
_CPU_POOL: Any = _UNSET  # int, None (XLA's default: one thread per core) or _UNSET


def backends_initialised(jax: Any) -> bool:
    """Whether JAX has created its backends (and so sized its CPU thread pool)."""
    from jax._src import xla_bridge

    check = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(check()) if check is not None else bool(getattr(xla_bridge, "_backends", None))


def _pool_from_environment() -> int | None:
    text = os.environ.get(CPU_THREADS_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def apply_cpu_threads(jax: Any, threads: int | None, name: str) -> None:
    """Size XLA's CPU thread pool to ``threads`` (``None``: XLA's default), before JAX creates it.

    Raises UsageError when the pool already exists with another size.
    """
    global _CPU_POOL
    if _CPU_POOL is _UNSET:
        if backends_initialised(jax):  # created before any of our classifiers ran
            _CPU_POOL = _pool_from_environment()
        else:
            if threads is not None:
                os.environ[CPU_THREADS_ENV] = str(threads)
            _CPU_POOL = threads if threads is not None else _pool_from_environment()
            return
    if threads is None or threads == _CPU_POOL:
        return
    current = "XLA's default (one per core)" if _CPU_POOL is None else str(_CPU_POOL)
    raise UsageError(
        f"{name}: cannot use {threads} threads: JAX's CPU thread pool was already created with "
        f"{current} threads earlier in this process; run JAX rows with different thread counts "
        "in separate processes"
    )


# --- devices -----------------------------------------------------------------------------


def gpus(jax: Any) -> list[Any]:
    """The GPUs JAX can use (empty when it has no GPU backend)."""
    try:
        return list(jax.devices("gpu"))
    except RuntimeError:
        return []


def _cuda_plugin() -> str | None:
    """``"jax-cuda13-plugin 0.11.0"``, or None when no CUDA plugin is installed."""
    for dist in _CUDA_PLUGINS:
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _why_no_gpu() -> str:
    plugin = _cuda_plugin()
    if plugin is None:
        return "no CUDA plugin installed; pip install 'jax[cuda13]'"
    try:
        from jax._src import xla_bridge

        error = getattr(xla_bridge, "_backend_errors", {}).get("cuda")
    except ImportError:  # pragma: no cover - private module moved
        error = None
    if error:
        return f"{plugin} failed to start: {error}"
    return f"{plugin} installed, but it found no GPU"


def jax_device(jax: Any, device: str) -> Any:
    """The ``jax.Device`` for the harness's ``"cpu"`` / ``"gpu:N"``.

    Raises DeviceUnavailable for a GPU JAX cannot see, UsageError for another name.
    """
    index = gpu_index(device)
    if index is None:
        return jax.devices("cpu")[0]
    found = gpus(jax)
    if not found:
        raise DeviceUnavailable(f"{device}: no GPU visible to JAX ({_why_no_gpu()})")
    if index >= len(found):
        plural = "" if len(found) == 1 else "s"
        raise DeviceUnavailable(f"{device} not present; JAX sees {len(found)} GPU{plural}")
    return found[index]


def device_names() -> list[str]:
    """``["cpu", "gpu:0", ...]``: the CPU and every GPU JAX sees (creates JAX's backends)."""
    jax = import_jax()
    return ["cpu"] + [f"gpu:{i}" for i, _ in enumerate(gpus(jax))]


def peak_bytes(device: Any) -> int | None:
    """The allocator's peak bytes in use on ``device`` since the process started, or None.

    JAX's CPU client keeps no statistics (``memory_stats()`` is None); its GPU client
    reports ``peak_bytes_in_use``, which cannot be reset: with one row per process it is
    the row's peak.
    """
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - statistics are best effort
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return int(stats["peak_bytes_in_use"])


# --- facts -------------------------------------------------------------------------------


def format_cuda_version(value: int | None) -> str:
    """CUDA's integer versions as text: ``12080`` -> ``"12.8"``."""
    if not value:
        return "none"
    return f"{value // 1000}.{(value % 1000) // 10}"


def _cuda_versions() -> dict[str, str]:
    try:
        from jax._src.lib import cuda_versions
    except ImportError:  # pragma: no cover - private module moved
        cuda_versions = None
    if cuda_versions is None:
        return {"jax_cuda": "none", "jax_cudnn": "none", "jax_cuda_driver": "none"}

    def read(name: str) -> int | None:
        try:
            return int(getattr(cuda_versions, name)())
        except Exception:  # noqa: BLE001 - no GPU, no driver: best effort
            return None

    return {
        "jax_cuda": format_cuda_version(read("cuda_runtime_get_version")),
        "jax_cudnn": str(read("cudnn_get_version") or "none"),  # an integer, as torch reports it
        "jax_cuda_driver": format_cuda_version(read("cuda_driver_get_version")),
    }


def environment() -> dict[str, str]:
    """Versions of JAX, jaxlib and its CUDA plugin, CUDA and cuDNN, the GPUs JAX sees, its
    CPU threads and the precision it asks of float32 matrix products."""
    jax = import_jax()
    import jaxlib

    found = gpus(jax)
    info = {
        "jax": jax.__version__,
        "jaxlib": getattr(jaxlib, "__version__", None) or importlib.metadata.version("jaxlib"),
        "jax_cuda_plugin": _cuda_plugin() or "none",
        "jax_default_backend": jax.default_backend(),
        "jax_cpu_threads": "default" if _CPU_POOL in (None, _UNSET) else str(_CPU_POOL),
        # None: XLA's default per backend (on recent NVIDIA GPUs, TF32-class passes for float32 dots)
        "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
    }
    info.update(_cuda_versions())
    info["jax_gpus"] = ", ".join(f"gpu:{i} {d.device_kind}" for i, d in enumerate(found)) or "none"
    return info
