"""What the four TensorFlow classifiers share: importing TF quietly, devices, threads.

Nothing here imports TensorFlow at module level; :func:`import_tensorflow` does, once.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from bench import DeviceUnavailable, UsageError, gpu_index

PREDICT_CHUNK = 5000
"""Rows per ``predict`` evaluation: bounds device memory (5000 x 3072 float32 = 61 MB)
and splits the 10,000 CIFAR-10 test images evenly (tf-xla compiles one shape)."""

_tf: Any = None


def import_tensorflow() -> Any:
    """Import and return ``tensorflow``, keeping its C++ start-up chatter off the terminal.

    ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3. TensorFlow >= 2.19 ignores it for the lines it
    logs while importing ("oneDNN custom operations are on", "Could not find cuda
    drivers", written before absl logging is initialised; tensorflow/tensorflow#100442),
    so at level 3 the import runs with file descriptor 2 pointed at a temporary file,
    which is replayed on stderr if the import fails. A user who sets a lower level
    sees everything.
    """
    global _tf
    if _tf is not None:
        return _tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() != "3":
        import tensorflow as tf
    else:
        tf = _import_with_fd2_captured()
    _tf = tf
    return tf


def _import_with_fd2_captured() -> Any:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2: import as is
        import tensorflow as tf

        return tf
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf


def peak_device_memory(tf: Any, device: str | None) -> int | None:
    """Peak bytes TensorFlow's allocator held on a GPU (``"/GPU:0"``); ``None`` on the CPU,
    where TensorFlow keeps no such count."""
    if not device or "GPU" not in device.upper():
        return None
    try:
        return int(tf.config.experimental.get_memory_info(device.strip("/"))["peak"])
    except (ValueError, KeyError, RuntimeError):
        return None


def tf_device_name(tf: Any, device: str) -> str:
    """Map the harness's ``"cpu"`` / ``"gpu:N"`` to TensorFlow's ``"/CPU:0"`` / ``"/GPU:N"``.

    Raises DeviceUnavailable when the GPU is not one TensorFlow can see.
    """
    index = gpu_index(device)
    if index is None:
        return "/CPU:0"
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        build = tf.sysconfig.get_build_info()
        why = "" if build.get("is_cuda_build") else " (this TensorFlow build has no CUDA support)"
        raise DeviceUnavailable(f"{device}: no GPU visible to TensorFlow{why}")
    if index >= len(gpus):
        plural = "" if len(gpus) == 1 else "s"
        raise DeviceUnavailable(f"{device} not present; TensorFlow sees {len(gpus)} GPU{plural}")
    return f"/GPU:{index}"


# --- threads -----------------------------------------------------------------------------
#
# TensorFlow's intra-op (Eigen) thread pool is process-wide: the first CPU device created
# in the process (the eager runtime's, or the first Session's) sizes it, and every later
# Session or eager op shares it, whatever its ConfigProto says. Inter-op pools are per
# Session (with use_per_session_threads) and per eager runtime. So a thread count can be
# applied only before TensorFlow has created its first CPU device; afterwards only the
# same count (or "default") can be honoured. _INTRA_POOL records what it was created with.

_UNSET = object()
_INTRA_POOL: Any = _UNSET  # int, None (TensorFlow's default) or _UNSET (not created yet)


def _eager_runtime_initialised() -> bool:
    try:
        from tensorflow.python.eager import context
    except ImportError:  # pragma: no cover - private module moved
        return False
    return bool(getattr(context.context(), "_initialized", False))


def _describe(threads: int | None) -> str:
    return "TensorFlow's default" if threads is None else f"{threads}"


def claim_cpu_thread_pool(tf: Any, threads: int | None, name: str) -> None:
    """Check that ``threads`` can still be honoured, and record it if it sizes the pool.

    Call it right before TensorFlow creates its devices (a Session, the eager runtime).
    Raises UsageError when the process-wide pool already exists with another size.
    """
    global _INTRA_POOL
    if _INTRA_POOL is _UNSET:
        if _eager_runtime_initialised():  # created before any of our classifiers ran
            current = tf.config.threading.get_intra_op_parallelism_threads()
            _INTRA_POOL = current or None
        else:
            _INTRA_POOL = threads
            return
    if threads is None or threads == _INTRA_POOL:
        return
    raise UsageError(
        f"{name}: cannot use {threads} threads: TensorFlow's process-wide CPU thread pool "
        f"was already created with {_describe(_INTRA_POOL)} threads earlier in this process; "
        "run TensorFlow classifiers with different thread counts in separate processes"
    )


def apply_eager_threads(tf: Any, threads: int | None, name: str) -> None:
    """Configure the eager runtime's thread pools (before it is initialised)."""
    claim_cpu_thread_pool(tf, threads, name)
    if threads is None:
        return
    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # the eager runtime is already initialised
        current = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
        if current != (threads, threads):
            intra, inter = (_describe(c or None) for c in current)
            raise UsageError(
                f"{name}: cannot use {threads} threads: TensorFlow's eager runtime is already "
                f"initialised in this process with intra-op {intra}, inter-op {inter} threads"
            ) from None


def session_config(tf: Any, threads: int | None) -> Any:
    """The ConfigProto for a tf-graph Session."""
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    if threads is not None:
        config.intra_op_parallelism_threads = threads
        config.inter_op_parallelism_threads = threads
        # Otherwise the Session shares the inter-op pool of the first Session in the process.
        config.use_per_session_threads = True
    return config
