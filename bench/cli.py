"""The ``bench`` command line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from bench import __version__
from bench.errors import BenchError, ResultFileError, Terminated, UsageError

if TYPE_CHECKING:
    from bench.classifier import ClassifierSpec
    from bench.plugins import Registry

EXIT_INTERRUPTED = {"SIGINT": 130, "SIGTERM": 143}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, not {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, not {value}")
    return value


def _csv(text: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, not {text!r}")
    return key.strip(), value.strip()


def _format(text: str) -> str:
    from bench.report import check_format

    try:
        return check_format(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("unknown --format", "unknown format", 1)) from None


DEBUG_HELP = "show tracebacks instead of one-line errors"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description="Benchmark image classifiers on CIFAR-10.")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    # --debug is also accepted after the command (bench run ... --debug); SUPPRESS keeps the
    # subcommand from resetting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def add_command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], **kwargs)

    run = add_command("run", help="train and measure classifiers")
    run.add_argument("--plugins", type=_csv, required=True, help="classifiers to run, e.g. tf-graph,tf-eager")
    run.add_argument("--devices", type=_csv, default=["cpu"],
                     help="cpu, gpu, gpu:N, or all (every device each plugin can use); default: cpu")
    run.add_argument("--require-devices", action="store_true",
                     help="exit non-zero when a requested device is unavailable")
    run.add_argument("--placement", choices=["feed", "resident"], default="feed",
                     help="feed: batches gathered on the host and handed over (the reference's way); "
                          "resident: the training set placed on the device once, steps pass indices")
    run.add_argument("--steps-per-call", type=_positive_int, default=1, metavar="K",
                     help="with --placement resident: let a classifier run K steps per call (a compiled loop)")
    run.add_argument("--no-roofline", action="store_true", help="skip the CPU roofline probe")
    run.add_argument("--steps", type=_positive_int, help="training steps (default: 1000, or the model's own)")
    run.add_argument("--batch-size", type=_positive_int, help="images per step (default: 100, or the model's own)")
    run.add_argument("--learning-rate", type=_positive_float,
                     help="SGD step size (default: 0.005, or the model's own)")
    run.add_argument("--seed", type=_seed, default=0, help="seeds the batch schedule and the frameworks (default: 0)")
    run.add_argument("--sampling", choices=["replacement", "epoch"], default="replacement",
                     help="batches drawn with replacement (the reference) or shuffled epochs")
    run.add_argument("--dataset", choices=["cifar10", "synthetic"], default="cifar10")
    run.add_argument("--preprocessing", choices=["reference", "standardize"], default="reference",
                     help="reference: 0-255 minus the per-pixel training mean; standardize: [0,1], per-channel z-score")
    run.add_argument("--data-dir", help="where CIFAR-10 is or goes (default: $BENCH_DATA_DIR, else the user cache)")
    run.add_argument("--offline", action="store_true", default=os.environ.get("BENCH_OFFLINE") == "1",
                     help="never download (also BENCH_OFFLINE=1)")
    run.add_argument("--threads", type=_positive_int,
                     help="threads each row's framework may use, 1 to 4 x the CPUs (default: its own)")
    run.add_argument("--isolation", choices=["process", "none"], default="process",
                     help="process: every row in a fresh worker process (default); "
                          "none: all rows in this process (debugging, profilers)")
    run.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                     help="stop a row that takes longer (status timeout) and go on with the next")
    run.add_argument("--param", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                     help="extra setting passed to the plugins (repeatable)")
    run.add_argument("--loss-every", type=_positive_int, default=10, help="keep the loss every N steps (default: 10)")
    run.add_argument("--results-dir", default="results", help="where each run is saved (default: results/)")
    run.add_argument("--output", help="also write the run's JSON to this file")
    run.add_argument("--benchmark-json", metavar="FILE",
                     help="also write the run in pytest-benchmark's JSON layout, for pytest-benchmark compare")
    run.add_argument("--format", type=_format, default="simple", help="any tabulate format (default: simple)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=cmd_run)

    plugins = add_command("plugins", help="list the installed classifiers")
    plugins.add_argument("--format", type=_format, default="simple")
    plugins.set_defaults(handler=cmd_plugins)

    data = add_command("data", help="show where CIFAR-10 is and whether it verifies")
    data.add_argument("--data-dir")
    data.add_argument("--offline", action="store_true", default=os.environ.get("BENCH_OFFLINE") == "1")
    data.add_argument("--format", type=_format, default="simple")
    data.set_defaults(handler=cmd_data)

    report = add_command("report", help="print a saved run again")
    report.add_argument("file")
    report.add_argument("--format", type=_format, default="simple")
    report.set_defaults(handler=cmd_report)

    compare = add_command("compare", help="put two saved runs side by side")
    compare.add_argument("baseline")
    compare.add_argument("candidate")
    compare.add_argument("--format", type=_format, default="simple")
    compare.add_argument("--fail-below", type=_positive_float, metavar="RATIO",
                         help="exit 1 when a row's steps/s in CANDIDATE is below RATIO x BASELINE's (e.g. 0.8)")
    compare.set_defaults(handler=cmd_compare)

    new_plugin = add_command("new-plugin", help="write a new plugin package to start from")
    new_plugin.add_argument("name", help="plugin and classifier name: lowercase letters, digits, dashes")
    new_plugin.add_argument("--dir", default=".", help="where to create bench-NAME/ (default: here)")
    new_plugin.set_defaults(handler=cmd_new_plugin)

    plot = add_command("plot", help="draw a saved run: loss curves and steps/s (needs matplotlib)")
    plot.add_argument("file", help="a result JSON file")
    plot.add_argument("-o", "--output", help="image file; .png, .svg or .pdf (default: FILE with .png)")
    plot.set_defaults(handler=cmd_plot)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from bench.plugins import installed_registry
    from bench.report import problems, results_table
    from bench.result import unique_result_path, write_json_atomic
    from bench.runner import RECIPE_KEYS, RunConfig, run, with_plugin_defaults

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
        isolation=args.isolation,
        timeout=args.timeout,
    )
    registry = installed_registry()
    config.check()
    specs = [_lookup(registry, name) for name in config.plugins]
    config = with_plugin_defaults(config, specs[0], set(given))
    targets: list[Path] = []
    last_error: dict[Path, str | None] = {}
    """Per target: None once the latest document is written there, else the latest error."""
    written: dict[Path, int] = {}
    """Per target: how many rows the file there holds."""

    def save(document: dict[str, Any]) -> None:
        if not targets:
            targets.append(unique_result_path(Path(args.results_dir), document["run_id"]))
            if args.output:
                targets.append(Path(args.output))
        for target in targets:
            try:
                write_json_atomic(target, document)
            except ResultFileError as exc:
                last_error[target] = str(exc)
            else:
                last_error[target] = None
                written[target] = len(document.get("results") or [])

    outcome = run(
        config,
        registry,
        argv=["bench", *sys.argv[1:]],
        process_started=_process_start_time(),
        on_update=save,
        progress=None if args.quiet else _progress_bar,
    )
    document = outcome.document
    if outcome.interrupted:
        _ignore_further_signals()  # the document is marked interrupted; let it be saved and shown
    print(results_table(document, args.format))
    for line in problems(document):
        print(f"  {line}")
    _print_extra_tables(document, args.format)
    save_failed = False
    for target in targets:
        error = last_error.get(target)
        if target in last_error and error is None:
            print(f"saved {target}")
        elif error is not None:
            save_failed = True
            earlier = f" ({target} holds only the first {written[target]} row(s))" if target in written else ""
            print(f"bench: error: {error}{earlier}", file=sys.stderr)
    if args.benchmark_json:
        from bench.benchjson import to_pytest_benchmark

        try:
            write_json_atomic(Path(args.benchmark_json), to_pytest_benchmark(document))
        except ResultFileError as exc:
            save_failed = True
            print(f"bench: error: {exc}", file=sys.stderr)
        else:
            print(f"saved {args.benchmark_json} (pytest-benchmark layout)")
    if outcome.interrupted:
        kept = "not saved" if save_failed or not targets else "saved"
        print(f"bench: interrupted ({outcome.interrupted}); the rows measured so far are {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED[outcome.interrupted]
    statuses = {row.status for row in outcome.rows}  # failed, diverged and timeout rows exit 1
    if save_failed or statuses - {"ok", "unavailable"}:
        return 1
    if args.require_devices and "unavailable" in statuses:
        print("bench: error: a required device is unavailable (see the rows above)", file=sys.stderr)
        return 1
    return 0


def _ignore_further_signals() -> None:
    """After a run was interrupted, more Ctrl-C (or SIGTERM) must not cut the final save short."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _lookup(registry: Registry, name: str) -> ClassifierSpec:
    """``registry.get(name)``; an unknown name's error also names the plugins that failed to load."""
    try:
        return registry.get(name)
    except UsageError as exc:
        if not registry.broken:
            raise
        broken = "; ".join(f"{b.name} ({b.reason})" for b in registry.broken)
        raise UsageError(f"{exc}; plugins that failed to load: {broken} (see bench plugins)") from None


