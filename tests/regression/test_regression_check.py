"""The within-run speed check (bench/regression/) against the bounds bench ships
(bench/regression/bounds.json), proof that it fails when something is made slower on
purpose, and the across-run comparison behind ``bench compare --fail-below``.

The check compares classifiers with each other in one process, interleaved, so a busy
machine slows both sides of every ratio; see bounds.json for the margins and why.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bench import measure as bench_measure
from bench.dataset import load_dataset
from bench.errors import UsageError
from bench.plugins import installed_registry
from bench.regression import (
    Bounds,
    Check,
    CheckReport,
    RatioBound,
    bounds_from_dict,
    check_harness,
    check_harness_speed,
    check_relative_speed,
    check_step_ratios,
    default_bounds_path,
    fixed_batches,
    load_bounds,
    measure_relative,
    setup_config,
)

from bench.cli import main as bench_main
from bench.regression import suite as regression_suite

ROOT = Path(__file__).resolve().parents[2]
BOUNDS_FILE = default_bounds_path()
BUILTIN_PLUGINS = ("numpy", "tensorflow", "jax", "torch")
REGISTRY = installed_registry()
BUILTIN = [name for name in REGISTRY.classifiers if REGISTRY.origin(name).plugin in BUILTIN_PLUGINS]


@pytest.fixture(scope="module")
def bounds() -> Bounds:
    return load_bounds()  # the shipped bounds


def _configs(dataset, names):
    """Each classifier's setup for the check, with the bounds' threads (as bench check sets it up)."""
    shipped = load_bounds()
    return {name: setup_config(dataset, 100, REGISTRY.get(name), shipped.threads_for(name)) for name in names}


def _factories(names):
    return {name: REGISTRY.get(name).factory for name in names}


def _in_fresh_process(function, *args):
    """``function(*args)`` in a fresh interpreter. The check sets TensorFlow and JAX up with
    one thread, and both size a process-wide thread pool once: an earlier test in this
    process may have created it with their default size (as a fresh ``bench check`` has not)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


# --- the check itself, on every built-in classifier -------------------------------------


def test_every_builtin_classifier_has_a_bound(bounds):
    missing = [n for n in BUILTIN if n != bounds.reference and bounds.ratio_bound(n) is None]
    assert not missing, f"add a step_time_ratio bound to {BOUNDS_FILE.name} for: {', '.join(missing)}"


def _check_builtins() -> CheckReport:
    dataset = load_dataset("synthetic")
    return check_relative_speed(_factories(BUILTIN), fixed_batches(dataset), _configs(dataset, BUILTIN), load_bounds())


def test_step_time_ratios_within_bounds(bounds):
    report = _in_fresh_process(_check_builtins)
    print(f"\n{report.describe()}")
    assert {c.name for c in report.checks} == set(BUILTIN) - {bounds.reference}
    assert report.ok, report.describe()


def _check_harness(name: str, slow_gather: float = 0.0) -> CheckReport:
    if slow_gather:
        bench_measure.np = _SlowGather(slow_gather)
    return check_harness_speed(REGISTRY.get(name), load_dataset("synthetic"), load_bounds())


@pytest.mark.parametrize("name", ["numpy", "tf-graph"])
def test_harness_within_bounds(name):
    report = _in_fresh_process(_check_harness, name)
    print(f"\n{report.describe()}")
    assert {c.kind for c in report.checks} == {"harness_ratio", "harness_ratio_pregathered"}
    assert report.ok, report.describe()


# --- proof: the check fails when something is slower on purpose -------------------------


class Repeated:
    """A classifier whose ``train_step`` does its work ``times`` times over."""

    def __init__(self, inner, times: int = 5) -> None:
        self.inner, self.times = inner, times

    def setup(self, config):
        self.inner.setup(config)

    def train_step(self, images, labels):
        for _ in range(self.times - 1):
            self.inner.train_step(images, labels)
        return self.inner.train_step(images, labels)

    def predict(self, images):
        return self.inner.predict(images)

    def parameters(self):
        return self.inner.parameters()

    def close(self):
        self.inner.close()


SLOWED = "tf-graph (5x work)"


