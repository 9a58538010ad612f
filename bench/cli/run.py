"""``bench run``: train and measure classifiers, print the tables, save the run."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cli import options
from bench.errors import ResultFileError, UsageError
from bench.settings import RECIPE_KEYS

if TYPE_CHECKING:
    from bench.plan import RunPlan
    from bench.results.model import RunDocument
    from bench.settings import RunConfig

EXIT_INTERRUPTED = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


def add_run_options(run: argparse.ArgumentParser, *, lists: bool = False) -> None:
    """The options of a run, built from :class:`bench.settings.RunConfig`'s declarations
    (``bench run``; ``bench sweep`` takes the same, with ``lists``: the settings it can vary
    then take comma-separated lists, and their values are lists)."""
    from bench.execute import EXECUTORS
    from bench.settings import ISOLATION_EXECUTORS, RunConfig

    for item in fields(RunConfig):
        meta = item.metadata
        if not meta.get("cli", True):
            continue
        flag = meta.get("flag") or "--" + item.name.replace("_", "-")
        sweep = lists and meta.get("sweep")
        several = " (a comma list to sweep, e.g. 1,2,4)" if sweep else ""
        if sweep and meta.get("convert") == "key_value":
            several = " (KEY=A,B sweeps the values)"
        kwargs: dict[str, Any] = {"dest": item.name, "help": meta["help"] + several}
        convert, choices = meta.get("convert"), meta.get("choices")
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if convert == "flag":
            kwargs.update(action="store_true", default=options.env_offline() if item.name == "offline" else False)
        elif convert == "negated":
            kwargs.update(action="store_false", default=True)
        elif convert == "key_value":
            kwargs.update(type=options.key_value, action="append", default=[])
        elif choices:
            if sweep:
                kwargs.update(type=options.choice_list(choices), metavar="|".join(choices) + "[,...]")
            else:
                kwargs["choices"] = choices
            kwargs["default"] = item.default
        else:
            if convert == "integer":
                kwargs["type"] = options.integer_list if sweep else options.integer
            elif convert is not None:
                kwargs["type"] = getattr(options, convert)
            if item.name not in RECIPE_KEYS and item.default is not MISSING:
                kwargs["default"] = item.default
            elif item.name not in RECIPE_KEYS and item.default_factory is not MISSING:
                kwargs["default"] = item.default_factory()
        if item.name == "plugins":
            kwargs["default"] = None  # required: missing_plugins() says so, listing the installed ones
        if item.name == "executor":
            kwargs["metavar"] = "|".join(EXECUTORS)
        run.add_argument(flag, **kwargs)
    run.add_argument("--isolation", choices=tuple(ISOLATION_EXECUTORS), default=None,
                     help="the older name of --executor: process is --executor process, none is --executor inprocess")
    run.add_argument("--require-devices", action="store_true",
                     help="exit non-zero when a requested device is unavailable")
    run.add_argument("--results-dir", default="results", metavar="DIR",
                     help="where each run is saved (default: results/)")
    run.add_argument("--output", metavar="FILE", help="also write the run's JSON to this file")
    run.add_argument("--benchmark-json", metavar="FILE",
                     help="also write the run in pytest-benchmark's JSON layout, for pytest-benchmark compare")
    options.add_table_columns(run)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--resume", metavar="FILE",
                     help="measure only the rows this saved run (of the same command) has no ok row of; its ok "
                          "rows are kept in the new document as they are")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser("run", parents=[common], help="train and measure classifiers",
                              description="Train the classifiers on identical seeded batches, each row in its own "
                                          "process, and report accuracy, speed, time and memory.")
    add_run_options(run)
    run.set_defaults(handler=cmd_run)


def config_from_args(args: argparse.Namespace) -> tuple[RunConfig, set[str]]:
    """The run's settings as given, and which recipe settings the user gave (a ``--param``
    key given twice is a UsageError)."""
    from bench.settings import ISOLATION_EXECUTORS, RunConfig, params_given

    if not getattr(args, "plugins", None):
        raise missing_plugins()
    values = {item.name: getattr(args, item.name) for item in fields(RunConfig) if hasattr(args, item.name)}
    pairs = values.get("params") or []
    values["params"] = pairs if isinstance(pairs, dict) else params_given(pairs)[0]
    given = {key for key in RECIPE_KEYS if values.get(key) is not None}
    for key in RECIPE_KEYS:
        if values.get(key) is None:
            values.pop(key, None)  # the recipe's default, or the model's own
    if args.isolation is not None:
        implied = ISOLATION_EXECUTORS[args.isolation]
        if args.executor not in ("process", "local", implied):
            raise UsageError(f"--isolation {args.isolation} and --executor {args.executor} disagree; "
                             "give --executor alone")
        values["executor"] = implied if args.executor in ("process", "local") else args.executor
    return RunConfig(**values), given


def missing_plugins() -> UsageError:
    """``--plugins`` was not given: say which classifiers there are to choose from."""
    from bench.plugins import installed_registry

    names = ", ".join(sorted(installed_registry().classifiers)) or "none installed"
    return UsageError(f"--plugins is required, e.g. --plugins tf-graph,tf-eager; installed: {names} "
                      "(bench plugins describes them)")


def check_outputs(args: argparse.Namespace) -> Path | None:
    """Refuse output paths that cannot work, before any row runs; return the results
    directory if this created it."""
    from bench.results.storage import check_replaceable, check_writable_directory, remove_stale_temporaries

    if not str(args.results_dir).strip():
        raise UsageError("--results-dir must name a directory, not ''")
    # Absolute from here on: a plugin that changes directory (--executor inprocess) moves nothing.
    for name in ("results_dir", "output", "benchmark_json"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
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
        for writer in self.writers:  # one target's failure stops neither the others nor the run
            try:
                writer.save(document)
            except (ResultFileError, OSError, ValueError) as exc:
                self.error[writer.path] = str(exc) if isinstance(exc, ResultFileError) else \
                    f"cannot write results to {writer.path}: {getattr(exc, 'strerror', None) or exc}"
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
    from bench.plan import prepare_run
    from bench.plugins import installed_registry

    config, given = config_from_args(args)
    config.check()
    plan = prepare_run(config, installed_registry(), given=given)
    return measure_and_finish(args, plan)


def measure_and_finish(args: argparse.Namespace, plan: RunPlan) -> int:
    """Run ``plan``, saving after every row; print and exit as ``bench run`` does
    (:func:`finish`)."""
    from bench.plugins import installed_registry
    from bench.runner import run

    previous = None
    if getattr(args, "resume", None):
        from bench.results.storage import load_run
        from bench.runner import check_resumable

        previous = load_run(args.resume)
        check_resumable(plan, previous, args.resume)
    created = check_outputs(args)
    saver = Saver(Path(args.results_dir), args.output)
    try:
        outcome = run(
            plan,
            installed_registry(),
            argv=["bench", *sys.argv[1:]],
            process_started=process_start_time(),
            on_update=saver,
            progress=None if args.quiet else progress_bar,
            notify=notice,
            resume=previous,
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
    if args.debug:
        print_outputs(document)
    saved = saver.report()
    if args.benchmark_json:
        from bench.report.export import to_pytest_benchmark
        from bench.results.storage import write_json_atomic

        try:
            write_json_atomic(Path(args.benchmark_json), to_pytest_benchmark(document))
        except (ResultFileError, OSError, ValueError) as exc:
            saved = False
            print(f"bench: error: {exc}", file=sys.stderr)
        else:
            print(f"saved {args.benchmark_json} (pytest-benchmark layout)")
    if interrupted:
        kept = "saved" if saved and saver.writers else "not saved"
        why = "the Ray cluster was lost" if interrupted == "cluster-lost" else f"interrupted ({interrupted})"
        again = f" (measure the rest with --resume {saver.writers[0].path})" if saved and saver.writers else ""
        print(f"bench: {why}; the rows measured so far are {kept}{again}", file=sys.stderr)
        return EXIT_INTERRUPTED.get(interrupted, 1)
    statuses = {str(row.status) for row in document.results}  # failed, diverged and timeout rows exit 1
    if not saved or statuses - {"ok", "unavailable"}:
        return 1
    if args.require_devices and "unavailable" in statuses:
        print("bench: error: a required device is unavailable (see the rows above)", file=sys.stderr)
        return 1
    return 0


def print_outputs(document: RunDocument) -> None:
    """``--debug``: what each row's worker wrote to its standard output and error, on standard error."""
    from bench.report.run import output_lines
    from bench.results.identity import label_of

    for row in document.results:
        lines = output_lines(row)
        if lines:
            print(f"bench: output of {label_of(row)}:", *(f"  {line}" for line in lines), sep="\n", file=sys.stderr)


def ignore_further_signals() -> None:
    """After a run was interrupted, more Ctrl-C (or SIGTERM) must not cut the final save short."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def notice(message: str) -> None:
    """A line on standard error before a step of the run that may take more than a second."""
    print(f"bench: {message}", file=sys.stderr, flush=True)  # one line each, paths whole


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
