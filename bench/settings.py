"""What a run does: its settings, typed, and checked in one place.

The command line only turns text into Python values; :meth:`RunConfig.check` and
:func:`resolve_params` decide what is valid, with one wording, before any row runs. This
module imports nothing heavy, so building the command line stays fast.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

from bench.errors import UsageError

if TYPE_CHECKING:
    from bench.classifier import ClassifierSpec

Placement = Literal["feed", "resident"]
Sampling = Literal["replacement", "epoch"]
DatasetName = Literal["cifar10", "synthetic"]
Preprocessing = Literal["reference", "standardize"]
PLACEMENTS: tuple[str, ...] = get_args(Placement)
SAMPLINGS: tuple[str, ...] = get_args(Sampling)
DATASETS: tuple[str, ...] = get_args(DatasetName)
PREPROCESSINGS: tuple[str, ...] = get_args(Preprocessing)
RECIPE_KEYS = ("steps", "batch_size", "learning_rate")
ISOLATION_EXECUTORS = {"process": "process", "none": "inprocess"}
"""``--isolation`` (kept as an alias): the executor each value names."""
MAX_REPEAT = 100
"""The most worker processes ``--repeat`` may ask for per row."""
EXECUTOR_ALIASES = {"local": "process"}
"""Old executor names: ``--executor local`` was the worker-process executor."""


def max_threads() -> int:
    """The most threads a row may ask for: 4 x the logical CPUs."""
    return 4 * (os.cpu_count() or 1)


def option(
    default: Any = None,
    *,
    help: str,
    convert: str | None = None,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
    sweep: bool = False,
    flag: str | None = None,
    cli: bool = True,
    factory: Any = None,
) -> Any:
    """A :class:`RunConfig` field and its command-line option, declared together.

    ``convert`` names the converter in :mod:`bench.cli.options` (``integer``, ``number``,
    ``csv``, ``key_value``, ``flag``, ``negated``); ``sweep``: ``bench sweep`` takes a comma
    list of values; ``flag``: the option's name when it is not the field's; ``cli=False``:
    no option (set from Python only).
    """
    metadata = {"help": help, "convert": convert, "choices": choices, "metavar": metavar, "sweep": sweep,
                "flag": flag, "cli": cli}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class RunConfig:
    """What a run does. The defaults are the reference recipe.

    Every field is declared once, with its command-line option (:func:`option`):
    ``bench run`` and ``bench sweep`` build their options from these declarations
    (:func:`bench.cli.run.add_run_options`) and the config from the parsed arguments.
    """

    plugins: list[str] = option(factory=list, convert="csv", metavar="NAME[,NAME...]",
                                help="classifiers to run, e.g. tf-graph,tf-eager (see bench plugins)")
    devices: list[str] = option(factory=lambda: ["cpu"], convert="csv", metavar="DEV[,DEV...]",
                                help="cpu, gpu, gpu:N, or all (every device each plugin can use); default: cpu")
    steps: int = option(1000, convert="integer", metavar="N", help="training steps (default: 1000, or the model's own)")
    batch_size: int = option(100, convert="integer", metavar="N", sweep=True,
                             help="images per step (default: 100, or the model's own)")
    learning_rate: float = option(0.005, convert="number", metavar="LR",
                                  help="SGD step size (default: 0.005, or the model's own)")
    seed: int = option(0, convert="integer", sweep=True, help="seeds the batch schedule and the frameworks (default: 0)")
    seeds: list[int] | None = option(convert="seeds", metavar="N|S1,S2,...",
                                     help="run every row once per seed, as a sweep over --seed: N means seeds 0 to "
                                          "N-1 (2 to 1000), a comma list names them; reports each row's accuracy as "
                                          "a mean with a 95%% interval (instead of --seed)")
    """Seeds to sweep (``--seeds``): every row runs once per seed, as ``seed`` swept; ``None``: one seed."""
    sampling: Sampling = option("replacement", choices=SAMPLINGS,
                                help="batches drawn with replacement (the reference) or shuffled epochs")
    dataset: DatasetName = option("cifar10", choices=DATASETS,
                                  help="cifar10 (verified, downloaded when missing) or synthetic (generated, no files)")
    preprocessing: Preprocessing = option("reference", choices=PREPROCESSINGS,
                                          help="reference: 0-255 minus the per-pixel training mean; "
                                               "standardize: [0,1], per-channel z-score")
    data_dir: str | None = option(metavar="DIR", help="where CIFAR-10 is or goes (default: $BENCH_DATA_DIR, else the "
                                                      "user cache directory)")
    offline: bool = option(False, convert="flag", help="never download (also BENCH_OFFLINE=1)")
    threads: int | None = option(convert="integer", metavar="N", sweep=True,
                                 help="threads each row's framework may use, 1 to 4 x the CPUs (default: its own)")
    """Threads each row's framework may use; ``None`` leaves its default."""
    placement: Placement = option("feed", choices=PLACEMENTS, sweep=True,
                                  help="feed: batches gathered on the host and handed over (the reference's way); "
                                       "resident: the training set placed on the device once, steps pass indices")
    """``feed``: each batch is gathered on the host and handed over (the reference's way);
    ``resident``: the training set is placed on the device once, steps pass indices."""
    steps_per_call: int = option(1, convert="integer", metavar="K", sweep=True,
                                 help="with --placement resident: let a classifier run K steps per call "
                                      "(a compiled loop)")
    """``resident`` only: steps a classifier may run in one call (a compiled loop)."""
    roofline: bool = option(True, convert="negated", flag="--no-roofline",
                            help="do not rate rows against the machine's ceilings (no ceilings measured or read)")
    """Rate every row against the machine's measured ceilings (bench.roofline)."""
    remeasure_roofline: bool = option(False, convert="flag",
                                      help="measure the CPU's ceilings (peak FLOP/s, memory bandwidth) again "
                                           "instead of using the cache")
    """Measure the ceilings again instead of using the cached ones."""
    executor: str = option("process", metavar="NAME",
                           help="where rows run: process (each in a fresh worker process, the default), inprocess "
                                "(all in this process: debugging, profilers) or ray (each a Ray task on a cluster "
                                "node)")
    """An executor of :data:`bench.execute.EXECUTORS`."""
    timeout: float | None = option(convert="number", metavar="SECONDS",
                                   help="stop a row that takes longer (status timeout) and go on with the next")
    """Seconds a row may take (worker processes only); past it the row is killed."""
    ray_address: str | None = option(metavar="ADDR",
                                     help="with --executor ray: the cluster (host:port; default: $RAY_ADDRESS, "
                                          "else a local instance)")
    ray_resources: str | None = option(metavar="RES",
                                       help="with --executor ray: custom resources every row asks for, e.g. "
                                            "'{\"A100\": 1}' or A100=1")
    ray_data_dir: str | None = option(metavar="DIR",
                                      help="with --executor ray: where the nodes look for CIFAR-10 (default: each "
                                           "node's own)")
    params: dict[str, str] = option(factory=dict, convert="key_value", flag="--param", metavar="[CLF:]KEY=VALUE",
                                    sweep=True,
                                    help="a setting a classifier declares (bench plugins --params lists them); "
                                         "CLF: limits it to one classifier (repeatable, each key once)")
    """``--param`` settings as given: ``key`` for every selected classifier that takes it,
    ``classifier:key`` for one."""
    loss_every: int = option(10, convert="integer", metavar="N", help="keep the loss every N steps (default: 10)")
    parity_step: int = option(10, cli=False, help="the step after which parameters are compared")
    eval_every: int | None = option(convert="integer", metavar="N",
                                    help="also evaluate on the test set after every N-th step (between steps, outside "
                                         "their timing): the accuracy curve, and the time to --target-accuracy")
    """Evaluate on the test set every this many steps, between steps (outside their timing)."""
    target_accuracy: float | None = option(convert="number", metavar="A",
                                           help="record the steps and wall-clock seconds until an evaluation first "
                                                "reaches test accuracy A, a fraction in (0, 1] (0.25 for 25%%); "
                                                "needs --eval-every")
    """A test accuracy, as a fraction in (0, 1]: record the steps and seconds to reach it
    (needs ``eval_every``)."""

    repeat: int = option(1, convert="integer", metavar="N",
                         help="measure every row in N fresh worker processes, the rows taking turns (A B A B ...): "
                              "steps/s is the median over the processes, with a 95%% interval; bench compare "
                              f"needs 5 or more for a verdict on one row (default: 1, at most {MAX_REPEAT})")
    """Worker processes per row, interleaved across the rows; see docs/statistics.md."""

    def __post_init__(self) -> None:
        self.executor = EXECUTOR_ALIASES.get(self.executor, self.executor)

    @property
    def isolation(self) -> str:
        """What the rows record: ``none`` for bench's own process, else ``process``."""
        return "none" if self.executor == "inprocess" else "process"

    def check(self) -> None:
        """Raise UsageError for values no run can use (the executor checks its own options:
        :func:`bench.execute.check_options`)."""
        if not self.plugins:
            raise UsageError("no plugins selected; pass --plugins NAME[,NAME...]")
        for flag, count in (("--steps", self.steps), ("--batch-size", self.batch_size),
                            ("--loss-every", self.loss_every), ("--steps-per-call", self.steps_per_call)):
            _at_least(flag, count, 1)
            _at_most(flag, count, MAX_COUNT)
        if not 1 <= self.repeat <= MAX_REPEAT:
            raise UsageError(f"--repeat must be between 1 and {MAX_REPEAT} worker processes per row, not {self.repeat}")
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"--seed must be between 0 and 2**32 - 1, not {self.seed}")
        if self.seeds is not None:
            check_seeds(self.seeds)
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise UsageError(f"--learning-rate must be a positive finite number, not {self.learning_rate}")
        if self.threads is not None and not 1 <= self.threads <= max_threads():
            raise UsageError(
                f"--threads must be between 1 and {max_threads()} (4 x this machine's CPUs), not {self.threads}"
            )
        if self.timeout is not None and not (math.isfinite(self.timeout) and 0 < self.timeout <= MAX_TIMEOUT):
            raise UsageError(f"--timeout must be a positive number of seconds, at most {MAX_TIMEOUT:g} "
                             f"(30 days), not {self.timeout:g}")
        for flag, value, choices in (
            ("--sampling", self.sampling, SAMPLINGS),
            ("--dataset", self.dataset, DATASETS),
            ("--preprocessing", self.preprocessing, PREPROCESSINGS),
            ("--placement", self.placement, PLACEMENTS),
        ):
            if value not in choices:
                raise UsageError(f"unknown {flag} {value!r}; choose one of: {', '.join(choices)}")
        if self.eval_every is not None:
            _at_least("--eval-every", self.eval_every, 1)
            _at_most("--eval-every", self.eval_every, MAX_COUNT)
        if self.target_accuracy is not None:
            if not (math.isfinite(self.target_accuracy) and 0 < self.target_accuracy <= 1):
                raise UsageError("--target-accuracy is a fraction of the test set in (0, 1] (0.25 for 25%), "
                                 f"not {self.target_accuracy:g}")
            if self.eval_every is None:
                raise UsageError("--target-accuracy needs --eval-every N (how often to evaluate on the test set)")
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

    def to_dict(self) -> dict[str, Any]:
        """The saved form (``config`` in a result document), with the rows' isolation."""
        return {**asdict(self), "isolation": self.isolation}


