"""``bench sweep``: ``bench run`` over every combination of several settings, as one run.

It takes every option of ``bench run``; ``--batch-size``, ``--seed``, ``--threads``,
``--placement``, ``--steps-per-call`` and ``--param [CLF:]KEY=V1,V2`` (like ``--plugins``
and ``--devices``) take comma lists, and every combination of the values becomes a row of
one result document, each row recording its own settings and params. Planning
(:mod:`bench.plan`) is apart from running, so ``--dry-run`` lists the rows without loading
any data, and the executor that measures the rows is bench run's choice (``--executor``):
``process`` (this machine, one worker process per row, or bench's own process with
``--executor inprocess``) or ``ray`` (each row a task on a node of a Ray cluster, one timed
row per node at a time).

A combination whose values cannot go together (``--steps-per-call`` > 1 with ``feed``
placement) is not refused: it is listed with its reason by ``--dry-run`` and recorded as
an ``unavailable`` row, so that ``--placement feed,resident --steps-per-call 1,50`` means
the three combinations that exist. A sweep in which no combination can run is refused.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from bench.cli.run import add_run_options, config_from_args, measure_and_finish


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sweep = commands.add_parser(
        "sweep", parents=[common], help="run every combination of several settings as one run",
        description="The options of bench run; --batch-size, --seed, --threads, --placement, --steps-per-call and "
                    "--param [CLF:]KEY=V1,V2 (like --plugins and --devices) take comma lists, and every combination "
                    "becomes a row of one result document. Rows are compared (parity) with the first ok row of "
                    "the same batch schedule (the same seed and batch size) whose parameters have the same names "
                    "and shapes.")
    add_run_options(sweep, lists=True)
    sweep.add_argument("--dry-run", action="store_true", help="list the rows the sweep would run, and run nothing")
    sweep.set_defaults(handler=cmd_sweep)


def axes_from_args(args: argparse.Namespace) -> tuple[argparse.Namespace, dict[str, list[Any]]]:
    """The arguments with each list option at its first value, and the swept values (the
    options given more than one value; one value is just that setting). ``--param
    CLF:key=v1,v2`` sweeps a classifier's declared param: the ``params`` axis holds each
    combination of the swept params' values."""
    from bench.settings import SWEEP_AXES, params_given

    first = copy.copy(args)
    axes: dict[str, list[Any]] = {}
    for key in SWEEP_AXES:
        value = getattr(args, key)
        if key == "params":
            combinations = params_given(value or [], lists=True)
            if len(combinations) > 1:
                axes[key] = combinations
            first.params = combinations[0]
            continue
        if isinstance(value, list):
            if len(value) > 1:
                axes[key] = value
            setattr(first, key, value[0])
    return first, axes


def cmd_sweep(args: argparse.Namespace) -> int:
    from bench.plan import prepare_run
    from bench.plugins import installed_registry

    first, axes = axes_from_args(args)
    config, given = config_from_args(first)
    plan = prepare_run(config, installed_registry(), axes=axes, given=given)
    if args.dry_run:
        from bench.report.plan import plan_summary, plan_table

        planned = plan.rows(lambda spec: _requested_devices(plan.config.devices))
        print(plan_table(planned, args.format))
        print(plan_summary(planned))
        return 0
    return measure_and_finish(args, plan)


def _requested_devices(requested: list[str]) -> list[str]:
    """``--devices`` as the plan shows it without asking a framework: ``all`` stays ``all``."""
    from bench.settings import parse_device

    devices: list[str] = []
    for text in requested:
        name = "all" if text.strip().lower() == "all" else parse_device(text)
        if name not in devices:
            devices.append(name)
    return devices