def _check_five_times_the_work() -> tuple[CheckReport, list[float]]:
    """tf-graph and a copy doing 5x its work under tf-graph's bound; then the copy against
    tf-graph itself in the same rounds, measured again like the check does."""
    bounds, dataset = load_bounds(), load_dataset("synthetic")
    batches, graph = fixed_batches(dataset), REGISTRY.get("tf-graph")
    factories = {
        "numpy": REGISTRY.get("numpy").factory,
        "tf-graph": graph.factory,
        SLOWED: lambda: Repeated(graph.factory()),
    }
    configs = {**_configs(dataset, ["numpy", "tf-graph"]), SLOWED: _configs(dataset, ["tf-graph"])["tf-graph"]}
    same_bound = dataclasses.replace(
        bounds, step_time_ratio={**bounds.step_time_ratio, SLOWED: bounds.step_time_ratio["tf-graph"]}
    )
    report = check_relative_speed(factories, batches, configs, same_bound)
    seen: list[float] = []
    for _ in range(3):
        timings = measure_relative(
            {"tf-graph": graph.factory, SLOWED: factories[SLOWED]}, batches, configs, reference="tf-graph"
        )
        seen.append(timings[SLOWED].ratio)
        if seen[-1] > 4:
            break
    return report, seen


def test_check_fails_when_a_classifier_does_five_times_the_work():
    """The copy doing 5x the work crosses tf-graph's bound significantly while tf-graph holds,
    and the copy is really about 5x slower."""
    report, seen = _in_fresh_process(_check_five_times_the_work)
    print(f"\n{report.describe()}")
    verdicts = {c.name: c for c in report.checks}
    assert verdicts["tf-graph"].ok, report.describe()
    slowed = verdicts[SLOWED]
    assert not slowed.ok and slowed.significant and slowed.ci95[0] > slowed.high, report.describe()
    assert not report.ok
    # Measured again and decided on the rounds of every attempt, not on one.
    assert report.attempts == 3 and SLOWED in report.retried and len(slowed.rounds) == 27

    # What was caught is the five-fold work, not noise. The copy is timed against tf-graph
    # itself, interleaved in the same rounds (median over rounds of the per-round ratio).
    print(f"{SLOWED} / tf-graph, same rounds: {', '.join(f'{r:.2f}' for r in seen)}")
    assert seen[-1] > 4, f"5x the work measured as {seen} x tf-graph's step"


def _check_reference_five_times() -> CheckReport:
    dataset = load_dataset("synthetic")
    numpy_spec = REGISTRY.get("numpy")
    factories = {"numpy": lambda: Repeated(numpy_spec.factory()), "tf-graph": REGISTRY.get("tf-graph").factory}
    return check_relative_speed(factories, fixed_batches(dataset), _configs(dataset, ["numpy", "tf-graph"]),
                                load_bounds())


def test_check_fails_when_the_reference_does_five_times_the_work(bounds):
    """A slower reference makes every other ratio fall under its min bound, significantly."""
    report = _in_fresh_process(_check_reference_five_times)
    print(f"\n{report.describe()}")
    (check,) = report.checks
    assert check.name == "tf-graph" and not check.ok and check.significant, report.describe()
    assert check.value < bounds.step_time_ratio["tf-graph"].min


class _SlowGather:
    """numpy, except that ``take`` into an ``out`` buffer (the harness's gather) also spins
    for ``seconds``: a harness whose timed region grew."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __getattr__(self, name):
        return getattr(np, name)

    def take(self, *args, **kwargs):
        result = np.take(*args, **kwargs)
        if kwargs.get("axis") == 0 and kwargs.get("out") is not None:
            end = time.perf_counter() + self.seconds
            while time.perf_counter() < end:
                pass
        return result


def test_harness_check_fails_when_the_timed_region_grows():
    report = _in_fresh_process(_check_harness, "numpy", 0.0004)
    print(f"\n{report.describe()}")
    verdicts = {c.kind: c for c in report.checks}
    assert not verdicts["harness_ratio"].ok and verdicts["harness_ratio"].significant, report.describe()
    assert not report.ok
    assert report.attempts == 3 and report.retried == ["numpy (harness)"]  # decided on all three passes


# --- the pieces, without timing ---------------------------------------------------------


def test_bounds_file_reads_back(bounds):
    assert bounds.reference == "numpy"
    assert bounds.ratio_bound("tf-graph") == RatioBound(max=3.8, min=0.7)
    assert bounds.threads == 1 and bounds.threads_for("tf-graph") == 1
    assert bounds.ratio_bound("some-third-party-model") is None
    assert bounds.harness_min_ratio["numpy"] == 0.8


def test_shipped_bounds_are_the_package_data(bounds):
    """The installed package's bounds (editable or not) are the source tree's."""
    assert BOUNDS_FILE.parts[-3:] == ("bench", "regression", "bounds.json")
    assert BOUNDS_FILE.read_bytes() == (ROOT / "bench" / "regression" / "bounds.json").read_bytes()
    assert load_bounds(BOUNDS_FILE) == bounds


def test_the_wheel_ships_the_bounds(tmp_path):
    """Under a second: build bench's wheel from a copy of the sources (no index, no isolation)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("bench", "plugins"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         str(source), "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp_path / "dist").glob("bench_harness-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("bench/regression/bounds.json") == BOUNDS_FILE.read_bytes()


