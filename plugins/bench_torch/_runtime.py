"""What the two PyTorch classifiers share: importing torch, devices, threads, memory, facts.

Nothing here imports torch at module level; :func:`import_torch` does, once.
"""

from __future__ import annotations

from typing import Any

from bench import DeviceUnavailable, gpu_index

_torch: Any = None


def import_torch() -> Any:
    """Import and return ``torch`` (once); if it is missing, say which extra installs it."""
    global _torch
    if _torch is None:
        try:
            import torch
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            raise ModuleNotFoundError(
                "PyTorch is not installed: pip install 'bench-harness[torch]'", name="torch"
            ) from None
        # bench's datasets are mapped read-only; the plugin only reads the tensors it makes
        # of them (torch.from_numpy), so torch's warning about non-writable arrays is noise.
        import warnings

        warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)

        _torch = torch
    return _torch


def torch_device(torch: Any, device: str) -> Any:
    """The ``torch.device`` for the harness's ``"cpu"`` / ``"gpu:N"``.

    Raises DeviceUnavailable for a GPU this PyTorch cannot use, UsageError for another name.
    """
    index = gpu_index(device)
    if index is None:
        return torch.device("cpu")
    if not torch.backends.cuda.is_built():
        raise DeviceUnavailable(f"{device}: this PyTorch build has no CUDA (torch {torch.__version__})")
    count = torch.cuda.device_count()
    if count == 0:
        raise DeviceUnavailable(f"{device}: no GPU visible to PyTorch (CUDA {torch.version.cuda} build)")
    if index >= count:
        plural = "" if count == 1 else "s"
        raise DeviceUnavailable(f"{device} not present; PyTorch sees {count} GPU{plural}")
    return torch.device("cuda", index)


def device_names() -> list[str]:
    """``["cpu", "gpu:0", ...]``: the CPU and every GPU PyTorch sees."""
    torch = import_torch()
    count = torch.cuda.device_count() if torch.backends.cuda.is_built() else 0
    return ["cpu"] + [f"gpu:{i}" for i in range(count)]


def apply_threads(torch: Any, threads: int | None) -> int | None:
    """Use ``threads`` intra-op threads (``None``: leave PyTorch's setting); return the
    previous count, to restore in ``close``, or None when nothing was changed.

    ``torch.set_num_threads`` can change the count at any time (unlike JAX and TensorFlow,
    whose pools are sized once per process), so every row gets its own setting.
    """
    if threads is None:
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    return previous


def synchronize(torch: Any, device: Any) -> None:
    """Wait until the device has finished its queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_bytes(torch: Any, device: Any) -> int | None:
    """``torch.cuda.max_memory_allocated`` since setup on a GPU; None on the CPU (not tracked)."""
    if device is None or device.type != "cuda":
        return None
    return int(torch.cuda.max_memory_allocated(device))


def environment() -> dict[str, str]:
    """Versions of torch, its CUDA and cuDNN, its thread counts, the GPUs it sees, and the
    precision it uses for float32 matrix products (TF32 or not)."""
    torch = import_torch()
    cuda_built = bool(torch.backends.cuda.is_built())
    count = torch.cuda.device_count() if cuda_built else 0
    gpus = []
    for i in range(count):
        major, minor = torch.cuda.get_device_capability(i)
        gpus.append(f"gpu:{i} {torch.cuda.get_device_name(i)} (compute capability {major}.{minor})")
    cudnn = torch.backends.cudnn.version() if cuda_built and torch.backends.cudnn.is_available() else None
    return {
        "torch": torch.__version__,
        "torch_cuda": str(torch.version.cuda or "none"),
        "torch_cudnn": str(cudnn or "none"),
        "torch_threads": str(torch.get_num_threads()),
        "torch_interop_threads": str(torch.get_num_interop_threads()),
        "torch_float32_matmul_precision": str(torch.get_float32_matmul_precision()),
        "torch_cuda_matmul_allow_tf32": str(bool(torch.backends.cuda.matmul.allow_tf32)),
        "torch_cudnn_allow_tf32": str(bool(torch.backends.cudnn.allow_tf32)),
        "torch_gpus": ", ".join(gpus) or "none",
    }
