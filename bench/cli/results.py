"""Saved runs: ``bench report``, ``bench compare``, ``bench plot`` and ``bench export``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli import options
from bench.errors import ResultFileError
from bench.results.model import RunDocument
from bench.results.statistics import THRESHOLD


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    from bench.report.table import COLUMN_KEYS

    report = commands.add_parser("report", parents=[common], help="print a saved run again",
                                 description="Print a saved run: what ran where, its rows, and where the time went. "
                                             f"Columns: {', '.join(COLUMN_KEYS)}.")
    report.add_argument("file", help="a result JSON file (bench run saves them under results/)")
    options.add_table_columns(report)
    report.set_defaults(handler=cmd_report)

    compare = commands.add_parser("compare", parents=[common], help="put two saved runs side by side",
                                  description="Every row of either run, with steps/s and accuracy in both, and per "
                                              "row the ratio B/A, its 95% interval, a p-value and a verdict "
                                              "(faster, slower or same: a change counts when it is significant and "
                                              "past --threshold); --fail-on-slower or --fail-below makes it a gate "
                                              "for CI. See docs/statistics.md.")
    compare.add_argument("baseline", help="run A, the baseline (a result JSON file)")
    compare.add_argument("candidate", help="run B, the candidate (a result JSON file)")
    compare.add_argument("--format", type=compare_format, default="simple", metavar="FORMAT",
                         help="json (ratio, ci95, p_value, verdict per row), or a table format: any of tabulate's "
                              "(simple, github, grid, ...); default: simple")
    compare.add_argument("--threshold", type=options.fraction, default=THRESHOLD, metavar="FRACTION",
                         help=f"changes of B/A within 1 +- FRACTION are noise, significant or not (default: "
                              f"{THRESHOLD:g}, i.e. {100 * THRESHOLD:g}%%)")
    compare.add_argument("--fail-on-slower", action="store_true",
                         help="exit 1 when a row's verdict is slower (a significant slowdown past --threshold), "
                              "when CANDIDATE lacks or failed a row BASELINE measured, or was interrupted")
    compare.add_argument("--fail-below", type=options.positive_number, metavar="RATIO",
                         help="exit 1 when a row's steps/s in CANDIDATE is below RATIO x BASELINE's (e.g. 0.8), "
                              "noise or not, and as --fail-on-slower for lost rows")
    compare.add_argument("--detect", type=options.fraction, default=THRESHOLD, metavar="FRACTION",
                         help="the change whose repeats needed are reported (default: "
                              f"{THRESHOLD:g}, i.e. {100 * THRESHOLD:g}%%)")
    compare.set_defaults(handler=cmd_compare)

    plot = commands.add_parser("plot", parents=[common], help="draw a saved run (needs matplotlib)",
                               description="Loss curves and steps/s of a saved run, or its roofline (--roofline). "
                                           "A sweep gets FILE-scaling.png (steps/s and images/s against batch size "
                                           "and threads) and FILE-seeds.png (accuracy over seeds) instead.")
    plot.add_argument("file", help="a result JSON file")
    plot.add_argument("-o", "--output", metavar="PATH",
                      help="image file (.png, .svg or .pdf), or a directory to write FILE's name .png into "
                           "(default: FILE with .png)")
    plot.add_argument("--roofline", action="store_true",
                      help="draw the roofline: arithmetic intensity against FLOP/s, the ceilings and one point a row")
    plot.set_defaults(handler=cmd_plot)

    export = commands.add_parser("export", parents=[common], help="write a saved run in pytest-benchmark's layout",
                                 description="Write a saved run as pytest-benchmark JSON, for pytest-benchmark compare.")
    export.add_argument("file", help="a bench result JSON file")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="where to write (default: FILE with .pytest-benchmark.json)")
    export.set_defaults(handler=cmd_export)


def print_run(document: RunDocument, args: argparse.Namespace, identity: bool = False) -> None:
    """The results table, the rows' problems, the roofline, speed-ups and the timeline
    (``identity``: what run this is, first)."""
    from bench.report.run import render_run

    print(render_run(document, args.format, identity=identity, **options.table_options(args)))


def cmd_report(args: argparse.Namespace) -> int:
    from bench.results.storage import load_run

    print_run(load_run(args.file), args, identity=True)
    return 0


def compare_format(text: str) -> str:
    """``--format`` of ``bench compare``: ``json`` or a table format."""
    return text if text == "json" else options.table_format(text)


def cmd_compare(args: argparse.Namespace) -> int:
    import warnings

    # scipy warns of precision loss when both sides' steps are nearly identical; the verdict
    # (same) says it, and a library's warning is no line for the user
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"scipy\.")
    from bench.report.compare import render_comparison
    from bench.results.compare import check_comparable, compare_runs
    from bench.results.storage import load_run

    baseline, candidate = load_run(args.baseline), load_run(args.candidate)
    check_comparable(baseline, candidate)
    comparisons = compare_runs(baseline, candidate, args.fail_below, fail_on_slower=args.fail_on_slower,
                               threshold=args.threshold)
    text, failed = render_comparison((args.baseline, args.candidate), baseline, candidate, comparisons, args.format,
                                     args.fail_below, fail_on_slower=args.fail_on_slower, threshold=args.threshold,
                                     detect=args.detect)
    print(text)
    return 1 if failed else 0


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.report.plot import plot_document
    from bench.report.plot.figure import output_path
    from bench.report.plot.roofline import plot_roofline
    from bench.results.storage import load_run

    document = load_run(args.file)
    target = output_path(args.file, args.output, "-roofline" if args.roofline else "")
    paths = [plot_roofline(document, target)] if args.roofline else plot_document(document, target)
    for path in paths:
        print(f"saved {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bench.report.export import skipped_lines, to_pytest_benchmark
    from bench.results.storage import load_run, write_json_atomic

    source = Path(args.file)
    target = Path(args.output) if args.output else source.with_suffix(".pytest-benchmark.json")
    document = load_run(source)
    converted = to_pytest_benchmark(document)
    if not converted["benchmarks"]:
        skipped = len(skipped_lines(document))
        why = (f"its {skipped} row(s) are schema-1 rows without per-step times" if skipped
               else "it has no ok row")
        raise ResultFileError(f"nothing to export from {source}: {why}; wrote nothing")
    write_json_atomic(target, converted)
    print(f"wrote {target} ({len(converted['benchmarks'])} benchmarks)")
    for line in skipped_lines(document):
        print(f"  {line}")
    return 0
