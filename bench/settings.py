"""What a run does: its settings, typed, and checked in one place.

The command line only turns text into Python values; :meth:`RunConfig.check` and
:func:`resolve_params` decide what is valid, with one wording, before any row runs. This
module imports nothing heavy, so building the command line stays fast.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

from bench.errors import UsageError

if TYPE_CHECKING:
    from bench.classifier import ClassifierSpec

Placement = Literal["feed", "resident"]
Sampling = Literal["replacement", "epoch"]
DatasetName = Literal["cifar10", "synthetic"]
Preprocessing = Literal["reference", "standardize"]
Isolation = Literal["process", "none"]
ExecutorName = Literal["local", "ray"]
PLACEMENTS: tuple[str, ...] = get_args(Placement)
SAMPLINGS: tuple[str, ...] = get_args(Sampling)
DATASETS: tuple[str, ...] = get_args(DatasetName)
PREPROCESSINGS: tuple[str, ...] = get_args(Preprocessing)
ISOLATIONS: tuple[str, ...] = get_args(Isolation)
EXECUTORS: tuple[str, ...] = get_args(ExecutorName)
RECIPE_KEYS = ("steps", "batch_size", "learning_rate")


def max_threads() -> int:
    """The most threads a row may ask for: 4 x the logical CPUs."""
    return 4 * (os.cpu_count() or 1)


@dataclass
class RunConfig:
    """What a run does. The defaults are the reference recipe."""

    plugins: list[str]
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    steps: int = 1000
    batch_size: int = 100
    learning_rate: float = 0.005
    seed: int = 0
    sampling: Sampling = "replacement"
    dataset: DatasetName = "cifar10"
    preprocessing: Preprocessing = "reference"
    data_dir: str | None = None
    offline: bool = False
    threads: int | None = None
    """Threads each row's framework may use; ``None`` leaves its default."""
    loss_every: int = 10
    parity_step: int = 10
    params: dict[str, str] = field(default_factory=dict)
    """``--param`` settings as given: ``key`` for every selected classifier that takes it,
    ``classifier:key`` for one."""
    placement: Placement = "feed"
    """``feed``: each batch is gathered on the host and handed over (the reference's way);
    ``resident``: the training set is placed on the device once, steps pass indices."""
    steps_per_call: int = 1
    """``resident`` only: steps a classifier may run in one call (a compiled loop)."""
    roofline: bool = True
    """Rate every row against the machine's measured ceilings (bench.roofline)."""
    remeasure_roofline: bool = False
    """Measure the ceilings again instead of using the cached ones."""
    isolation: Isolation = "process"
    """``process``: every row in a fresh worker process; ``none``: all in this process."""
    timeout: float | None = None
    """Seconds a row may take (``process`` isolation); past it the row is killed."""
    executor: ExecutorName = "local"
    """``local``: rows one at a time on this machine; ``ray``: as Ray tasks on a cluster's nodes."""
    ray_address: str | None = None
    """``--executor ray``: the cluster's address (default: ``$RAY_ADDRESS``, else a local instance)."""
    ray_resources: str | None = None
    """``--executor ray``: custom resources every row asks for (JSON or ``key=value,...``)."""
    ray_data_dir: str | None = None
    """``--executor ray``: where the nodes look for CIFAR-10 (default: each node's own)."""
    eval_every: int | None = None
    """Evaluate on the test set every this many steps, between steps (outside their timing)."""
    target_accuracy: float | None = None
    """A test accuracy, as a fraction in (0, 1]: record the steps and seconds to reach it
    (needs ``eval_every``)."""

    def check(self) -> None:
        """Raise UsageError for values no run can use."""
        if not self.plugins:
            raise UsageError("no plugins selected; pass --plugins NAME[,NAME...]")
        _at_least("--steps", self.steps, 1)
        _at_least("--batch-size", self.batch_size, 1)
        _at_least("--loss-every", self.loss_every, 1)
        _at_least("--steps-per-call", self.steps_per_call, 1)
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"--seed must be between 0 and 2**32 - 1, not {self.seed}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise UsageError(f"--learning-rate must be a positive finite number, not {self.learning_rate}")
        if self.threads is not None and not 1 <= self.threads <= max_threads():
            raise UsageError(
                f"--threads must be between 1 and {max_threads()} (4 x this machine's CPUs), not {self.threads}"
            )
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise UsageError(f"--timeout must be a positive number of seconds, not {self.timeout}")
        for flag, value, choices in (
            ("--sampling", self.sampling, SAMPLINGS),
            ("--dataset", self.dataset, DATASETS),
            ("--preprocessing", self.preprocessing, PREPROCESSINGS),
            ("--placement", self.placement, PLACEMENTS),
            ("--isolation", self.isolation, ISOLATIONS),
            ("--executor", self.executor, EXECUTORS),
        ):
            if value not in choices:
                raise UsageError(f"unknown {flag} {value!r}; choose one of: {', '.join(choices)}")
        if self.timeout is not None and self.isolation != "process":
            raise UsageError("--timeout needs --isolation process (a row in bench's own process cannot be stopped)")
        if self.eval_every is not None:
            _at_least("--eval-every", self.eval_every, 1)
        if self.target_accuracy is not None:
            if not (math.isfinite(self.target_accuracy) and 0 < self.target_accuracy <= 1):
                raise UsageError("--target-accuracy is a fraction of the test set in (0, 1] (0.25 for 25%), "
                                 f"not {self.target_accuracy:g}")
            if self.eval_every is None:
                raise UsageError("--target-accuracy needs --eval-every N (how often to evaluate on the test set)")
        if self.executor == "ray" and self.isolation != "process":
            raise UsageError("--executor ray runs every row in a worker process on its node; drop --isolation none")
        if self.executor != "ray" and (self.ray_address or self.ray_resources or self.ray_data_dir):
            raise UsageError("--ray-address, --ray-resources and --ray-data-dir need --executor ray")
        if self.ray_resources:
            from bench.execute.ray_resources import parse_resources

            parse_resources(self.ray_resources)  # a UsageError names what is wrong
        problem = self.combination_problem()
        if problem:
            raise UsageError(problem)
        for device in self.devices:
            if device.strip().lower() != "all":
                parse_device(device)

    def combination_problem(self) -> str | None:
        """Why these settings cannot go together (a sweep records such a combination as an
        ``unavailable`` row instead of refusing the whole sweep), or ``None``."""
        if self.steps_per_call > 1 and self.placement != "resident":
            return "--steps-per-call needs --placement resident (a call gets indices, not batches)"
        return None


