"""``python -m bench.regression``: an alias of ``bench check``."""

import sys

from bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["check", *sys.argv[1:]], prog="python -m bench.regression"))