def _progress_bar(label: str, total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="step", file=sys.stderr, leave=False, disable=not sys.stderr.isatty())


def _process_start_time() -> float | None:
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


def cmd_plugins(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bench.plugins import installed_registry

    registry = installed_registry()
    body = [
        [spec.name, spec.plugin, f"{spec.distribution} {spec.version}".strip(), spec.description]
        for spec in sorted(registry.classifiers.values(), key=lambda s: s.name)
    ]
    body += [["-", broken.name, "BROKEN", broken.reason] for broken in registry.broken]
    print(tabulate(body, headers=["classifier", "plugin", "from", "description"], tablefmt=args.format))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bench.dataset import describe_data

    location, rows, ok = describe_data(args.data_dir, offline=args.offline)
    print(f"CIFAR-10 location: {location}")
    print(tabulate(rows, headers=["file", "status"], tablefmt=args.format))
    return 0 if ok else 1


def _print_extra_tables(document: dict[str, Any], fmt: str) -> None:
    """What follows the results table: roofline, GPU/CPU speed-ups, the timeline."""
    from bench.report import device_speedup_table, roofline_line, timeline_table

    line = roofline_line(document)
    if line:
        print(line)
    speedups = device_speedup_table(document, fmt)
    if speedups:
        print()
        print(speedups)
    if document.get("timeline"):
        print()
        print(timeline_table(document, fmt))


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import problems, results_table
    from bench.result import load_run

    document = load_run(args.file)
    print(results_table(document, args.format))
    for line in problems(document):
        print(f"  {line}")
    _print_extra_tables(document, args.format)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.report import compare_table
    from bench.result import load_run

    baseline, candidate = load_run(args.baseline), load_run(args.candidate)
    print(f"A: {args.baseline}\nB: {args.candidate}")
    print(compare_table(baseline, candidate, args.format))
    if args.fail_below is None:
        return 0
    from bench.regression import comparability_notes, compare_runs, regression_lines

    for note in comparability_notes(baseline, candidate):
        print(f"note: {note}")
    lines, failed = regression_lines(compare_runs(baseline, candidate, args.fail_below), args.fail_below)
    print("\n".join(lines))
    return 1 if failed else 0


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from bench.scaffold import next_steps, scaffold_plugin

    path = scaffold_plugin(args.name, Path(args.dir))
    print("\n".join(next_steps(path, args.name)))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.plot import default_output, plot_run
    from bench.result import load_run

    document = load_run(args.file)
    path = plot_run(document, Path(args.output) if args.output else default_output(args.file))
    print(f"saved {path}")
    return 0


def _one_line(exc: BaseException) -> str:
    """The error's message on one line (a multi-line message is joined)."""
    return " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _tolerant_output() -> None:
    """Text that the terminal cannot encode (from a plugin or a result file) is escaped, not fatal."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError, TypeError):  # pragma: no cover - a stream that cannot
                pass


def main(argv: list[str] | None = None) -> int:
    _tolerant_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return int(args.handler(args))
    except BenchError as exc:
        if args.debug:
            raise
        print(f"bench: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        if args.debug:
            raise
        hint = " (fewer --steps or a smaller --batch-size may help)" if args.command == "run" else ""
        print(f"bench: error: out of memory{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("bench: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        if args.debug:
            raise
        print("bench: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # the reader went away (bench run | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if args.debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:500]
        print(f"bench: internal error: {type(exc).__name__}: {first} (run with --debug for details)", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