ROW_SETTINGS = ("steps", "batch_size", "learning_rate", "seed", "threads", "placement", "steps_per_call")
"""The settings every row records (``Row.settings``), in a plain run and in a sweep alike."""
SWEEP_AXES = ("batch_size", "seed", "threads", "placement", "steps_per_call")
"""What ``bench sweep`` can vary (besides ``--plugins`` and ``--devices``), in the order
the Cartesian product nests them (the last varies fastest)."""


def row_settings(config: RunConfig) -> dict[str, Any]:
    """The settings a row of ``config`` records."""
    return {key: getattr(config, key) for key in ROW_SETTINGS}


def sweep_combinations(config: RunConfig, axes: Mapping[str, Sequence[Any]]) -> list[tuple[RunConfig, str | None]]:
    """The Cartesian product of ``axes`` over ``config``: each combination's settings, and
    why it cannot run (``None`` when it can).

    ``axes`` maps settings of :data:`SWEEP_AXES` to their values (each list non-empty, no
    value twice). Every value is checked as ``config.check()`` checks it; a value no run
    can use is a UsageError, and so is a product in which no combination can run. A
    combination whose values do not go together (``steps_per_call`` > 1 with ``feed``) is
    returned with its reason.
    """
    for key, values in axes.items():
        if key not in SWEEP_AXES:
            raise UsageError(f"cannot sweep {key!r}; sweepable: {', '.join(SWEEP_AXES)}")
        if not values:
            raise UsageError(f"--{key.replace('_', '-')} lists no values")
        twice = sorted({str(v) for v in values if list(values).count(v) > 1})
        if twice:
            raise UsageError(f"--{key.replace('_', '-')} lists {', '.join(twice)} more than once")
    keys = [key for key in SWEEP_AXES if key in axes]
    combinations: list[tuple[RunConfig, str | None]] = []
    for values in itertools.product(*(axes[key] for key in keys)):
        combination = replace(config, **dict(zip(keys, values, strict=True)))
        problem = combination.combination_problem()
        # Every value is checked even in a combination that cannot run.
        (replace(combination, steps_per_call=1) if problem else combination).check()
        combinations.append((combination, problem))
    if all(problem for _, problem in combinations):
        raise UsageError(f"no combination of the sweep can run: {combinations[0][1]}")
    return combinations


def _at_least(flag: str, value: int, least: int) -> None:
    if value < least:
        raise UsageError(f"{flag} must be at least {least}, not {value}")


def parse_device(text: str) -> str:
    """Normalise ``cpu``, ``gpu`` and ``gpu:N``; anything else is a UsageError."""
    name = text.strip().lower()
    if name in ("cpu", "cpu:0"):
        return "cpu"
    if name == "gpu":
        return "gpu:0"
    if name.startswith("gpu:") and name[4:].isdigit():
        return f"gpu:{int(name[4:])}"
    raise UsageError(f"unknown device {text!r}; use cpu, gpu, gpu:N or all")


def with_plugin_defaults(config: RunConfig, spec: ClassifierSpec, given: set[str]) -> RunConfig:
    """Fill the recipe settings the user did not give (``given``) from ``spec.defaults``.

    A model may be meant for another recipe than the reference (a larger batch, more
    steps): its defaults apply unless the flag was given.
    """
    updates = {
        key: getattr(spec.defaults, key)
        for key in RECIPE_KEYS
        if getattr(spec.defaults, key) is not None and key not in given
    }
    return replace(config, **updates) if updates else config


def resolve_params(specs: Sequence[ClassifierSpec], given: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Each selected classifier's ``--param`` settings: its declared defaults, then the
    user's, every one checked against the declarations.

    ``key=value`` goes to every selected classifier that declares ``key``; at least one
    must. ``classifier:key=value`` goes to that classifier, which must be selected and
    declare ``key``. Anything else is a UsageError naming the valid keys.
    """
    by_name = {spec.name: spec for spec in specs}
    resolved = {spec.name: spec.param_defaults() for spec in specs}
    for raw_key, text in given.items():
        scope, _, key = raw_key.rpartition(":")
        targets = [by_name[scope]] if scope in by_name else [] if scope else list(specs)
        if scope and not targets:
            raise UsageError(f"--param {raw_key}: {scope!r} is not among the selected classifiers "
                             f"({', '.join(by_name)})")
        takers = [spec for spec in targets if any(p.name == key for p in spec.params)]
        if not takers:
            raise UsageError(f"unknown --param {raw_key!r}; valid: {_valid_keys(targets)}")
        for spec in takers:
            declared = next(p for p in spec.params if p.name == key)
            resolved[spec.name][key] = declared.parse(text, spec.name)
    return resolved


def _valid_keys(specs: Sequence[ClassifierSpec]) -> str:
    parts = [f"{spec.name}: {', '.join(f'{p.name} ({p.describe()})' for p in spec.params)}"
             for spec in specs if spec.params]
    return "; ".join(parts) or "none (the selected classifiers take no --param)"
