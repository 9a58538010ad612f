"""How often ``bench check`` fails an unchanged tree on a busy machine (its false alarms).

    python benchmarks/check_under_load.py [--runs 8] [--quiet]

Runs the real command, ``bench check``, ``--runs`` times in a row while other processes
keep the CPUs busy: a 2-thread BLAS loop (600 x 600 matrix products) and one spinning
Python process per CPU, all in this script's session, so the check gets only a share of the
CPU (started apart, in a session of their own, the kernel's autogroup would shield it).
``--quiet`` starts no load. Every check should pass: the code did not change.

It prints each run's exit status, load average and seconds, then every classifier's ratio
range over the runs, in CPU time (what the check decides on) and on the wall clock.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^(ok|FAIL): (\S+): CPU step time / reference = ([0-9.]+).*wall-clock ratio ([0-9.]+)")
BLAS_LOOP = "import numpy as np\na = np.random.rand(600, 600)\nwhile True:\n    a @ a\n"
SPIN = "while True:\n    pass\n"


def start_load() -> list[subprocess.Popen[bytes]]:
    """The BLAS loop and one spinner per CPU, in this process's session."""
    blas = subprocess.Popen([sys.executable, "-c", BLAS_LOOP], env={**os.environ, "OPENBLAS_NUM_THREADS": "2"})
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(os.cpu_count() or 1)]
    return [blas, *spinners]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--quiet", action="store_true", help="start no load")
    args = parser.parse_args(argv)
    load = [] if args.quiet else start_load()
    ratios: dict[str, list[tuple[float, float]]] = defaultdict(list)
    passed = 0
    try:
        time.sleep(0 if args.quiet else 3)
        for run in range(1, args.runs + 1):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "bench", "check"], capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - start
            passed += done.returncode == 0
            print(f"run {run}: exit {done.returncode}, load average {os.getloadavg()[0]:.1f}, {seconds:.0f} s")
            for line in done.stdout.splitlines():
                match = LINE.match(line)
                if match:
                    ratios[match[2]].append((float(match[3]), float(match[4])))
                elif line.startswith(("FAIL", "measured again", "past a bound")):
                    print(f"  {line}")
    finally:
        for process in load:
            process.kill()
    print(f"passed {passed} of {args.runs}" + ("" if args.quiet else " under load"))
    for name, values in ratios.items():
        cpu, wall = [c for c, _ in values], [w for _, w in values]
        print(f"{name:14s} CPU time {min(cpu):6.2f}-{max(cpu):6.2f}   wall clock {min(wall):6.2f}-{max(wall):6.2f}")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
