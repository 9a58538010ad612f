"""``bench new-plugin``: the names, the files, and a scaffolded plugin installed and run."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tomllib

from bench.classifier import ClassifierSpec, SetupConfig
from bench.dataset import Dataset, load_dataset
from bench.errors import UsageError
from bench.job import RowJob, SchedulePlan
from bench.measure import measure
from bench.results.analysis import max_abs_diff
from bench.plugins import installed_registry
from bench.results.model import Status
from bench.scaffold import next_steps, plugin_names, render, scaffold_plugin
from bench.schedule import BatchSchedule, build_schedule

NAME = "scaffold-demo"
CLASSIFIER = "scaffold-demo-softmax"


@pytest.mark.parametrize("bad", ["", "Demo", "my_plugin", "-x", "x-", "a--b", "1abc", "a b", "née", "a.b"])
def test_bad_names_are_refused(bad, tmp_path):
    with pytest.raises(UsageError, match="bad plugin name"):
        scaffold_plugin(bad, tmp_path)
    assert not any(tmp_path.iterdir())


def test_derived_names():
    names = plugin_names("my-2layer-net")
    assert (names.classifier, names.dist, names.module, names.class_name) == (
        "my-2layer-net",
        "bench-my-2layer-net",
        "bench_my_2layer_net",
        "My2layerNetClassifier",
    )


def test_the_classifier_may_have_its_own_name(tmp_path):
    names = plugin_names("my-plugin", "my-softmax")
    assert (names.name, names.classifier, names.dist, names.module, names.class_name) == (
        "my-plugin",
        "my-softmax",
        "bench-my-plugin",
        "bench_my_plugin",
        "MySoftmaxClassifier",
    )
    with pytest.raises(UsageError, match="bad classifier name"):
        scaffold_plugin("my-plugin", tmp_path, classifier="My_Softmax")
    with pytest.raises(UsageError, match="already"):
        scaffold_plugin("my-plugin", tmp_path, classifier="tf-graph")
    assert not any(tmp_path.iterdir())


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
    assert any(dep.split(">")[0].strip() == "bench-harness" for dep in project["dependencies"])
    for path in ("bench_my_net/__init__.py", "bench_my_net/model.py"):  # self-contained: bench only
        imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(files[path]))
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(ast.parse(files[path]))
                     if isinstance(node, ast.ImportFrom) and node.level == 0}
        assert imported <= {"__future__", "collections", "typing", "numpy", "threadpoolctl", "bench", "bench_my_net"}
    assert 'name=NAME' in files["bench_my_net/__init__.py"] and 'NAME = "my-net"' in files["bench_my_net/__init__.py"]


def test_plugin_and_classifier_names_go_to_their_own_places():
    files = render(plugin_names("my-plugin", "my-softmax"))
    project = tomllib.loads(files["pyproject.toml"])["project"]
    assert project["name"] == "bench-my-plugin"
    assert project["entry-points"]["bench"] == {"my-plugin": "bench_my_plugin"}
    init = files["bench_my_plugin/__init__.py"]
    assert 'NAME = "my-softmax"' in init and "from bench_my_plugin.model import MySoftmaxClassifier" in init
    assert "class MySoftmaxClassifier:" in files["bench_my_plugin/model.py"]
    assert 'NAME = "my-softmax"' in files["tests/test_bench_my_plugin.py"]
    assert 'PLUGIN = "my-plugin"' in files["tests/test_bench_my_plugin.py"]
    readme = files["README.md"]
    assert readme.startswith("# bench-my-plugin") and "bench run --plugins numpy,my-softmax" in readme
    assert "--plugins my-plugin" not in readme and "--plugins numpy,my-plugin" not in readme


@pytest.mark.parametrize("classifier", [None, "x-softmax"])
def test_next_steps_mention_install_and_run(tmp_path, classifier):
    lines = "\n".join(next_steps(tmp_path / "bench-x", "x", classifier))
    # the test extra brings pytest into the plugin's environment before pytest runs there
    assert f"pip install -e '{tmp_path / 'bench-x'}[test]'" in lines
    assert f"bench run --plugins numpy,{classifier or 'x'} " in lines
    assert f"python -m pytest {tmp_path / 'bench-x' / 'tests'}" in lines
    assert lines.index("[test]") < lines.index("python -m pytest")


# -- the template's model is the numpy reference, operation for operation ------------------

PIN_MODULE = "bench_template_pin"


@pytest.fixture
def template_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The template rendered into tmp_path (plugin ``template-pin``) and imported from there."""
    package = scaffold_plugin("template-pin", tmp_path, check_installed=False)
    monkeypatch.syspath_prepend(str(package))
    try:
        yield importlib.import_module(PIN_MODULE)
    finally:
        for module in [m for m in sys.modules if m == PIN_MODULE or m.startswith(PIN_MODULE + ".")]:
            del sys.modules[module]


def _registered(plugin: ModuleType) -> ClassifierSpec:
    found: list[ClassifierSpec] = []
    plugin.bench_register_classifiers(register=found.append)
    (spec,) = found
    return spec


@pytest.fixture(scope="module")
def synthetic() -> Dataset:
    return load_dataset("synthetic")  # the reference preprocessing: 0-255 minus the mean


