"""The whole within-run check, as ``bench check`` (and ``python -m bench.regression``) runs it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.errors import UsageError
from bench.regression.bounds import Bounds
from bench.regression.checks import CheckReport
from bench.regression.harness import check_harness_speed
from bench.regression.relative import check_relative_speed, fixed_batches, setup_config


def run_check(
    bounds: Bounds,
    names: Sequence[str] | None = None,
    *,
    attempts: int = 3,
    harness: bool = True,
    out: Callable[[str], None] = print,
    **options: Any,
) -> CheckReport:
    """The whole within-run check on the synthetic dataset: ratios to the reference, then the harness.

    ``names`` limits it to those classifiers (the reference is measured with them, as the
    ratios need it): their step-time ratios, and the harness checks of those among them
    that have harness bounds. A named classifier that has no bound is a UsageError; a
    check that checks nothing returns an empty report (``bench check`` fails on it).
    Without ``names``: every installed classifier with a bound.
    """
    from bench.dataset import load_dataset
    from bench.plugins import installed_registry

    registry = installed_registry()
    harness_names = list(dict.fromkeys([*bounds.harness_min_ratio, *bounds.harness_pregathered_min_ratio]))
    if names:
        names = list(dict.fromkeys(names))
        for name in names:
            registry.get(name)  # an unknown or broken classifier: its own error
        unbounded = [n for n in names if n != bounds.reference and bounds.ratio_bound(n) is None
                     and not (harness and n in harness_names)]
        if unbounded:
            bounded = sorted(n for n in registry.classifiers if bounds.ratio_bound(n) is not None)
            raise UsageError(f"no bound for {', '.join(unbounded)} in the bounds file; bounded: {', '.join(bounded)}")
        harness_names = [n for n in harness_names if n in names]
    else:
        names = [n for n in registry.classifiers if n == bounds.reference or bounds.ratio_bound(n) is not None]
    if bounds.reference not in names:
        names.insert(0, bounds.reference)
    specs = {name: registry.get(name) for name in names}
    dataset = load_dataset("synthetic")
    report = check_relative_speed(
        {name: spec.factory for name, spec in specs.items()},
        fixed_batches(dataset),
        {name: setup_config(dataset, 100, spec, bounds.threads_for(name)) for name, spec in specs.items()},
        bounds,
        attempts=attempts,
        **options,
    )
    if harness:
        for name in harness_names:
            if name in registry.classifiers:
                report.extend(check_harness_speed(registry.get(name), dataset, bounds, attempts=attempts))
    if report.checks:
        out(report.describe())
    return report

