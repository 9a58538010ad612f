"""``python -m bench.regression [--bounds FILE]``; see :mod:`bench.regression.cli`."""

from bench.regression.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
