"""``bench check``: the within-run speed check (``python -m bench.regression`` is an alias)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench.cli import options


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser(
        "check", parents=[common], help="within-run speed check against the numpy reference",
        description="Each classifier's CPU time a step against the numpy reference's (one thread each), and "
                    "the harness against a bare loop, interleaved in one process. A bound fails only when "
                    "its rounds cross it significantly (Wilcoxon signed-rank, p < 0.05, and the 95% interval "
                    "past it); a median past a bound is measured again, the new rounds joining the old. Exit "
                    "1 when a bound fails or nothing was checked.")
    add_check_options(check)
    check.set_defaults(handler=cmd_check)


def add_check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bounds", metavar="FILE",
                        help="bounds file (JSON); default: the one shipped with bench")
    parser.add_argument("--plugins", type=options.csv, metavar="NAME[,NAME...]",
                        help="classifiers to check (default: every one with a bound)")
    parser.add_argument("--rounds", type=options.integer, default=9,
                        help="interleaved rounds, at least 5 (default: 9)")
    parser.add_argument("--steps", type=options.integer, default=15,
                        help="timed steps per classifier per round (default: 15)")
    parser.add_argument("--attempts", type=options.integer, default=3,
                        help="passes at most, measuring a ratio past its bound again (default: 3)")
    parser.add_argument("--no-harness", action="store_true", help="skip the harness-vs-bare check")


def cmd_check(args: argparse.Namespace) -> int:
    from bench.errors import UsageError
    from bench.regression.bounds import load_bounds
    from bench.regression.suite import run_check
    from bench.results.statistics import MIN_ROUNDS

    for flag, value in (("--steps", args.steps), ("--attempts", args.attempts)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, not {value}")
    if args.rounds < MIN_ROUNDS:
        raise UsageError(f"--rounds must be at least {MIN_ROUNDS}, not {args.rounds}: with fewer rounds no "
                         "crossing of a bound can be significant")
    from bench.regression.bounds import default_bounds_path

    print(f"bounds: {args.bounds or default_bounds_path()}")
    report = run_check(load_bounds(args.bounds), args.plugins, attempts=args.attempts, harness=not args.no_harness,
                       rounds=args.rounds, steps=args.steps)
    if not report.checks:
        print("bench: error: nothing was checked (no bound applies to the classifiers selected)",
              file=sys.stderr)
        return 1
    return 0 if report.ok else 1
