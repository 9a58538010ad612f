"""``python -m bench.benchjson RUN.json [-o OUT]``: an alias of ``bench export`` (see
:mod:`bench.report.export` for the layout)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from bench.cli import main as bench_main

    return bench_main(["export", *(sys.argv[1:] if argv is None else argv)], prog="python -m bench.benchjson")


if __name__ == "__main__":
    raise SystemExit(main())
