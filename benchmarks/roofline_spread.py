"""How well fresh measurements of the CPU ceilings agree: N processes, each ``python -m
bench.roofline --remeasure --json``, for each thread setting, alternated; prints every
result and the spread (max / min - 1) of each ceiling. The cache ends up holding the last.

    python benchmarks/roofline_spread.py [--runs 5] [--threads default,1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def measure(threads: str) -> dict:
    command = [sys.executable, "-m", "bench.roofline", "--remeasure", "--json"]
    if threads != "default":
        command += ["--threads", threads]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", default="default,1", help="comma-separated: default (every core) or N")
    args = parser.parse_args()
    settings = [t.strip() for t in args.threads.split(",") if t.strip()]
    results: dict[str, list[dict]] = {t: [] for t in settings}
    for run in range(args.runs):
        for threads in settings:
            ceilings = measure(threads)
            results[threads].append(ceilings)
            print(f"run {run + 1} threads {threads}: {ceilings['peak_flops_per_second'] / 1e9:.1f} GFLOP/s, "
                  f"{ceilings['memory_bytes_per_second'] / 1e9:.2f} GB/s ({ceilings['measure_seconds']:.1f} s)", flush=True)
    for threads, runs in results.items():
        for key, unit, scale in (("peak_flops_per_second", "GFLOP/s", 1e9), ("memory_bytes_per_second", "GB/s", 1e9)):
            values = [r[key] / scale for r in runs]
            print(f"threads {threads} {unit}: {', '.join(f'{v:.1f}' for v in values)}; "
                  f"min {min(values):.1f}, max {max(values):.1f}, spread {100 * (max(values) / min(values) - 1):.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