ROW_SETTINGS = ("steps", "batch_size", "learning_rate", "seed", "threads", "placement", "steps_per_call")
"""The settings every row records (``Row.settings``), in a plain run and in a sweep alike."""
SWEEP_AXES = tuple(f.name for f in fields(RunConfig) if f.metadata.get("sweep"))
"""What ``bench sweep`` can vary (besides ``--plugins`` and ``--devices``), in the order
the Cartesian product nests them (the last varies fastest): the fields declared with
``sweep=True``. The ``params`` axis takes whole ``--param`` mappings, one per combination
of the swept params' values (:func:`params_given`)."""


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
        keyed = [tuple(sorted(v.items())) if isinstance(v, Mapping) else v for v in values]  # params: a dict each
        twice = sorted({str(v) for v, n in Counter(keyed).items() if n > 1})
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


def params_given(pairs: Sequence[tuple[str, str]], *, lists: bool = False) -> list[dict[str, str]]:
    """``--param`` as given (``(key, text)`` pairs, in order): each combination of their
    values, the last key varying fastest (a plain run: one).

    A key given twice is a UsageError (the last would silently win). With ``lists`` (``bench
    sweep``) a value is a comma list, ``CLF:key=v1,v2``, and each value becomes its own
    combination; a value listed twice, or an empty one, is a UsageError.
    """
    values: dict[str, list[str]] = {}
    for key, text in pairs:
        if key in values:
            hint = f"; to sweep it, --param {key}=A,B" if lists else "; bench sweep --param KEY=A,B sweeps it"
            raise UsageError(f"--param {key} is given more than once{hint}")
        listed = [part.strip() for part in text.split(",")] if lists else [text]
        if lists and (not all(listed) and len(listed) > 1):
            raise UsageError(f"--param {key}={text}: an empty value in the list")
        twice = sorted({v for v in listed if listed.count(v) > 1})
        if twice:
            raise UsageError(f"--param {key} lists {', '.join(twice)} more than once")
        values[key] = listed
    keys = list(values)
    return [dict(zip(keys, combination, strict=True)) for combination in itertools.product(*values.values())]


