"""``python -m bench.regression [--bounds FILE]``: the whole within-run check from a shell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bench.errors import UsageError
from bench.regression.bounds import Bounds, default_bounds_path, load_bounds
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
    """The whole within-run check on the synthetic dataset: ratios to the reference, then the harness."""
    from bench.dataset import load_dataset
    from bench.plugins import installed_registry

    registry = installed_registry()
    if names:
        names = list(names)
    else:
        names = [n for n in registry.classifiers if n == bounds.reference or bounds.ratio_bound(n) is not None]
    if bounds.reference not in names:
        names.insert(0, bounds.reference)
    specs = {name: registry.get(name) for name in names}
    dataset = load_dataset("synthetic")
    report = check_relative_speed(
        {name: spec.factory for name, spec in specs.items()},
        fixed_batches(dataset),
        {name: setup_config(dataset, 100, spec) for name, spec in specs.items()},
        bounds,
        attempts=attempts,
        **options,
    )
    if harness:
        for name in dict.fromkeys([*bounds.harness_min_ratio, *bounds.harness_pregathered_min_ratio]):
            if name in registry.classifiers:
                report.extend(check_harness_speed(registry.get(name), dataset, bounds, attempts=attempts))
    out(report.describe())
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.regression",
        description="Within-run speed check: each classifier's step time against the numpy "
        "reference's, and the harness against a bare loop, interleaved in one process.",
    )
    parser.add_argument(
        "--bounds", help=f"bounds file (JSON; default: the one bench ships, {default_bounds_path()})"
    )
    parser.add_argument("--plugins", help="comma-separated classifiers (default: all with a bound)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default: 9)")
    parser.add_argument("--steps", type=int, default=15, help="timed steps per classifier per round (default: 15)")
    parser.add_argument("--attempts", type=int, default=3, help="measure a failing bound again up to this often")
    parser.add_argument("--no-harness", action="store_true", help="skip the harness-vs-bare check")
    args = parser.parse_args(argv)
    try:
        bounds = load_bounds(args.bounds)
        print(f"bounds: {args.bounds or default_bounds_path()}")
        names = [n.strip() for n in args.plugins.split(",") if n.strip()] if args.plugins else None
        report = run_check(
            bounds, names, attempts=args.attempts, harness=not args.no_harness, rounds=args.rounds, steps=args.steps
        )
    except UsageError as exc:
        print(f"bench.regression: error: {exc}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1