def module_command(argv: list[str]) -> int:
    """What ``python -m bench.regression ARGS`` runs: ``bench check ARGS`` under its own name."""
    return bench_main(["check", *argv], prog="python -m bench.regression")


def test_module_command_uses_the_shipped_bounds_by_default(monkeypatch, capsys):
    seen = {}

    def fake_run_check(bounds, names, **options):
        seen["bounds"], seen["names"] = bounds, names
        return CheckReport([Check("tf-graph", "step_time_ratio", 2.0, 0.7, 4.5, True)])

    monkeypatch.setattr(regression_suite, "run_check", fake_run_check)
    assert module_command([]) == 0
    assert seen == {"bounds": load_bounds(BOUNDS_FILE), "names": None}
    assert f"bounds: {BOUNDS_FILE}" in capsys.readouterr().out
    assert module_command(["--plugins", "numpy, tf-graph"]) == 0
    assert seen["names"] == ["numpy", "tf-graph"]


def test_a_check_that_checked_nothing_fails_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(regression_suite, "run_check", lambda bounds, names, **options: CheckReport([]))
    assert module_command(["--plugins", "numpy", "--no-harness"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "bench: error: nothing was checked (no bound applies to the classifiers selected)"


def _checked(monkeypatch, bounds: Bounds, names, harness: bool = True) -> dict[str, list[str]]:
    """What run_check would measure for ``names``: the ratio check's classifiers, the harness's."""
    seen: dict[str, list[str]] = {"ratios": [], "harness": []}

    def ratios(factories, batches, configs, bounds, **options):
        seen["ratios"] = list(factories)
        return CheckReport([Check(n, "step_time_ratio", 1.0, 0, 9, True) for n in factories if n != bounds.reference])

    def harness_check(spec, dataset, bounds, **options):
        seen["harness"].append(spec.name)
        return CheckReport([Check(spec.name, "harness_ratio", 1.0, 0.8, 0, True)])

    monkeypatch.setattr(regression_suite, "check_relative_speed", ratios)
    monkeypatch.setattr(regression_suite, "check_harness_speed", harness_check)
    regression_suite.run_check(bounds, names, harness=harness, out=lambda text: None)
    return seen


def test_plugins_limit_the_check_to_those_named_and_the_reference(monkeypatch, bounds):
    pytest.importorskip("jax")
    assert _checked(monkeypatch, bounds, ["jax-jit"]) == {"ratios": ["numpy", "jax-jit"], "harness": []}
    assert _checked(monkeypatch, bounds, ["tf-graph"]) == {"ratios": ["numpy", "tf-graph"], "harness": ["tf-graph"]}
    everything = _checked(monkeypatch, bounds, None)
    assert set(everything["ratios"]) == {n for n in REGISTRY.classifiers if n == "numpy" or bounds.ratio_bound(n)}
    assert everything["harness"] == ["numpy", "tf-graph"]


def test_a_named_classifier_without_a_bound_is_a_usage_error(monkeypatch):
    only_tf = Bounds(step_time_ratio={"tf-graph": RatioBound(max=4.5)})
    with pytest.raises(UsageError, match="no bound for tf-eager in the bounds file; bounded: tf-graph"):
        _checked(monkeypatch, only_tf, ["tf-eager"], harness=False)


def test_module_command_bad_bounds_file_is_one_line(tmp_path, capsys):
    (tmp_path / "b.json").write_text("{not json")
    assert module_command(["--bounds", str(tmp_path / "b.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m bench.regression: error: cannot read bounds file") and "\n" not in err


def test_bounds_default_entry_and_plain_numbers():
    bounds = bounds_from_dict({"step_time_ratio": {"a": 3, "*": {"max": 50}}, "harness_min_ratio": {"a": {"min": 0.9}}})
    assert bounds.ratio_bound("a") == RatioBound(max=3.0)
    assert bounds.ratio_bound("anything") == RatioBound(max=50.0)
    assert bounds.harness_min_ratio == {"a": 0.9}
    assert bounds.threads is None and bounds.threads_for("a") is None  # no "threads": the frameworks' own


def test_a_bound_names_its_own_threads_over_the_files():
    bounds = bounds_from_dict({"threads": 1, "step_time_ratio": {"a": {"max": 3, "threads": 4}, "b": 2}})
    assert (bounds.threads_for("a"), bounds.threads_for("b"), bounds.threads_for("numpy")) == (4, 1, 1)


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"step_time_ratio": {"a": {"min": 1}}}, "expected a number or an object with max"),
        ({"step_time_ratio": {"a": {"max": 2, "min": 3}}}, "is not below max"),
        ({"step_time_ratio": {"a": -1}}, "positive number"),
        ({"harness_min_ratio": {"a": "high"}}, "positive number"),
        ({"threads": 0}, "threads: threads must be a positive integer"),
        ({"step_time_ratio": {"a": {"max": 2, "threads": "two"}}}, "a.threads: threads must be a positive integer"),
        ([], "not an object"),
    ],
)
def test_bad_bounds_are_usage_errors(data, needle):
    with pytest.raises(UsageError, match=needle):
        bounds_from_dict(data)


