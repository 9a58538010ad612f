"""``python -m bench`` and the ``bench`` console script."""

from __future__ import annotations

import sys


def run() -> int:
    """Import the command line and run it; Ctrl-C while importing exits 130 quietly too."""
    try:
        from bench.cli import main
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