MAX_SEEDS = 1000
"""The most seeds ``--seeds`` may name (each is a row per classifier)."""


def check_seeds(seeds: Sequence[int]) -> None:
    """``--seeds``: 2 to :data:`MAX_SEEDS` seeds, each once, each a valid ``--seed``."""
    if not 2 <= len(seeds) <= MAX_SEEDS:
        raise UsageError(f"--seeds needs 2 to {MAX_SEEDS} seeds (a spread needs two), not {len(seeds)}")
    bad = next((seed for seed in seeds if isinstance(seed, bool) or not isinstance(seed, int)
                or not 0 <= seed < 2**32), None)
    if bad is not None:
        raise UsageError(f"--seeds: each seed must be an integer between 0 and 2**32 - 1, not {bad!r}")
    twice = sorted({seed for seed in seeds if list(seeds).count(seed) > 1})
    if twice:
        raise UsageError(f"--seeds lists {', '.join(map(str, twice))} more than once")


def seed_axes(config: RunConfig, axes: Mapping[str, Sequence[Any]] | None) -> dict[str, Sequence[Any]]:
    """A sweep's axes with ``--seeds`` as its ``seed`` axis (``--seeds`` with a list of
    ``--seed`` values is a UsageError)."""
    found = dict(axes or {})
    if config.seeds is not None:
        check_seeds(config.seeds)
        if "seed" in found:
            raise UsageError("give --seeds or a list of --seed values, not both")
        found["seed"] = list(config.seeds)
    return found


def _at_least(flag: str, value: int, least: int) -> None:
    if value < least:
        raise UsageError(f"{flag} must be at least {least}, not {value}")


MAX_COUNT = 10**9
"""The most steps (and batch size, steps between losses or evaluations, steps per call) a
run may ask for: far beyond any run, and exact in a saved file's numbers."""
MAX_TIMEOUT = 30 * 86400.0
"""The longest ``--timeout`` (seconds)."""


def _at_most(flag: str, value: int, most: int) -> None:
    if value > most:
        raise UsageError(f"{flag} must be at most {most:,}, not {value}")


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
