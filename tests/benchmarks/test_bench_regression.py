"""The within-run speed check (bench/regression/) against tests/benchmarks/bounds.json,
proof that it fails when something is made slower on purpose, and the across-run
comparison behind ``bench compare --fail-below``.

The check compares classifiers with each other in one process, interleaved, so a busy
machine slows both sides of every ratio; see bounds.json for the margins and why.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from bench import measure as bench_measure
from bench.dataset import load_dataset
from bench.errors import UsageError
from bench.plugins import installed_registry
from bench.regression import (
    Bounds,
    RatioBound,
    bounds_from_dict,
    check_harness,
    check_harness_speed,
    check_relative_speed,
    check_step_ratios,
    fixed_batches,
    load_bounds,
    setup_config,
)

BOUNDS_FILE = Path(__file__).with_name("bounds.json")
BUILTIN_PLUGINS = ("numpy", "tensorflow")
REGISTRY = installed_registry()
BUILTIN = [name for name in REGISTRY.classifiers if REGISTRY.origin(name).plugin in BUILTIN_PLUGINS]


@pytest.fixture(scope="module")
def bounds() -> Bounds:
    return load_bounds(BOUNDS_FILE)


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic")


@pytest.fixture(scope="module")
def batches(dataset):
    return fixed_batches(dataset)


def _configs(dataset, names):
    return {name: setup_config(dataset, 100, REGISTRY.get(name)) for name in names}


def _factories(names):
    return {name: REGISTRY.get(name).factory for name in names}


# --- the check itself, on every built-in classifier -------------------------------------


def test_every_builtin_classifier_has_a_bound(bounds):
    missing = [n for n in BUILTIN if n != bounds.reference and bounds.ratio_bound(n) is None]
    assert not missing, f"add a step_time_ratio bound to {BOUNDS_FILE.name} for: {', '.join(missing)}"


def test_step_time_ratios_within_bounds(bounds, dataset, batches):
    report = check_relative_speed(_factories(BUILTIN), batches, _configs(dataset, BUILTIN), bounds)
    print(f"\n{report.describe()}")
    assert {c.name for c in report.checks} == set(BUILTIN) - {bounds.reference}
    assert report.ok, report.describe()


@pytest.mark.parametrize("name", ["numpy", "tf-graph"])
def test_harness_within_bounds(bounds, dataset, name):
    report = check_harness_speed(REGISTRY.get(name), dataset, bounds)
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


def test_check_fails_when_a_classifier_does_five_times_the_work(bounds, dataset, batches):
    """tf-graph and a copy doing 5x the work, measured together: the copy fails tf-graph's bound."""
    graph = REGISTRY.get("tf-graph")
    slowed = "tf-graph (5x work)"
    factories = {
        "numpy": REGISTRY.get("numpy").factory,
        "tf-graph": graph.factory,
        slowed: lambda: Repeated(graph.factory()),
    }
    configs = {**_configs(dataset, ["numpy", "tf-graph"]), slowed: setup_config(dataset, 100, graph)}
    same_bound = dataclasses.replace(
        bounds, step_time_ratio={**bounds.step_time_ratio, slowed: bounds.step_time_ratio["tf-graph"]}
    )

    report = check_relative_speed(factories, batches, configs, same_bound)
    print(f"\n{report.describe()}")
    verdicts = {c.name: c for c in report.checks}
    assert verdicts["tf-graph"].ok, report.describe()
    assert not verdicts[slowed].ok, report.describe()
    assert not report.ok
    assert report.attempts == 3 and slowed in report.retried  # failed every attempt, not once
    assert verdicts[slowed].value > 3 * verdicts["tf-graph"].value


def test_check_fails_when_the_reference_does_five_times_the_work(bounds, dataset, batches):
    """A slower reference makes every other ratio fall under its min bound."""
    numpy_spec = REGISTRY.get("numpy")
    factories = {"numpy": lambda: Repeated(numpy_spec.factory()), "tf-graph": REGISTRY.get("tf-graph").factory}

    report = check_relative_speed(factories, batches, _configs(dataset, ["numpy", "tf-graph"]), bounds)
    print(f"\n{report.describe()}")
    (check,) = report.checks
    assert check.name == "tf-graph" and not check.ok
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


def test_harness_check_fails_when_the_timed_region_grows(bounds, dataset, monkeypatch):
    monkeypatch.setattr(bench_measure, "np", _SlowGather(0.0004))
    report = check_harness_speed(REGISTRY.get("numpy"), dataset, bounds, attempts=2)
    print(f"\n{report.describe()}")
    verdicts = {c.kind: c for c in report.checks}
    assert not verdicts["harness_ratio"].ok, report.describe()
    assert not report.ok


# --- the pieces, without timing ---------------------------------------------------------


def test_bounds_file_reads_back(bounds):
    assert bounds.reference == "numpy"
    assert bounds.ratio_bound("tf-graph") == RatioBound(max=4.5, min=0.7)
    assert bounds.ratio_bound("some-third-party-model") is None
    assert bounds.harness_min_ratio["numpy"] == 0.8


def test_bounds_default_entry_and_plain_numbers():
    bounds = bounds_from_dict({"step_time_ratio": {"a": 3, "*": {"max": 50}}, "harness_min_ratio": {"a": {"min": 0.9}}})
    assert bounds.ratio_bound("a") == RatioBound(max=3.0)
    assert bounds.ratio_bound("anything") == RatioBound(max=50.0)
    assert bounds.harness_min_ratio == {"a": 0.9}


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"step_time_ratio": {"a": {"min": 1}}}, "expected a number or an object with max"),
        ({"step_time_ratio": {"a": {"max": 2, "min": 3}}}, "is not below max"),
        ({"step_time_ratio": {"a": -1}}, "positive number"),
        ({"harness_min_ratio": {"a": "high"}}, "positive number"),
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


def test_check_harness_reads_both_floors():
    from bench.regression import HarnessTiming

    timing = HarnessTiming("x", 0.7, 0.6, 1e-3, 0.7e-3, 0.6e-3, [0.7], [0.6])
    bounds = Bounds(harness_min_ratio={"x": 0.8}, harness_pregathered_min_ratio={"x": 0.5})
    checks = {c.kind: c.ok for c in check_harness(timing, bounds)}
    assert checks == {"harness_ratio": False, "harness_ratio_pregathered": True}


# --- across runs: bench compare A B --fail-below RATIO ----------------------------------
