"""``python -m bench.roofline``: an alias of ``bench roofline``."""

import sys

from bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["roofline", *sys.argv[1:]], prog="python -m bench.roofline"))
