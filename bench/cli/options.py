"""What every ``bench`` subcommand shares: the parser class, value converters, shared options.

Converters only turn text into Python values; whether a value is valid for a run is
decided once, in :mod:`bench.settings`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn

ENV_OFFLINE = "BENCH_OFFLINE"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)  # one line, whatever was typed
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def env_offline() -> bool:
    """``BENCH_OFFLINE`` asks for offline: 1, true, yes or on."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def positive_number(text: str) -> float:
    """A number > 0 and finite (for options checked nowhere else, such as ``--fail-below``)."""
    value = number(text)
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, not {text}")
    return value


def csv(text: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def integer_list(text: str) -> list[int]:
    """``1,2,4``: integers, in the order given."""
    return [integer(part) for part in csv(text)]


def choice_list(choices: tuple[str, ...]) -> Any:
    """A converter for ``a,b``, each one of ``choices``."""

    def convert(text: str) -> list[str]:
        items = csv(text)
        unknown = [item for item in items if item not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"invalid choice: {unknown[0]!r} (choose from {', '.join(choices)})")
        return items

    return convert


def key_value(text: str) -> tuple[str, str]:
    """``key=value`` or ``classifier:key=value``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or key.strip().endswith(":"):
        raise argparse.ArgumentTypeError(f"expected key=value or classifier:key=value, not {text!r}")
    return key.strip(), value.strip()


def table_format(text: str) -> str:
    from bench.errors import UsageError
    from bench.report.table import check_format

    try:
        return check_format(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def columns(text: str) -> list[str]:
    from bench.errors import UsageError
    from bench.report.table import check_columns

    try:
        return check_columns(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", type=table_format, default="simple", metavar="FORMAT",
                        help="table format: any of tabulate's (simple, github, grid, latex, ...); default: simple")


def add_table_columns(parser: argparse.ArgumentParser) -> None:
    add_format(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--wide", action="store_true", help="show every column, however wide the terminal")
    group.add_argument("--columns", type=columns, metavar="COL[,COL...]",
                       help="show these columns of the results table (see bench report --help for the list)")


def add_data_source(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--offline``, as :class:`bench.settings.RunConfig` declares them."""
    from dataclasses import fields

    from bench.settings import RunConfig

    declared = {item.name: item.metadata for item in fields(RunConfig)}
    parser.add_argument("--data-dir", metavar=declared["data_dir"]["metavar"], help=declared["data_dir"]["help"])
    parser.add_argument("--offline", action="store_true", default=env_offline(), help=declared["offline"]["help"])


def table_options(args: Any) -> dict[str, Any]:
    """The ``results_table`` keywords that ``--wide``/``--columns`` ask for."""
    if getattr(args, "columns", None):
        return {"columns": args.columns}
    return {"width": 0} if getattr(args, "wide", False) else {}
