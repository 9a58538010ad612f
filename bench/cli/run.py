"""``bench run``: train and measure classifiers, print the tables, save the run."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cli import options
from bench.errors import ResultFileError, UsageError
from bench.settings import DATASETS, EXECUTORS, ISOLATIONS, PLACEMENTS, PREPROCESSINGS, RECIPE_KEYS, SAMPLINGS

if TYPE_CHECKING:
    from bench.classifier import ClassifierSpec
    from bench.plugins import Registry
    from bench.results.model import RunDocument
    from bench.settings import RunConfig

EXIT_INTERRUPTED = {"SIGINT": 130, "SIGTERM": 143}


def add_run_options(run: argparse.ArgumentParser, *, lists: bool = False) -> None:
    """The options of a run (``bench run``; ``bench sweep`` takes the same, with ``lists``:
    the settings it can vary then take comma-separated lists, and their values are lists)."""
    integer = options.integer_list if lists else options.integer
    several = " (a comma list to sweep, e.g. 1,2,4)" if lists else ""
    run.add_argument("--plugins", type=options.csv, required=True, metavar="NAME[,NAME...]",
                     help="classifiers to run, e.g. tf-graph,tf-eager (see bench plugins)")
    run.add_argument("--devices", type=options.csv, default=["cpu"], metavar="DEV[,DEV...]",
                     help="cpu, gpu, gpu:N, or all (every device each plugin can use); default: cpu")
    run.add_argument("--require-devices", action="store_true",
                     help="exit non-zero when a requested device is unavailable")
    placement = {"type": options.choice_list(PLACEMENTS), "metavar": "|".join(PLACEMENTS) + "[,...]"} if lists else {
        "choices": PLACEMENTS}
    run.add_argument("--placement", default="feed", **placement,
                     help="feed: batches gathered on the host and handed over (the reference's way); "
                          "resident: the training set placed on the device once, steps pass indices" + several)
    run.add_argument("--steps-per-call", type=integer, default=1, metavar="K",
                     help="with --placement resident: let a classifier run K steps per call (a compiled loop)"
                          + several)
    run.add_argument("--no-roofline", action="store_true",
                     help="do not rate rows against the machine's ceilings (no ceilings measured or read)")
    run.add_argument("--remeasure-roofline", action="store_true",
                     help="measure the CPU's ceilings (peak FLOP/s, memory bandwidth) again instead of using the cache")
    run.add_argument("--steps", type=options.integer, metavar="N",
                     help="training steps (default: 1000, or the model's own)")
    run.add_argument("--batch-size", type=integer, metavar="N",
                     help="images per step (default: 100, or the model's own)" + several)
    run.add_argument("--learning-rate", type=options.number, metavar="LR",
                     help="SGD step size (default: 0.005, or the model's own)")
    run.add_argument("--seed", type=integer, default=0,
                     help="seeds the batch schedule and the frameworks (default: 0)" + several)
    run.add_argument("--sampling", choices=SAMPLINGS, default="replacement",
                     help="batches drawn with replacement (the reference) or shuffled epochs")
    run.add_argument("--dataset", choices=DATASETS, default="cifar10",
                     help="cifar10 (verified, downloaded when missing) or synthetic (generated, no files)")
    run.add_argument("--preprocessing", choices=PREPROCESSINGS, default="reference",
                     help="reference: 0-255 minus the per-pixel training mean; standardize: [0,1], per-channel z-score")
    options.add_data_source(run)
    run.add_argument("--threads", type=integer, metavar="N",
                     help="threads each row's framework may use, 1 to 4 x the CPUs (default: its own)" + several)
    run.add_argument("--isolation", choices=ISOLATIONS, default="process",
                     help="process: every row in a fresh worker process (default); "
                          "none: all rows in this process (debugging, profilers)")
    run.add_argument("--timeout", type=options.number, metavar="SECONDS",
                     help="stop a row that takes longer (status timeout) and go on with the next")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="local: rows one at a time here (default); ray: each row a Ray task on a cluster node")
    run.add_argument("--ray-address", metavar="ADDR",
                     help="with --executor ray: the cluster (host:port; default: $RAY_ADDRESS, else a local instance)")
    run.add_argument("--ray-resources", metavar="RES",
                     help='with --executor ray: custom resources every row asks for, e.g. \'{"A100": 1}\' or A100=1')
    run.add_argument("--ray-data-dir", metavar="DIR",
                     help="with --executor ray: where the nodes look for CIFAR-10 (default: each node's own)")
    run.add_argument("--param", type=options.key_value, action="append", default=[], metavar="[CLF:]KEY=VALUE",
                     help="a setting a classifier declares (bench plugins --params lists them); "
                          "CLF: limits it to one classifier (repeatable)")
    run.add_argument("--loss-every", type=options.integer, default=10, metavar="N",
                     help="keep the loss every N steps (default: 10)")
    run.add_argument("--eval-every", type=options.integer, metavar="N",
                     help="also evaluate on the test set after every N-th step (between steps, outside their "
                          "timing): the accuracy curve, and the time to --target-accuracy")
    run.add_argument("--target-accuracy", type=options.number, metavar="A",
                     help="record the steps and wall-clock seconds until an evaluation first reaches test accuracy "
                          "A, a fraction in (0, 1] (0.25 for 25%%); needs --eval-every")
    run.add_argument("--results-dir", default="results", metavar="DIR",
                     help="where each run is saved (default: results/)")
    run.add_argument("--output", metavar="FILE", help="also write the run's JSON to this file")
    run.add_argument("--benchmark-json", metavar="FILE",
                     help="also write the run in pytest-benchmark's JSON layout, for pytest-benchmark compare")
    options.add_table_columns(run)
    run.add_argument("--quiet", action="store_true", help="no progress bar")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser("run", parents=[common], help="train and measure classifiers",
                              description="Train the classifiers on identical seeded batches, each row in its own "
                                          "process, and report accuracy, speed, time and memory.")
    add_run_options(run)
    run.set_defaults(handler=cmd_run)


def config_from_args(args: argparse.Namespace) -> tuple[RunConfig, set[str]]:
    """The run's settings as given, and which recipe settings the user gave."""
    from bench.settings import RunConfig

    given = {key: getattr(args, key) for key in RECIPE_KEYS if getattr(args, key) is not None}
    config = RunConfig(
        plugins=args.plugins,
        devices=args.devices,
        **given,
        seed=args.seed,
        sampling=args.sampling,
        dataset=args.dataset,
        preprocessing=args.preprocessing,
        data_dir=args.data_dir,
        offline=args.offline,
        threads=args.threads,
        loss_every=args.loss_every,
        params=dict(args.param),
        placement=args.placement,
        steps_per_call=args.steps_per_call,
        roofline=not args.no_roofline,
        remeasure_roofline=args.remeasure_roofline,
        isolation=args.isolation,
        timeout=args.timeout,
        executor=args.executor,
        ray_address=args.ray_address,
        ray_resources=args.ray_resources,
        ray_data_dir=args.ray_data_dir,
        eval_every=args.eval_every,
        target_accuracy=args.target_accuracy,
    )
    return config, set(given)


