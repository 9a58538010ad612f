"""The hooks a bench plugin can implement.

A plugin is any module or object registered under the packaging entry-point group
``bench``; it implements one or more of the hooks below, marked with
``bench.hookimpl``. Built-in plugins (``plugins/``) use exactly the same mechanism.
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
    factory, not at module level, so that listing plugins stays fast.
    """


@hookspec
def bench_environment_info(classifiers: list[str]) -> dict[str, str] | None:
    """Return framework facts worth recording with a run, or ``None``.

    ``classifiers`` are the names of the classifiers that have run so far in this run (it
    is called after each row); a plugin reports only when one of its own classifiers is
    among them, so that a framework is never imported just to be described. Typical keys: ``tensorflow``, ``cuda``, ``cudnn``, ``gpu``. The values are
    stored under ``machine.frameworks`` in the result file.
    """
