"""``python -m bench.roofline``: this machine's ceilings, and what they allow each model.

Prints the CPU's measured peak FLOP/s and memory bandwidth (from the cache when they were
measured before with the same settings; ``--remeasure`` to measure again), then, for every
installed classifier that states its work, a step's FLOPs and bytes at its default recipe
on CIFAR-10 and the steps/s the ceilings allow it. ``--json`` prints the ceilings as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.classifier import ClassifierSpec, SetupConfig

CIFAR10_INPUT_DIM = 3072
CIFAR10_CLASSES = 10
REFERENCE_BATCH = 100
REFERENCE_LEARNING_RATE = 0.005


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.roofline", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="threads the kernels may use (default: every core)")
    parser.add_argument("--remeasure", action="store_true", help="measure again instead of using the cache")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the interleaved kernels (default 9)")
    parser.add_argument("--json", action="store_true", help="print the ceilings as JSON and nothing else")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")

    from bench.roofline.cache import cache_file, cache_key, cpu_ceilings
    from bench.roofline.ceilings import DEFAULT_REPEATS, DEFAULT_ROUNDS, cpu_settings

    rounds = args.rounds or DEFAULT_ROUNDS
    try:
        ceilings = cpu_ceilings(args.threads, remeasure=args.remeasure, rounds=rounds)
    except KeyboardInterrupt:
        print("bench.roofline: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("bench.roofline: not enough memory for the copy arrays", file=sys.stderr)
        return 1
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
    print(f"  ridge point: {ridge_point(ceilings):.1f} FLOP/byte; measuring took {ceilings.measure_seconds:.1f} s")
    print(f"  cache: {cache_file(cache_key('cpu', cpu_settings(args.threads), rounds, DEFAULT_REPEATS))}")
    specs = sorted(installed_registry().classifiers.values(), key=lambda spec: spec.name)
    print()
    print(tabulate(
        model_rows(ceilings, specs),
        headers=["classifier", "batch", "MFLOP/step", "MB/step", "FLOP/byte", "bound", "attainable steps/s"],
        disable_numparse=True,
    ))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
