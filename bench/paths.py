"""Where bench keeps what it writes for itself: the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE_DIR = "BENCH_CACHE_DIR"


def user_cache_dir() -> Path:
    """``$BENCH_CACHE_DIR``, else the platform's user cache directory for bench
    (``~/.cache/bench`` on Linux; platformdirs where installed, the XDG rule otherwise)."""
    if env := os.environ.get(ENV_CACHE_DIR):
        return Path(env).expanduser()
    try:
        import platformdirs
    except ImportError:  # a minimal environment (the GPU image): the XDG rule platformdirs follows on Linux
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "bench"
    return Path(platformdirs.user_cache_dir("bench"))
