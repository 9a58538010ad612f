"""``bench data``: where CIFAR-10 is and whether every file verifies; the prepared copies in
the cache, and how to clear them."""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.cli import options


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    data = commands.add_parser(
        "data", parents=[common], help="show where CIFAR-10 is and whether it verifies",
        description="Check every CIFAR-10 file against its official md5 (never downloads); "
                    "--cache lists the prepared copies in the cache, --clean removes those not in use.",
    )
    options.add_data_source(data, offline=False)
    which = data.add_mutually_exclusive_group()
    which.add_argument("--cache", action="store_true",
                       help="list the prepared copies in the cache (each about 0.7 GB for CIFAR-10)")
    which.add_argument("--clean", action="store_true",
                       help="remove every prepared copy no running bench uses (the next run rebuilds it)")
    options.add_format(data)
    data.set_defaults(handler=cmd_data)


def cmd_data(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    if args.cache or args.clean:
        return _cache(args)
    from bench.dataset import describe_data

    location, rows, ok = describe_data(args.data_dir)
    print(f"CIFAR-10 location: {location}")
    print(tabulate(rows, headers=["file", "status"], tablefmt=args.format))
    return 0 if ok else 1


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


def _cache(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bench.dataset import prepared
    from bench.report.text import wrap

    root = prepared.cache_root()
    if args.clean:
        removed, kept = prepared.remove_copies(root)
        for copy in removed:
            print(f"removed {copy.path.name} ({_mib(copy.size)})")
        for copy in kept:
            print(f"kept {copy.path.name}: a running bench uses it")
        print(wrap(f"freed {_mib(sum(c.size for c in removed))} in {root}"))
        return 0
    copies = prepared.cached_copies(root)
    print(wrap(f"prepared copies: {root}"))
    rows = [
        (c.path.name[:16], _mib(c.size), time.strftime("%Y-%m-%d %H:%M", time.localtime(c.last_used)),
         "yes" if c.in_use else "")
        for c in copies
    ]
    print(tabulate(rows, headers=["copy", "size", "last used", "in use"], tablefmt=args.format))
    print(wrap(f"{len(copies)} cop{'y' if len(copies) == 1 else 'ies'}, {_mib(sum(c.size for c in copies))}; "
               f"at most {prepared.KEEP} are kept; bench data --clean removes those not in use"))
    return 0
