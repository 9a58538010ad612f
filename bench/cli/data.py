"""``bench data``: where CIFAR-10 is, and whether every file verifies."""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli import options


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    data = commands.add_parser("data", parents=[common], help="show where CIFAR-10 is and whether it verifies",
                               description="Check every CIFAR-10 file against its official md5; never downloads.")
    options.add_data_source(data)
    options.add_format(data)
    data.set_defaults(handler=cmd_data)


def cmd_data(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bench.dataset import describe_data

    location, rows, ok = describe_data(args.data_dir, offline=args.offline)
    print(f"CIFAR-10 location: {location}")
    print(tabulate(rows, headers=["file", "status"], tablefmt=args.format))
    return 0 if ok else 1
