"""``bench new-plugin``: the names, the files, and a scaffolded plugin installed and run."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.scaffold import next_steps, plugin_names, render, scaffold_plugin

NAME = "scaffold-demo"


@pytest.mark.parametrize("bad", ["", "Demo", "my_plugin", "-x", "x-", "a--b", "1abc", "a b", "née", "a.b"])
def test_bad_names_are_refused(bad, tmp_path):
    with pytest.raises(UsageError, match="bad plugin name"):
        scaffold_plugin(bad, tmp_path)
    assert not any(tmp_path.iterdir())


def test_derived_names():
    names = plugin_names("my-2layer-net")
    assert (names.dist, names.module, names.class_name) == (
        "bench-my-2layer-net",
        "bench_my_2layer_net",
        "My2layerNetClassifier",
    )


@pytest.mark.parametrize("taken", ["numpy", "tensorflow", "tf-graph", "tf-mlp-eager"])
def test_names_already_installed_are_refused(taken, tmp_path):
    with pytest.raises(UsageError, match="already"):
        scaffold_plugin(taken, tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_existing_directory_is_not_overwritten(tmp_path):
    (tmp_path / f"bench-{NAME}").mkdir()
    (tmp_path / f"bench-{NAME}" / "mine.txt").write_text("keep")
    with pytest.raises(UsageError, match="already exists"):
        scaffold_plugin(NAME, tmp_path)
    assert [p.name for p in (tmp_path / f"bench-{NAME}").iterdir()] == ["mine.txt"]


def test_rendered_files_are_complete_and_valid():
    files = render(plugin_names("my-net"))
    assert set(files) == {
        "pyproject.toml",
        "README.md",
        "bench_my_net/__init__.py",
        "bench_my_net/model.py",
        "tests/test_bench_my_net.py",
    }
    for path, text in files.items():
        assert "$" not in text, f"unsubstituted placeholder in {path}"
        if path.endswith(".py"):
            ast.parse(text, filename=path)
    project = tomllib.loads(files["pyproject.toml"])["project"]
    assert project["name"] == "bench-my-net"
    assert project["entry-points"]["bench"] == {"my-net": "bench_my_net"}
    assert any(dep.split(">")[0].strip() == "bench" for dep in project["dependencies"])
    assert "bench_numpy" not in files["bench_my_net/model.py"]  # self-contained
    assert 'name=NAME' in files["bench_my_net/__init__.py"] and 'NAME = "my-net"' in files["bench_my_net/__init__.py"]


def test_next_steps_mention_install_and_run(tmp_path):
    lines = "\n".join(next_steps(tmp_path / "bench-x", "x"))
    assert "pip install -e" in lines and "bench run --plugins x" in lines


# -- the real thing: install the scaffolded package and run it ------------------------------


@pytest.fixture
def throwaway_python(tmp_path: Path) -> Iterator[Path]:
    """A fresh venv (no pip of its own) that also sees this interpreter's site-packages.

    ``venv --system-site-packages`` would expose the base interpreter's packages, not this
    virtualenv's; instead a ``.pth`` file adds this environment's site directories (their
    own ``.pth`` files, such as bench's editable finder, included). Anything installed goes
    into the throwaway venv only, which is deleted afterwards.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()
    ours = [*site.getsitepackages(), site.getusersitepackages()]
    Path(purelib, "_bench_host_site.pth").write_text(f"import site; list(map(site.addsitedir, {ours!r}))\n")
    try:
        yield python
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    assert not venv.exists()


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def test_scaffolded_plugin_installs_lists_and_runs(tmp_path, throwaway_python):
    """About 5 s: pip install -e of the tiny package (no build isolation, no index), then
    ``bench plugins``, a 50-step ``bench run`` and the package's own tests."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("this test builds the plugin with --no-build-isolation: install setuptools (the test extra)")
    package = scaffold_plugin(NAME, tmp_path / "src")
    assert package == tmp_path / "src" / f"bench-{NAME}"

    install = _run(
        [sys.executable, "-m", "pip", "--python", str(throwaway_python), "install", "--quiet",
         "--no-deps", "--no-build-isolation", "--no-index", "-e", str(package)]
    )
    assert install.returncode == 0, install.stdout + install.stderr

    listing = _run([str(throwaway_python), "-m", "bench", "plugins"])
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith(NAME + " "))
    assert f"bench-{NAME} 0.1.0" in row and "BROKEN" not in listing.stdout

    results = tmp_path / "results"
    run = _run(
        [str(throwaway_python), "-m", "bench", "run", "--plugins", NAME, "--dataset", "synthetic",
         "--steps", "50", "--quiet", "--results-dir", str(results)]
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (saved,) = results.glob("*.json")
    (result,) = json.loads(saved.read_text())["results"]
    assert (result["plugin"], result["status"], result["steps_completed"]) == (NAME, "ok", 50)

    tests = _run(
        [str(throwaway_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        cwd=package,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr

    # Nothing reached this interpreter's environment.
    assert _run([sys.executable, "-c", f"import bench_{NAME.replace('-', '_')}"]).returncode != 0
