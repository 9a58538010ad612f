"""Plugin discovery: a pluggy PluginManager fed from the ``bench`` entry-point group."""

from __future__ import annotations

import importlib.metadata
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pluggy

from bench import DISTRIBUTION, hookspecs
from bench.classifier import ClassifierSpec
from bench.errors import UsageError, describe_exception

ENTRY_POINT_GROUP = "bench"
BUILTIN_DISTRIBUTION = DISTRIBUTION
"""Classifiers of this distribution keep their names: a plugin that registers one too is broken."""


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded or whose registration failed."""

    name: str
    reason: str


@dataclass(frozen=True)
class Origin:
    """Where a classifier came from: filled in by the manager, never by the plugin author."""

    plugin: str = ""
    """Entry-point name of the plugin that registered it."""
    distribution: str = ""
    version: str = ""


@dataclass
class Registry:
    """All classifiers the installed plugins provide, and the plugins that failed."""

    classifiers: dict[str, ClassifierSpec] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    plugin_manager: pluggy.PluginManager | None = None
    origins: dict[str, Origin] = field(default_factory=dict)

    def origin(self, name: str) -> Origin:
        return self.origins.get(name, Origin())

    def get(self, name: str) -> ClassifierSpec:
        """Return the classifier called ``name``, or raise a UsageError listing the names (and
        the plugins that failed to load, which may be where it was)."""
        try:
            return self.classifiers[name]
        except KeyError:
            known = ", ".join(sorted(self.classifiers)) or "none installed"
            broken = "; ".join(f"{b.name} ({b.reason})" for b in self.broken)
            note = f"; plugins that failed to load: {broken} (see bench plugins)" if broken else ""
            raise UsageError(f"unknown plugin {name!r}; available: {known}{note}") from None

    def environment_info(self, names: list[str]) -> dict[str, str]:
        """Framework facts for the classifiers in ``names``: each one's spec ``environment``;
        for a name whose spec has none, the plugins' deprecated ``bench_environment_info``
        hook, with a :class:`DeprecationWarning` naming each plugin that answers it."""
        info: dict[str, str] = {}
        without: list[str] = []
        for name in names:
            spec = self.classifiers.get(name)
            if spec is not None and spec.environment is not None:
                info.update({str(k): str(v) for k, v in spec.environment().items()})
            else:
                without.append(name)
        if without and self.plugin_manager is not None:
            info.update(self._environment_from_hook(without))
        return info

    def _environment_from_hook(self, names: list[str]) -> dict[str, str]:
        """The deprecated hook, each plugin on its own (in pluggy's order: the first
        registered wins a key), so that the warning can name the plugin."""
        assert self.plugin_manager is not None
        pm = self.plugin_manager
        info: dict[str, str] = {}
        for impl in reversed(pm.hook.bench_environment_info.get_hookimpls()):
            part: Any = impl.function(classifiers=list(names))
            if not part:
                continue
            plugin = pm.get_name(impl.plugin) or impl.plugin_name
            warnings.warn(
                f"plugin {plugin!r} reports its environment through the deprecated "
                "bench_environment_info hook; declare it as ClassifierSpec(environment=...) "
                "instead (the hook will be removed in a later release)",
                DeprecationWarning,
                stacklevel=3,
            )
            info.update(part)
        return info


def create_plugin_manager(load_entry_points: bool = True) -> tuple[pluggy.PluginManager, list[BrokenPlugin]]:
    """Return a manager with the hookspecs added and, optionally, every entry point loaded.

    Entry points are loaded one by one, so a plugin that fails to import is recorded with
    its reason and the others still load.
    """
    pm = pluggy.PluginManager("bench")
    pm.add_hookspecs(hookspecs)
    broken: list[BrokenPlugin] = []
    if load_entry_points:
        names = sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})
        for name in names:
            try:
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
            except Exception as exc:  # noqa: BLE001 - any import failure makes the plugin broken
                broken.append(BrokenPlugin(name, describe_exception(exc)))
    return pm, broken


def collect_classifiers(pm: pluggy.PluginManager, broken: list[BrokenPlugin] | None = None) -> Registry:
    """Ask every registered plugin for its classifiers.

    Each hook implementation is called on its own, so one plugin raising during
    registration is recorded as broken without hiding the other plugins' classifiers.
    """
    registry = Registry(broken=list(broken or []), plugin_manager=pm)
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}

    def builtin_first(impl: pluggy.HookImpl) -> tuple[bool, str]:
        dist = dists.get(id(impl.plugin))
        name = pm.get_name(impl.plugin) or impl.plugin_name
        return (dist is None or dist.project_name != BUILTIN_DISTRIBUTION, name)

    for impl in sorted(pm.hook.bench_register_classifiers.get_hookimpls(), key=builtin_first):
        plugin_name = pm.get_name(impl.plugin) or impl.plugin_name
        dist = dists.get(id(impl.plugin))
        found: list[ClassifierSpec] = []
        try:
            impl.function(register=found.append)
        except Exception as exc:  # noqa: BLE001 - any registration failure makes the plugin broken
            registry.broken.append(BrokenPlugin(plugin_name, describe_exception(exc)))
            continue
        for spec in found:
            if not isinstance(spec, ClassifierSpec):
                registry.broken.append(BrokenPlugin(plugin_name, f"registered {type(spec).__name__}, not a ClassifierSpec"))
                continue
            if spec.name in registry.classifiers:
                other = registry.origin(spec.name)
                owner = "bench's built-in plugin" if other.distribution == BUILTIN_DISTRIBUTION else "plugin"
                registry.broken.append(
                    BrokenPlugin(
                        plugin_name,
                        f"classifier {spec.name!r} is already registered by {owner} {other.plugin!r}; "
                        "choose another name",
                    )
                )
                continue
            registry.classifiers[spec.name] = spec
            registry.origins[spec.name] = Origin(
                plugin_name, dist.project_name if dist else "", dist.version if dist else ""
            )
    return registry


@cache
def installed_registry() -> Registry:
    """The registry of every installed plugin (computed once per process)."""
    pm, broken = create_plugin_manager()
    return collect_classifiers(pm, broken)


def environment_of(registry: Registry, spec: ClassifierSpec) -> dict[str, str]:
    """Framework facts for a row of ``spec`` that has run: its spec's ``environment``, else
    its plugin's deprecated ``bench_environment_info`` hook (which warns, naming the
    plugin). A failure is recorded, never raised."""
    try:
        if spec.environment is not None:
            return {str(k): str(v) for k, v in spec.environment().items()}
        return registry.environment_info([spec.name])
    except Exception as exc:  # noqa: BLE001 - a plugin's report must not lose the row
        return {f"{registry.origin(spec.name).plugin or spec.name}_error": describe_exception(exc)}
