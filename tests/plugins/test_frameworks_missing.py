"""Without JAX or PyTorch the plugins still list their classifiers, and a row fails at load
with one line naming the extra to install (the frameworks hidden in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

HIDE = """
import sys
class Hide:
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jax", "jaxlib", "torch"):
            return None
        return self.finder.find_spec(name, path, target)
    def __getattr__(self, attr):
        return getattr(self.finder, attr)
sys.meta_path[:] = [Hide(f) if getattr(f, "__name__", "") == "PathFinder" else f for f in sys.meta_path]
"""


def test_rows_fail_at_load_naming_the_extra(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(HIDE)
    code = """
        from bench.plugins import installed_registry
        registry = installed_registry()
        assert not registry.broken, registry.broken
        for name, extra in (("jax-jit", "jax"), ("jax-eager", "jax"), ("torch-eager", "torch"), ("torch-compile", "torch")):
            try:
                registry.get(name).factory()
            except ModuleNotFoundError as exc:
                assert f"pip install 'bench[{extra}]'" in str(exc), exc
                print(name, "refused")
        """
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == [f"{n} refused" for n in ("jax-jit", "jax-eager", "torch-eager", "torch-compile")]