def check_outputs(args: argparse.Namespace) -> Path | None:
    """Refuse output paths that cannot work, before any row runs; return the results
    directory if this created it."""
    from bench.results.storage import check_replaceable, check_writable_directory, remove_stale_temporaries

    if not str(args.results_dir).strip():
        raise UsageError("--results-dir must name a directory, not ''")
    extra = [Path(p) for p in (args.output, args.benchmark_json) if p]
    if len(extra) == 2 and os.path.realpath(extra[0]) == os.path.realpath(extra[1]):
        raise UsageError("--output and --benchmark-json name the same file")
    results_dir = Path(args.results_dir)
    created = None if results_dir.exists() else results_dir
    check_writable_directory(results_dir)
    remove_stale_temporaries(results_dir)
    for path in extra:
        check_replaceable(path)
        check_writable_directory(path.parent if str(path.parent) else Path("."))
    return created


class Saver:
    """Writes the document after every row to the results directory (and ``--output``)."""

    def __init__(self, results_dir: Path, output: str | None) -> None:
        self.results_dir, self.output = results_dir, output
        self.writers: list[Any] = []
        self.error: dict[Path, str | None] = {}
        """Per target: None once the latest document is written there, else the latest error."""
        self.rows: dict[Path, int] = {}

    def __call__(self, document: RunDocument) -> None:
        from bench.results.storage import DocumentWriter, unique_result_path

        if not self.writers:
            self.writers.append(DocumentWriter(unique_result_path(self.results_dir, document.run_id)))
            if self.output:
                self.writers.append(DocumentWriter(Path(self.output)))
        for writer in self.writers:
            try:
                writer.save(document)
            except ResultFileError as exc:
                self.error[writer.path] = str(exc)
            else:
                self.error[writer.path] = None
                self.rows[writer.path] = len(document.results)

    def report(self) -> bool:
        """Print what was saved where; False when a save failed."""
        ok = True
        for writer in self.writers:
            error = self.error.get(writer.path)
            if error is None:
                print(f"saved {writer.path}")
            else:
                ok = False
                held = self.rows.get(writer.path)
                earlier = f" ({writer.path} holds only the first {held} row(s))" if held is not None else ""
                print(f"bench: error: {error}{earlier}", file=sys.stderr)
        return ok


