"""The ``bench`` command line: one program, a module per group of subcommands.

- :mod:`bench.cli.run`: ``bench run``
- :mod:`bench.cli.sweep`: ``bench sweep``
- :mod:`bench.cli.results`: ``bench report``, ``compare``, ``plot``, ``export``
- :mod:`bench.cli.plugins`: ``bench plugins``, ``new-plugin``
- :mod:`bench.cli.data`: ``bench data``
- :mod:`bench.cli.check`: ``bench check``
- :mod:`bench.cli.roofline`: ``bench roofline``

One error policy for all of them (:func:`main`): an expected failure is one line,
``bench: error: ...``, and an exit status (2 for usage, 1 otherwise, 130/143/129 for
Ctrl-C/SIGTERM/SIGHUP); a traceback only with ``--debug``. SIGHUP (the terminal closed) is
handled as SIGTERM is. A plugin that leaves threads running (``--executor inprocess``)
cannot hold bench open: once everything is written, bench exits without waiting for them.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys

from bench import __version__
from bench.cli.options import Parser
from bench.errors import BenchError, Terminated

DEBUG_HELP = "show tracebacks instead of one-line errors"


def build_parser() -> argparse.ArgumentParser:
    from bench.cli import check, data, plugins, results, roofline, run, sweep

    parser = Parser(prog="bench", description="Benchmark image classifiers on CIFAR-10.")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    # --debug is also accepted after the command (bench run ... --debug); SUPPRESS keeps the
    # subcommand from resetting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for module in (run, sweep, results, plugins, data, check, roofline):
        module.register(commands, common)
    return parser


def one_line(exc: BaseException) -> str:
    """The error's message on one line (a multi-line message is joined)."""
    return " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated("SIGHUP" if signum == signal.SIGHUP else "SIGTERM")


def _exit_past_threads(code: int) -> None:
    """Exit now, with ``code``, if threads that Python would wait for are still running (a
    plugin's, in bench's own process): say so, flush, and leave without joining them."""
    import threading

    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if not left:
        return
    names = ", ".join(t.name for t in left[:5])
    try:
        print(f"bench: note: {len(left)} thread(s) a plugin started are still running ({names}); "
              "exiting without waiting for them", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _tolerant_output() -> None:
    """Text that the terminal cannot encode (from a plugin or a result file) is escaped, not fatal."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError, TypeError):  # pragma: no cover - a stream that cannot
                pass


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None, *, prog: str = "bench") -> int:
    _tolerant_output()
    args = build_parser().parse_args(argv)
    code = _handle(args, prog)
    if getattr(args, "executor", None) == "inprocess" or getattr(args, "isolation", None) == "none":
        _exit_past_threads(code)  # plugins ran in this process
    return code


def _handle(args: argparse.Namespace, prog: str) -> int:
    """Run the command; an expected failure is one line and an exit status."""
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = int(args.handler(args))
        sys.stdout.flush()
        return code
    except BenchError as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        if args.debug:
            raise
        hint = " (fewer --steps or a smaller --batch-size may help)" if args.command == "run" else ""
        print(f"{prog}: error: out of memory{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        if args.debug:
            raise
        print(f"{prog}: terminated ({exc.name})", file=sys.stderr)
        return 129 if exc.name == "SIGHUP" else 143
    except BrokenPipeError:  # the reader went away (bench run | head): stop quietly
        _silence_stdout()
        return 141
    except OSError as exc:
        if args.debug:
            raise
        if exc.errno in (errno.ENOSPC, errno.EIO, errno.EFBIG):  # standard output on a full disk, /dev/full
            _silence_stdout()
            print(f"{prog}: error: cannot write the output: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"{prog}: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:500]
        print(f"{prog}: internal error: {type(exc).__name__}: {first} (run with --debug for details)",
              file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
