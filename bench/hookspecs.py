"""The hooks a bench plugin can implement.

A plugin is any module or object registered under the packaging entry-point group
``bench``; it implements the hooks below, marked with ``bench.hookimpl``:
``bench_register_classifiers``, and, only in plugins written before
``ClassifierSpec(environment=...)``, the deprecated ``bench_environment_info``.
Built-in plugins (``plugins/``) use exactly the same mechanism.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from bench.classifier import ClassifierSpec

hookspec = pluggy.HookspecMarker("bench")
hookimpl = pluggy.HookimplMarker("bench")


@hookspec
def bench_register_classifiers(register: Callable[[ClassifierSpec], None]) -> None:
    """Register the classifiers this plugin provides.

    Call ``register(ClassifierSpec(name=..., description=..., factory=...))`` once per
    classifier. ``name`` is what users type after ``--plugins`` (for example
    ``tf-graph``) and must be unique across all installed plugins. ``factory`` is called
    with no arguments when the classifier is selected and returns a fresh object that
    follows :class:`bench.classifier.Classifier`. Import heavy frameworks inside the
    factory, not at module level, so that listing plugins stays fast. The spec also
    declares the classifier's ``--param`` settings, abilities, devices, environment facts
    and work per step (see :class:`bench.classifier.ClassifierSpec`). A name that bench's
    built-in plugins already use is refused: the plugin is reported broken.
    """


@hookspec
def bench_environment_info(classifiers: list[str]) -> dict[str, str] | None:
    """Deprecated: declare ``ClassifierSpec(environment=...)`` instead.

    Return framework facts worth recording with a run, or ``None``. Still called, for old
    plugins, but only for a spec without ``environment``; each plugin whose
    implementation answers (returns facts) gets a :class:`DeprecationWarning` naming it.
    The hook will be removed in a later release. It runs in the row's own process after
    the row, with ``classifiers`` holding that row's classifier; a plugin reports only when
    one of its own classifiers is among them. Typical keys: ``tensorflow``, ``cuda``,
    ``cudnn``, ``gpu``. The values are stored in the row's own ``environment`` in the
    result file.
    """
