"""Facts about the machine a run happened on, recorded with every result."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import bench


def cpu_model() -> str:
    """The CPU's marketing name, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The commit of the bench source tree: the checkout it runs from, else the one it was
    installed from (``pip install .`` or ``pip install git+URL@REF`` record where, PEP 610)."""
    commit = _checkout_commit(Path(bench.__file__).resolve().parent.parent)
    return commit if commit is not None else _installed_from_commit()


def _installed_from_commit() -> str | None:
    """The commit an installed (not editable) bench came from, where the install recorded it."""
    import importlib.metadata
    import json
    from urllib.parse import unquote, urlparse

    try:
        text = importlib.metadata.distribution(bench.DISTRIBUTION).read_text("direct_url.json")
        origin = json.loads(text) if text else None
    except (importlib.metadata.PackageNotFoundError, ValueError, OSError):
        return None
    if not isinstance(origin, dict):
        return None
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("commit_id"), str):
        return vcs["commit_id"]
    url = urlparse(str(origin.get("url", "")))
    if url.scheme == "file" and isinstance(origin.get("dir_info"), dict):
        return _checkout_commit(Path(unquote(url.path)))
    return None


def _checkout_commit(source: Path) -> str | None:
    """``git rev-parse HEAD`` in ``source``, when it is a git checkout."""
    if not (source / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def nvidia_gpus() -> list[dict[str, str]]:
    """GPUs that nvidia-smi reports (name, driver, memory); empty when there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return gpus


CPU_FLAGS_OF_INTEREST = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2",
)
"""The SIMD features that decide which kernels BLAS and the frameworks run."""
ENV_PREFIXES = ("OMP_", "OPENBLAS_", "MKL_", "BLIS_", "GOTO_", "TF_", "XLA_", "JAX_", "CUDA_", "TORCH_", "KMP_")
"""Environment variables that change numerics or threads."""
ENV_NOT_NUMERIC = ("TF_CLI_", "TF_VAR_", "TF_LOG", "TF_WORKSPACE", "TF_PLUGIN_", "TF_IN_AUTOMATION", "TF_INPUT")
"""Terraform's variables share TensorFlow's prefix."""


def cpu_flags() -> list[str]:
    """The CPU's SIMD feature flags that matter for numerics and speed (from /proc/cpuinfo)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("flags", "features")):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in CPU_FLAGS_OF_INTEREST if flag in present]
    except OSError:
        pass
    return []


def numeric_environment() -> dict[str, str]:
    """The environment variables set here that change numerics or thread counts."""
    return {
        key: value
        for key, value in sorted(os.environ.items())
        if key.startswith(ENV_PREFIXES) and not key.startswith(ENV_NOT_NUMERIC)
    }


def blas_info() -> list[dict[str, object]]:
    """Each BLAS/OpenMP library numpy loaded: library, version, kernel architecture, threads (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a dependency
        return []
    keys = ("user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads")
    return [{key: info[key] for key in keys if key in info} for info in threadpool_info()]


def machine_info(frameworks: dict[str, str] | None = None) -> dict[str, object]:
    """Everything needed to tell where a result came from."""
    import psutil

    return {
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "blas": blas_info(),
        "environment": numeric_environment(),
        "bench": bench.__version__,
        "git_commit": git_commit(),
        "gpus": nvidia_gpus(),
        "frameworks": dict(frameworks or {}),
    }
