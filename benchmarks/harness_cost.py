"""What bench costs around the timed region, measured the way a user meets it.

    python benchmarks/harness_cost.py --data-dir CIFAR10_DIR [--pairs 5] [--only whole,graph,sweep,dry-run,memory]

Every figure is a whole command's wall-clock time (or peak memory), paired and alternated
(A, B, A, B, ...) so that a change in the machine's load hits both sides alike; medians and
their ratio are printed, with the machine (CPU model, cores) and its load average.

- ``whole``: ``bench run --plugins tf-graph,tf-eager --data-dir DATA`` against the reference
  script ``python benchmarks/seed_reference.py DATA 0`` (target: at most 0.8x).
- ``graph``: ``bench run --plugins tf-graph --data-dir DATA`` against the same script
  (target: at most 0.42x).
- ``sweep``: seconds until the first row of ``bench sweep --plugins numpy --dataset
  synthetic --seed 0,...,399`` (1000 steps a row) is saved (target: 4 s); the sweep is then
  stopped.
- ``dry-run``: ``bench sweep --dry-run`` of 20,000 seeds (target: 3 s).
- ``memory``: the bench process's own peak resident memory (``VmHWM``, not its workers')
  for ``bench sweep --plugins tf-mlp-graph --param hidden=4000 --steps 20`` over 1 seed and
  over ``--memory-rows`` seeds (target: within 150 MB for 100 rows).

Caches are warmed first (the prepared copy of CIFAR-10, the CPU ceilings, the OS's file
cache) by one untimed run of each command. Use the same ``BENCH_CACHE_DIR`` as the timed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = [sys.executable, "-m", "bench"]
PARTS = ("whole", "graph", "sweep", "dry-run", "memory")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs"


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def timed(command: list[str]) -> float:
    """Wall-clock seconds of ``command``; a failing command ends the script with its last error line."""
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"harness_cost: {' '.join(command[:6])} ... exited with {proc.returncode}: {last}")
    return seconds


def paired(name_a: str, a: Callable[[], float], name_b: str, b: Callable[[], float], pairs: int,
           target: float | None = None) -> None:
    """``a`` and ``b`` alternated ``pairs`` times after one untimed warm-up each; medians and ratio."""
    a(), b()
    times_a, times_b = [], []
    for _ in range(pairs):
        times_a.append(a())
        times_b.append(b())
    med_a, med_b = statistics.median(times_a), statistics.median(times_b)
    ratio = med_a / med_b
    verdict = "" if target is None else f"  (target <= {target:g}x: {'met' if ratio <= target else 'NOT met'})"
    print(f"  {name_a}: median {med_a:.2f} s  {' '.join(f'{t:.2f}' for t in times_a)}")
    print(f"  {name_b}: median {med_b:.2f} s  {' '.join(f'{t:.2f}' for t in times_b)}")
    print(f"  ratio {ratio:.2f}x{verdict}   load average now {load()}")


def bench_run(data_dir: str, plugins: str) -> Callable[[], float]:
    def run() -> float:
        with tempfile.TemporaryDirectory(prefix="bench-cost-") as results:
            return timed([*BENCH, "run", "--plugins", plugins, "--data-dir", data_dir, "--results-dir", results])

    return run


def reference(data_dir: str) -> Callable[[], float]:
    return lambda: timed([sys.executable, str(HERE / "seed_reference.py"), data_dir, "0"])


def first_row_seconds(seeds: int) -> float:
    """Seconds from starting a ``seeds``-seed numpy sweep until its first row is saved."""
    seed_list = ",".join(map(str, range(seeds)))
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as results:
        start = time.perf_counter()
        proc = subprocess.Popen([*BENCH, "sweep", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "1000",
                                 "--seed", seed_list, "--results-dir", results, "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            while proc.poll() is None:
                for path in Path(results).glob("*.json"):
                    try:
                        if json.loads(path.read_text()).get("results"):
                            return time.perf_counter() - start
                    except (OSError, ValueError):
                        pass
                time.sleep(0.02)
            raise RuntimeError(f"the sweep ended (exit {proc.returncode}) before saving a row")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def dry_run_seconds(seeds: int) -> float:
    seed_list = ",".join(map(str, range(seeds)))
    return timed([*BENCH, "sweep", "--plugins", "numpy", "--dataset", "synthetic", "--seed", seed_list, "--dry-run"])


def parent_peak_mib(rows: int) -> float:
    """The bench process's own peak resident set (MiB) over a ``rows``-seed sweep of tf-mlp-graph."""
    seed_list = ",".join(map(str, range(rows)))
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as results:
        proc = subprocess.Popen([*BENCH, "sweep", "--plugins", "tf-mlp-graph", "--param", "hidden=4000",
                                 "--dataset", "synthetic", "--steps", "20", "--seed", seed_list,
                                 "--results-dir", results, "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.05)
        if proc.returncode != 0:
            raise RuntimeError(f"the sweep failed (exit {proc.returncode})")
        return peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="CIFAR-10 (for whole and graph)")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma list of: {', '.join(PARTS)}")
    parser.add_argument("--sweep-seeds", type=int, default=400)
    parser.add_argument("--dry-run-seeds", type=int, default=20_000)
    parser.add_argument("--memory-rows", type=int, default=100)
    args = parser.parse_args()
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        parser.error(f"unknown part {', '.join(unknown)}; choose from: {', '.join(PARTS)}")
    if {"whole", "graph"} & set(parts) and not args.data_dir:
        parser.error("whole and graph need --data-dir")
    print(f"machine: {machine()}; load average {load()}")
    if "whole" in parts:
        print("bench run --plugins tf-graph,tf-eager against the reference script:")
        paired("bench", bench_run(args.data_dir, "tf-graph,tf-eager"), "reference", reference(args.data_dir),
               args.pairs, target=0.8)
    if "graph" in parts:
        print("bench run --plugins tf-graph against the reference script:")
        paired("bench", bench_run(args.data_dir, "tf-graph"), "reference", reference(args.data_dir),
               args.pairs, target=0.42)
    if "sweep" in parts:
        first_row_seconds(2)  # warm: the ceilings, the synthetic set's prepared copy
        times = [first_row_seconds(args.sweep_seeds) for _ in range(args.pairs)]
        print(f"first row of a {args.sweep_seeds}-seed sweep saved after: median {statistics.median(times):.2f} s  "
              f"{' '.join(f'{t:.2f}' for t in times)}  (target 4 s)   load average now {load()}")
    if "dry-run" in parts:
        dry_run_seconds(10)
        times = [dry_run_seconds(args.dry_run_seeds) for _ in range(args.pairs)]
        print(f"--dry-run of {args.dry_run_seeds} rows: median {statistics.median(times):.2f} s  "
              f"{' '.join(f'{t:.2f}' for t in times)}  (target 3 s)   load average now {load()}")
    if "memory" in parts:
        one, many = parent_peak_mib(1), parent_peak_mib(args.memory_rows)
        print(f"bench's own peak memory, tf-mlp-graph hidden=4000: 1 row {one:.0f} MiB, {args.memory_rows} rows "
              f"{many:.0f} MiB (+{many - one:.0f} MiB; target within 150 MB for 100 rows)   load average now {load()}")


if __name__ == "__main__":
    main()
