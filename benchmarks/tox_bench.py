"""``tox -e bench``: run tests/benchmarks for real, save the run, compare with the last one.

    python tests/benchmarks/tox_bench.py [PYTEST ARGS...]

Runs ``pytest tests/benchmarks --benchmark-enable --benchmark-autosave`` (runs are saved
under ``.benchmarks/<machine id>/``; ``BENCH_BENCHMARK_STORAGE`` names another folder).
When this machine already has a saved run, it adds ``--benchmark-compare
--benchmark-compare-fail=min:25%``, so a benchmark whose fastest round got more than 25 %
slower than last time fails. ``BENCH_COMPARE_FAIL`` overrides the checks, comma-separated
(e.g. ``median:10%`` or ``min:20%,median:50%``). The very first run has nothing to compare
with (pytest-benchmark would stop with "--benchmark-compare-fail requires valid
--benchmark-compare"), so it only saves and becomes the baseline.

Why ``min`` and not ``median`` by default: noise on a shared machine only adds time, so
the fastest round moves little while the median follows whoever else is busy. Two
back-to-back runs of the same commit here differed by 78 % in one median
(test_train_step[tf-mlp-graph]) and by at most 15 % in any min. Comparing against another
day's numbers still only means much on a quiet, dedicated machine; on a shared CI runner
the within-run check (test_bench_regression.py) is the gate.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FAIL = "min:25%"


def saved_runs(storage: Path) -> list[Path]:
    """This machine's saved runs, oldest first, as pytest-benchmark's file storage finds them."""
    from pytest_benchmark.utils import get_machine_id

    return sorted((storage / get_machine_id()).glob("[0-9][0-9][0-9][0-9]_*.json"))


def command(pytest_args: list[str], storage: Path) -> list[str]:
    args = [
        sys.executable, "-m", "pytest", "tests/benchmarks",
        "--benchmark-enable", "--benchmark-autosave", f"--benchmark-storage=file://{storage}",
    ]
    previous = saved_runs(storage)
    if previous:
        fail = os.environ.get("BENCH_COMPARE_FAIL") or DEFAULT_FAIL
        checks = [part.strip() for part in fail.split(",") if part.strip()]
        args += ["--benchmark-compare", *(f"--benchmark-compare-fail={check}" for check in checks)]
        print(f"tox_bench: comparing with {previous[-1].name} (fail on {fail})", flush=True)
    else:
        print(f"tox_bench: no saved run in {storage} for this machine: this run becomes the baseline", flush=True)
    return args + pytest_args


def main(argv: list[str]) -> int:
    storage = Path(os.environ.get("BENCH_BENCHMARK_STORAGE") or ROOT / ".benchmarks").resolve()
    return subprocess.call(command(argv, storage), cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