def test_unreadable_bounds_file(tmp_path):
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read bounds file"):
        load_bounds(tmp_path / "b.json")


def test_check_step_ratios_on_plain_numbers():
    bounds = Bounds(step_time_ratio={"a": RatioBound(max=2.0, min=0.5), "b": RatioBound(max=2.0)})
    checks = {c.name: c for c in check_step_ratios({"numpy": 1.0, "a": 2.5, "b": 0.1, "c": 99.0}, bounds)}
    assert set(checks) == {"a", "b"}  # the reference and unbounded names are not checked
    assert not checks["a"].ok and checks["b"].ok
    assert "FAIL: a" in checks["a"].describe() and "allowed 0.5..2" in checks["a"].describe()


def test_a_timing_is_checked_by_its_rounds():
    from bench.regression import RelativeTiming

    bounds = Bounds(step_time_ratio={"a": RatioBound(max=2.0, min=0.5)})
    noisy = RelativeTiming("a", 2.05, 1e-3, [1.9, 1.95, 2.05, 2.1, 1.98, 2.2, 9.0], [1e-3] * 7)
    slow = RelativeTiming("a", 5.0, 5e-3, [4.8, 5.1, 5.0, 4.9, 5.2, 5.3, 4.7], [5e-3] * 7)
    (noise,) = check_step_ratios({"a": noisy}, bounds)  # past the bound, not significantly: it holds
    assert noise.ok and noise.unsettled and noise.value == pytest.approx(2.05)
    assert noise.p_value is not None and noise.p_value >= 0.05 and not noise.significant
    assert noise.describe().startswith("ok: a: CPU step time / reference = 2.050, 95% CI ")
    assert "past the bound, not significantly, in 7 rounds" in noise.describe()
    (failed,) = check_step_ratios({"a": slow}, bounds)
    assert not failed.ok and failed.significant and failed.ci95 is not None and failed.ci95[0] > 2.0
    assert failed.describe().startswith("FAIL: a: CPU step time / reference = 5.000, 95% CI ")
    assert "p=0.0078: past the bound, significantly, in 7 rounds" in failed.describe()
    low = RelativeTiming("a", 0.3, 1e-3, [0.31, 0.29, 0.3, 0.32, 0.28, 0.3], [1e-3] * 6)
    (under,) = check_step_ratios({"a": low}, bounds)  # under the min: the other side, the same rule
    assert not under.ok and under.significant and under.ci95[1] < 0.5