def cmd_run(args: argparse.Namespace) -> int:
    from bench.plugins import installed_registry
    from bench.settings import resolve_params, with_plugin_defaults

    config, given = config_from_args(args)
    config.check()
    registry = installed_registry()
    specs = [lookup(registry, name) for name in config.plugins]
    resolve_params(specs, config.params)  # an unknown or invalid --param is refused before any row runs
    config = with_plugin_defaults(config, specs[0], given)
    return measure_and_finish(args, config, registry)


def measure_and_finish(
    args: argparse.Namespace,
    config: RunConfig,
    registry: Registry,
    *,
    axes: dict[str, list[Any]] | None = None,
    executor_factory: Any = None,
) -> int:
    """Run ``config`` (with ``axes``, a sweep), saving after every row; print and exit as
    ``bench run`` does (:func:`finish`)."""
    from bench.runner import run

    created = check_outputs(args)
    saver = Saver(Path(args.results_dir), args.output)
    try:
        outcome = run(
            config,
            registry,
            axes=axes,
            argv=["bench", *sys.argv[1:]],
            process_started=process_start_time(),
            on_update=saver,
            progress=None if args.quiet else progress_bar,
            executor_factory=executor_factory,
        )
    except BaseException:
        if created is not None and not saver.writers:
            try:
                created.rmdir()  # nothing was saved: leave no empty directory behind
            except OSError:
                pass
        raise
    if outcome.interrupted:
        ignore_further_signals()  # the document is marked interrupted; let it be saved and shown
    return finish(args, outcome.document, saver, outcome.interrupted)


def finish(args: argparse.Namespace, document: RunDocument, saver: Saver, interrupted: str | None) -> int:
    """Print the tables, report the saves, and choose the exit status."""
    from bench.cli.results import print_run

    print_run(document, args)
    saved = saver.report()
    if args.benchmark_json:
        from bench.report.export import to_pytest_benchmark
        from bench.results.storage import write_json_atomic

        try:
            write_json_atomic(Path(args.benchmark_json), to_pytest_benchmark(document))
        except ResultFileError as exc:
            saved = False
            print(f"bench: error: {exc}", file=sys.stderr)
        else:
            print(f"saved {args.benchmark_json} (pytest-benchmark layout)")
    if interrupted:
        kept = "saved" if saved and saver.writers else "not saved"
        print(f"bench: interrupted ({interrupted}); the rows measured so far are {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED[interrupted]
    statuses = {str(row.status) for row in document.results}  # failed, diverged and timeout rows exit 1
    if not saved or statuses - {"ok", "unavailable"}:
        return 1
    if args.require_devices and "unavailable" in statuses:
        print("bench: error: a required device is unavailable (see the rows above)", file=sys.stderr)
        return 1
    return 0


def ignore_further_signals() -> None:
    """After a run was interrupted, more Ctrl-C (or SIGTERM) must not cut the final save short."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def lookup(registry: Registry, name: str) -> ClassifierSpec:
    """``registry.get(name)``; an unknown name's error also names the plugins that failed to load."""
    try:
        return registry.get(name)
    except UsageError as exc:
        if not registry.broken:
            raise
        broken = "; ".join(f"{b.name} ({b.reason})" for b in registry.broken)
        raise UsageError(f"{exc}; plugins that failed to load: {broken} (see bench plugins)") from None


def progress_bar(label: str, total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="step", file=sys.stderr, leave=False, disable=not sys.stderr.isatty())


def process_start_time() -> float | None:
    """When this process started, as a ``time.time()`` value (to 10 ms), if known.

    On Linux from /proc (start time in clock ticks since boot, against the boot-time
    clock); psutil's create_time is only accurate to the boot time's whole second.
    """
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.time() - age
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - only used for the timeline
        return None
