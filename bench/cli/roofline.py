"""``bench roofline`` (also ``python -m bench.roofline``): this machine's ceilings, and what
they allow each model.

Prints the CPU's measured peak FLOP/s and memory bandwidth (from the cache when they were
measured before with the same settings; ``--remeasure`` to measure again, within about
``--budget`` seconds; ``--thorough`` to measure again without a budget, contended rounds
retried), then, for every installed classifier that states its work, a step's FLOPs and
bytes at its default recipe on CIFAR-10 and the steps/s the ceilings allow it. ``--json``
prints the ceilings as JSON. A line on stderr says when a measurement starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.classifier import ClassifierSpec, SetupConfig
from bench.cli import options
from bench.errors import UsageError

CIFAR10_INPUT_DIM = 3072
CIFAR10_CLASSES = 10
REFERENCE_BATCH = 100
REFERENCE_LEARNING_RATE = 0.005
clock = time.perf_counter
"""The clock the reported measuring time is read from."""


def default_setup(spec: ClassifierSpec) -> SetupConfig:
    """The settings a ``bench run`` of ``spec`` uses when no flag is given (CIFAR-10)."""
    defaults = spec.defaults
    return SetupConfig(
        learning_rate=defaults.learning_rate or REFERENCE_LEARNING_RATE,
        batch_size=defaults.batch_size or REFERENCE_BATCH,
        input_dim=CIFAR10_INPUT_DIM,
        num_classes=CIFAR10_CLASSES,
        params=spec.param_defaults(),
    )


def model_rows(ceilings: Any, specs: list[ClassifierSpec]) -> list[list[Any]]:
    """One table row per classifier: batch, MFLOP, MB, FLOP/byte, bound, attainable steps/s."""
    from bench.roofline.bound import arithmetic_intensity, attainable, limited_by

    rows: list[list[Any]] = []
    for spec in specs:
        if spec.work is None:
            rows.append([spec.name, "", "", "", "", "", "states no work"])
            continue
        setup = default_setup(spec)
        try:
            work = spec.work(setup)
            row = [
                f"{work.flops / 1e6:.2f}", f"{work.bytes / 1e6:.3f}", f"{arithmetic_intensity(work):.1f}",
                limited_by(work, ceilings), f"{attainable(work, ceilings):.0f}",
            ]
        except Exception as exc:  # noqa: BLE001 - one plugin's bad work function is one row
            row = ["", "", "", "", f"error: {exc}"]
        rows.append([spec.name, setup.batch_size, *row])
    return rows


def _progress(message: str) -> None:
    print(f"bench.roofline: {message}", file=sys.stderr, flush=True)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("roofline", parents=[common], help="this machine's ceilings and each model's limit",
                                 description=__doc__.split("\n\n")[1].replace("\n", " "))
    parser.add_argument("--threads", type=options.integer, default=None,
                        help="threads the kernels may use (default: every core)")
    parser.add_argument("--remeasure", action="store_true", help="measure again instead of using the cache")
    parser.add_argument("--thorough", action="store_true",
                        help="measure again without a time budget: every round, contended rounds retried (a minute or "
                             "more)")
    parser.add_argument("--budget", type=options.number, default=None,
                        help="seconds a measurement may take, unless --thorough (default 5)")
    parser.add_argument("--rounds", type=options.integer, default=None,
                        help="rounds of the interleaved kernels (default 9)")
    parser.add_argument("--json", action="store_true", help="print the ceilings as JSON and nothing else")
    parser.set_defaults(handler=cmd_roofline)


def cmd_roofline(args: argparse.Namespace) -> int:
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    if args.rounds is not None and args.rounds < 1:
        raise UsageError("--rounds must be at least 1")
    if args.budget is not None and not args.budget >= 0:
        raise UsageError("--budget must be at least 0")

    from bench.roofline.cache import cache_file, cache_key, cpu_ceilings
    from bench.roofline.ceilings import DEFAULT_BUDGET_SECONDS, DEFAULT_REPEATS, DEFAULT_ROUNDS, cpu_settings

    rounds = args.rounds or DEFAULT_ROUNDS
    budget = DEFAULT_BUDGET_SECONDS if args.budget is None else args.budget
    start = clock()
    try:
        ceilings = cpu_ceilings(args.threads, remeasure=args.remeasure or args.thorough, thorough=args.thorough,
                                budget=budget, rounds=rounds, progress=_progress)
        took = clock() - start
    except MemoryError:
        raise UsageError("not enough memory for the copy arrays") from None
    if args.json:
        print(json.dumps(ceilings.as_dict(), indent=1, sort_keys=True))
        return 0

    from tabulate import tabulate

    from bench.plugins import installed_registry
    from bench.roofline.bound import ridge_point

    settings = ceilings.settings
    print(ceilings.describe())
    print(f"  compute: {settings.get('matmul')} ({settings.get('blas')})")
    print(f"  memory:  {settings.get('stream')}")
    how = (f"from the cache (measuring took {ceilings.measure_seconds:.1f} s)" if ceilings.from_cache
           else f"measuring took {took:.1f} s")
    print(f"  ridge point: {ridge_point(ceilings):.1f} FLOP/byte; {how}")
    print(f"  cache: {cache_file(cache_key('cpu', cpu_settings(args.threads), rounds, DEFAULT_REPEATS))}")
    specs = sorted(installed_registry().classifiers.values(), key=lambda spec: spec.name)
    print()
    print(tabulate(
        model_rows(ceilings, specs),
        headers=["classifier", "batch", "MFLOP/step", "MB/step", "FLOP/byte", "bound", "attainable steps/s"],
        disable_numparse=True,
    ))
    return 0