def _fake_rounds(monkeypatch, rounds_by_attempt):
    """Make measure_relative hand out, attempt by attempt, the given rounds of classifier ``a``
    (the reference's ratio is 1); returns the names each attempt measured."""
    from bench.regression import RelativeTiming, relative

    measured, attempts = [], iter(rounds_by_attempt)

    def fake(factories, batches, config, reference="numpy", **options):
        measured.append(list(factories))
        rounds = next(attempts)
        return {name: RelativeTiming(name, float(np.median(r)), 1e-3, list(r), [1e-3] * len(r))
                for name, r in (("numpy", [1.0] * len(rounds)), ("a", rounds), ("b", [1.0] * len(rounds)))
                if name in factories}

    monkeypatch.setattr(relative, "measure_relative", fake)
    return measured


BURST = [3.0, 3.1, 2.9, 3.2, 3.0, 2.8, 3.3, 1.0, 1.1]  # nine rounds, most of them past 2
QUIET = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.1, 0.9, 1.0]


def test_a_burst_of_noise_is_outvoted_by_the_rounds_measured_again(monkeypatch):
    measured = _fake_rounds(monkeypatch, [BURST, QUIET, QUIET])
    bounds = Bounds(step_time_ratio={"a": RatioBound(max=2.0), "b": RatioBound(max=2.0)})
    factories = {"numpy": None, "a": None, "b": None}
    report = check_relative_speed(factories, [], {}, bounds)
    checks = {c.name: c for c in report.checks}
    # Only a, past its bound, is measured again, with the reference; its 18 rounds decide.
    assert measured == [["numpy", "a", "b"], ["numpy", "a"]]
    assert report.ok and report.attempts == 2 and report.retried == ["a"]
    assert len(checks["a"].rounds) == 18 and checks["a"].value < 2.0 and len(checks["b"].rounds) == 9


def test_a_slowdown_is_decided_on_the_rounds_of_every_attempt(monkeypatch):
    slow = [3.0, 3.1, 2.9, 3.2, 3.0, 2.8, 3.3, 3.1, 2.9]
    _fake_rounds(monkeypatch, [slow, slow, slow])
    report = check_relative_speed({"numpy": None, "a": None}, [], {}, Bounds(step_time_ratio={"a": RatioBound(2.0)}))
    (check,) = report.checks
    assert not report.ok and report.attempts == 3 and len(check.rounds) == 27
    assert check.significant and check.p_value < 1e-4 and check.ci95[0] > 2.0


def test_a_ratio_on_its_bound_holds_and_is_said(monkeypatch):
    on_the_bound = [2.3, 1.8, 2.2, 1.9, 2.4, 1.7, 2.1, 2.0, 2.05]
    _fake_rounds(monkeypatch, [on_the_bound] * 3)
    report = check_relative_speed({"numpy": None, "a": None}, [], {}, Bounds(step_time_ratio={"a": RatioBound(2.0)}))
    (check,) = report.checks
    assert report.ok and check.unsettled and len(check.rounds) == 27 and report.attempts == 3
    assert report.unsettled == [check]
    assert "past a bound but not significantly (held, as compare's 'same'): a;" in report.describe()


@pytest.mark.parametrize("rounds", ["4", "0"])
def test_too_few_rounds_for_a_verdict_are_a_usage_error(rounds, capsys):
    assert bench_main(["check", "--rounds", rounds]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: --rounds must be at least 5") and err.count("\n") == 1


def test_check_harness_reads_both_floors():
    from bench.regression import HarnessTiming

    timing = HarnessTiming("x", 0.7, 0.6, 1e-3, 0.7e-3, 0.6e-3, [0.7], [0.6])
    bounds = Bounds(harness_min_ratio={"x": 0.8}, harness_pregathered_min_ratio={"x": 0.5})
    checks = {c.kind: c.ok for c in check_harness(timing, bounds)}
    assert checks == {"harness_ratio": False, "harness_ratio_pregathered": True}


# --- across runs: bench compare A B --fail-below RATIO ----------------------------------
