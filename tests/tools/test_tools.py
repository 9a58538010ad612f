"""tools/: gpu_run.sh, offline_site.py and step_anatomy.py, here on the CPU (no GPU machine is lent).

The GPU image has no network, no TensorFlow and no platformdirs; the script installs
nothing. The test runs it as it would run there: with a sitecustomize that hides those
two packages (find_spec returns None, as for a missing package), the checkout made
importable by tools/offline_site.py, and few steps. The GPU rows come out unavailable
here, with their reasons; on the GPU machine they would run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import offline_site  # noqa: E402

HIDE = textwrap.dedent(
    """
    import sys
    HIDDEN = ("tensorflow", "platformdirs")

    class Hide:
        def __init__(self, finder):
            self.finder = finder

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                return None
            return self.finder.find_spec(name, path, target)

        def __getattr__(self, attr):
            return getattr(self.finder, attr)

    sys.meta_path[:] = [Hide(f) if getattr(f, "__name__", "") == "PathFinder" else f for f in sys.meta_path]
    """
)


def test_offline_site_declares_the_entry_points_of_pyproject(tmp_path):
    info = offline_site.write_dist_info(tmp_path)
    assert info.name == "bench_harness-0.1.0.dist-info"
    points = (info / "entry_points.txt").read_text()
    for line in ('numpy = bench_numpy', 'tensorflow = bench_tensorflow', 'jax = bench_jax', 'torch = bench_torch',
                 'bench = bench.__main__:run'):
        assert line in points
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{REPO}:{REPO / 'plugins'}"}
    code = "import importlib.metadata as m; print(sorted({e.name for e in m.entry_points(group='bench')}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "['jax', 'numpy', 'tensorflow', 'torch']"


@pytest.mark.slow
def test_gpu_run_without_network_tensorflow_or_platformdirs(tmp_path):
    if not (importlib.util.find_spec("jax") and importlib.util.find_spec("torch")):
        pytest.skip("needs JAX and PyTorch, as the GPU image has")
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(hide), "PYTHON": sys.executable}
    env.pop("BENCH_DATA_DIR", None)
    result = subprocess.run(
        ["bash", str(REPO / "tools" / "gpu_run.sh"), str(out), "--steps", "5", "--no-roofline", "--plugins", "numpy,jax-jit,torch-eager"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == {
        "environment.txt", *(f"{name}.{ext}" for name in ("gpu-feed", "gpu-resident", "gpu-resident-per-call-50")
                              for ext in ("json", "txt"))}
    assert "jax-jit" in (out / "environment.txt").read_text()
    for name, placement in (("gpu-feed", "feed"), ("gpu-resident", "resident"), ("gpu-resident-per-call-50", "resident")):
        document = json.loads((out / f"{name}.json").read_text())
        assert document["dataset"]["name"] == "synthetic"
        rows = {(r["plugin"], r["device"]): r for r in document["results"]}
        for (plugin, device), row in rows.items():
            assert row["placement"] == placement
            if name.endswith("per-call-50") and plugin == "torch-eager":  # no compiled loop
                assert row["status"] == "unavailable", (name, plugin, row["error"])
            elif device == "cpu":
                assert row["status"] == "ok", (name, plugin, row["error"])
            elif plugin != "numpy":
                assert row["status"] in ("ok", "unavailable"), (name, plugin, row["error"])
        jax_rows = [r for r in document["results"] if r["plugin"].startswith("jax") and r["status"] == "ok"]
        assert jax_rows and all(r["environment"]["jax"] for r in jax_rows)  # each row's own facts


@pytest.mark.slow
def test_step_anatomy_times_every_piece(tmp_path):
    if not importlib.util.find_spec("jax"):
        pytest.skip("needs JAX")
    output = tmp_path / "anatomy.json"
    # Its own process: JAX's thread pool is process-wide, and other tests here made it already.
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "step_anatomy.py"), "--rounds", "2", "--reps", "2", "--threads", "1",
         "--frameworks", "jax", "--output", str(output)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    document = json.loads(output.read_text())
    figures = {f["what"]: f for f in document["figures"]}
    assert figures["numpy step, feed (gather + step)"]["ratio_to_numpy_step"] == 1.0
    assert "jax-jit step, feed, layout cd (default)" in figures and "jax-eager step, feed, layout cd" in figures
    assert all(f["microseconds"] > 0 for f in figures.values())
    assert document["notes"]["jax-jit first step s (compile)"] > 0
