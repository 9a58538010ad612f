"""The plugin manager: discovery through entry points, registration, broken plugins."""

from __future__ import annotations

from bench.classifier import ClassifierSpec
from bench.errors import UsageError
from bench.hookspecs import hookimpl
from bench.plugins import collect_classifiers, create_plugin_manager

import pytest


class _Plugin:
    @hookimpl
    def bench_register_classifiers(self, register):
        register(ClassifierSpec(name="toy", description="a toy", factory=object))


def test_plugin_registered_in_process_is_found():
    pm, broken = create_plugin_manager(load_entry_points=False)
    pm.register(_Plugin(), name="toy-plugin")
    registry = collect_classifiers(pm, broken)
    assert registry.get("toy").description == "a toy"
    assert registry.origin("toy").plugin == "toy-plugin"


def test_unknown_classifier_names_the_available_ones():
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(_Plugin())
    with pytest.raises(UsageError, match=r"unknown plugin 'nope'; available: toy"):
        collect_classifiers(pm).get("nope")


def test_builtins_come_through_the_entry_point_group():
    pm, broken = create_plugin_manager()
    registry = collect_classifiers(pm, broken)
    numpy_spec = registry.get("numpy")
    assert registry.origin("numpy").plugin == "numpy"
    assert registry.origin("numpy").distribution == "bench-harness"


def test_broken_plugin_is_reported_and_others_still_load(fake_distribution):
    fake_distribution(
        "fake-bench-plugins",
        {"aaa-broken": "fakeplugin_broken", "zzz-good": "fakeplugin_good"},
        {
            "fakeplugin_broken": "raise ImportError('needs libfoo 9')\n",
            "fakeplugin_good": """
                from bench.classifier import ClassifierSpec
                from bench.hookspecs import hookimpl

                @hookimpl
                def bench_register_classifiers(register):
                    register(ClassifierSpec(name="good", description="works", factory=object))
            """,
        },
    )
    pm, broken = create_plugin_manager()
    registry = collect_classifiers(pm, broken)
    assert [(b.name, b.reason) for b in registry.broken] == [("aaa-broken", "ImportError: needs libfoo 9")]
    good = registry.get("good")
    origin = registry.origin("good")
    assert (origin.plugin, origin.distribution, origin.version) == ("zzz-good", "fake-bench-plugins", "1.2.3")
    assert "numpy" in registry.classifiers


def test_plugin_raising_during_registration_is_reported():
    class Raising:
        @hookimpl
        def bench_register_classifiers(self, register):
            raise RuntimeError("boom")

    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(Raising(), name="raising")
    pm.register(_Plugin(), name="toy-plugin")
    registry = collect_classifiers(pm)
    assert [(b.name, b.reason) for b in registry.broken] == [("raising", "RuntimeError: boom")]
    assert "toy" in registry.classifiers


def test_duplicate_name_is_reported_not_overwritten():
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(_Plugin(), name="first")
    pm.register(_Plugin(), name="second")
    registry = collect_classifiers(pm)
    assert registry.origin("toy").plugin == "first"
    assert registry.broken[0].name == "second"
    assert "already registered" in registry.broken[0].reason


class _BothWays:
    """A plugin that states its environment in the spec and still implements the old hook."""

    @hookimpl
    def bench_register_classifiers(self, register):
        register(ClassifierSpec(name="both", description="", factory=object, environment=lambda: {"fw": "spec"}))
        register(ClassifierSpec(name="hook-only", description="", factory=object))

    @hookimpl
    def bench_environment_info(self, classifiers):
        return {"fw": "hook"} if "hook-only" in classifiers else None


def test_the_spec_environment_wins_and_the_hook_warns_only_when_it_answers():
    import warnings

    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(_BothWays(), name="both-ways")
    registry = collect_classifiers(pm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the hook is not asked for a spec with environment
        assert registry.environment_info(["both"]) == {"fw": "spec"}
        assert registry.environment_info(["unknown"]) == {}  # asked, answers None: no warning
    with pytest.warns(DeprecationWarning, match=r"plugin 'both-ways' reports its environment through the deprecated"):
        assert registry.environment_info(["hook-only"]) == {"fw": "hook"}