@pytest.mark.parametrize("placement", ["feed", "resident"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_template_model_is_bit_identical_to_the_numpy_reference(template_plugin, synthetic, dtype, placement):
    """Same data, same schedule, through the harness's own measure(): the template's
    parameters equal the reference's exactly, after 10 steps and after 100. With the
    reference's 0-255 inputs rounding differences grow tenfold every few steps, so any change
    to the arithmetic of a step (flushing subnormals, another order of operations, another
    precision) shows here."""
    template, reference = _registered(template_plugin), installed_registry().get("numpy")
    assert template.params == reference.params
    assert template.supports_resident and reference.supports_resident
    schedule = build_schedule(len(synthetic.train_labels), steps=100, batch_size=100, seed=0)
    config = SetupConfig(learning_rate=0.005, batch_size=100, input_dim=synthetic.input_dim,
                         num_classes=synthetic.num_classes, params={"dtype": dtype})
    job = RowJob("x", "cpu", config, SchedulePlan.of(schedule), loss_every=1, parity_step=10, placement=placement)
    ours, theirs = (measure(job, spec, synthetic, schedule) for spec in (template, reference))
    a, b = ours.measurement, theirs.measurement
    assert a.status == b.status == Status.OK, (a.error, b.error)
    assert ours.parameters.at_parity is not None and ours.parameters.final is not None
    assert theirs.parameters.final is not None
    assert ours.parameters.final["weights"].dtype == np.dtype(dtype)
    assert np.abs(theirs.parameters.final["weights"]).max() > 0  # trained, not still at zero
    assert max_abs_diff(ours.parameters.at_parity, theirs.parameters.at_parity) == 0
    assert max_abs_diff(ours.parameters.final, theirs.parameters.final) == 0
    assert a.loss_curve == b.loss_curve and a.test_accuracy == b.test_accuracy


def test_template_model_keeps_subnormals_as_the_reference_does(template_plugin):
    """A case built so that a subnormal gradient reaches a parameter: step 1 sets the
    biases to +-45 (learning rate 90), so on step 2 class 1's probability is exp(-90),
    subnormal in float32, and its gradient lands on a weight that is still zero. A model
    that flushes subnormals to zero (as TensorFlow's CPU kernels do) leaves that weight at
    0; the reference moves it to about -7e-38. On real data such terms are absorbed by
    larger ones, so the bit-identical run above cannot tell."""
    images = np.array([[1, 0], [0, 1]], dtype=np.float32)
    labels = np.array([0, 0])
    data = Dataset("crafted", images, labels, images, labels, class_names=["a", "b"])
    schedule = BatchSchedule(indices=np.array([[0], [1]]), seed=0, sampling="replacement")
    config = SetupConfig(learning_rate=90.0, batch_size=1, input_dim=2, num_classes=2)
    job = RowJob("x", "cpu", config, SchedulePlan.of(schedule), parity_step=1)
    ours, theirs = (measure(job, spec, data, schedule)
                    for spec in (_registered(template_plugin), installed_registry().get("numpy")))
    assert ours.measurement.status == theirs.measurement.status == Status.OK
    assert theirs.parameters.final is not None
    moved = theirs.parameters.final["weights"][1, 1]  # lr 90 x the subnormal gradient
    assert 0 < -moved < np.finfo(np.float32).tiny * 10  # the case does reach that weight
    assert max_abs_diff(ours.parameters.final, theirs.parameters.final) == 0


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("threads", [None, 2])
def test_template_limits_blas_threads_as_the_reference_does(template_plugin, threads):
    before = _blas_threads()
    if not before:
        pytest.skip("threadpoolctl sees no BLAS library in this numpy")
    config = SetupConfig(learning_rate=0.005, batch_size=4, input_dim=6, num_classes=3, threads=threads)
    during = {}
    for name, spec in (("template", _registered(template_plugin)), ("numpy", installed_registry().get("numpy"))):
        clf = spec.factory()
        clf.setup(config)
        during[name] = _blas_threads()
        clf.close()
        assert _blas_threads() == before, f"{name}: BLAS threads not restored by close()"
    assert during["template"] == during["numpy"]
    if threads is None:
        assert during["template"] == [1] * len(before)


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
    ``bench plugins``, a 50-step ``bench run`` next to the reference and the package's own tests."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("this test builds the plugin with --no-build-isolation: install setuptools (the test extra)")
    package = scaffold_plugin(NAME, tmp_path / "src", classifier=CLASSIFIER)
    assert package == tmp_path / "src" / f"bench-{NAME}"

    install = _run(
        [sys.executable, "-m", "pip", "--python", str(throwaway_python), "install", "--quiet",
         "--no-deps", "--no-build-isolation", "--no-index", "-e", str(package)]
    )
    assert install.returncode == 0, install.stdout + install.stderr

    listing = _run([str(throwaway_python), "-m", "bench", "plugins"])
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith(CLASSIFIER + " "))
    assert row.split()[1] == NAME and f"bench-{NAME} 0.1.0" in row and "BROKEN" not in listing.stdout

    results = tmp_path / "results"
    run = _run(
        [str(throwaway_python), "-m", "bench", "run", "--plugins", f"numpy,{CLASSIFIER}", "--dataset", "synthetic",
         "--steps", "50", "--quiet", "--results-dir", str(results)]
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (saved,) = results.glob("*.json")
    reference, result = json.loads(saved.read_text())["results"]
    assert reference["status"] == "ok", reference
    assert (result["plugin"], result["status"], result["steps_completed"]) == (CLASSIFIER, "ok", 50)
    # The README's promise: parity 0 against the reference, after 10 steps and at the end.
    assert (result["parity_max_abs_diff"], result["final_max_abs_diff"]) == (0, 0)

    tests = _run(
        [str(throwaway_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        cwd=package,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr

    # Nothing reached this interpreter's environment.
    assert _run([sys.executable, "-c", f"import bench_{NAME.replace('-', '_')}"]).returncode != 0
