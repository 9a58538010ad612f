"""Measure the figures README quotes, on this machine, in one session.

    python benchmarks/speed_figures.py --data-dir DIR [--repeats 3] [--save results/measured]

1. Whole process: `bench run --plugins tf-graph` against the reference script
   (benchmarks/seed_reference.py), alternated, median wall-clock of each.
2. Steps/s and % of the CPU roofline for every softmax variant, feed and resident
   placement, with the frameworks' default threads and with one thread; and the compiled
   loops (`--steps-per-call 50`).
Prints Markdown tables; with --save, keeps every run's JSON there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = "numpy,tf-graph,tf-eager,tf-function,tf-xla"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_run(data_dir: str, out: Path, *extra: str) -> dict:
    scratch = tempfile.mkdtemp(prefix="bench-figures-")  # the named --output is the copy kept
    command = [sys.executable, "-m", "bench", "run", "--data-dir", data_dir, "--offline", "--quiet",
               "--results-dir", scratch, "--output", str(out), *extra]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--save", help="directory to keep the runs' JSON in")
    args = parser.parse_args()
    out_dir = Path(args.save or tempfile.mkdtemp(prefix="bench-figures-"))
    out_dir.mkdir(parents=True, exist_ok=True)

    ours, seed = [], []
    for i in range(args.repeats):
        seed.append(timed([sys.executable, str(HERE / "seed_reference.py"), args.data_dir, "0"]))
        ours.append(timed([sys.executable, "-m", "bench", "run", "--plugins", "tf-graph", "--data-dir", args.data_dir,
                           "--offline", "--quiet", "--results-dir", str(out_dir / "whole-process")]))
    print("| whole process, reference recipe | median wall s | runs |\n| --- | --- | --- |")
    print(f"| reference script (seed_reference.py) | {statistics.median(seed):.2f} | {', '.join(f'{s:.2f}' for s in seed)} |")
    print(f"| `bench run --plugins tf-graph` | {statistics.median(ours):.2f} | {', '.join(f'{s:.2f}' for s in ours)} |")
    print(f"\nratio bench / reference: {statistics.median(ours) / statistics.median(seed):.2f}\n")

    rows = []
    configurations = [(placement, threads, 1) for placement in ("feed", "resident") for threads in (None, 1)]
    configurations.append(("resident", 1, 50))  # compiled loops: 50 steps per call
    for placement, threads, per_call in configurations:
        extra = ["--plugins", VARIANTS if per_call == 1 else "numpy,tf-function,tf-xla", "--placement", placement]
        if threads:
            extra += ["--threads", str(threads)]
        name = f"variants-{placement}-threads-{threads or 'default'}.json"
        if per_call > 1:
            extra += ["--steps-per-call", str(per_call)]
            name = name.replace(".json", f"-per-call-{per_call}.json")
        document = bench_run(args.data_dir, out_dir / name, *extra)
        limit = document["roofline"]["steps_per_second"]
        for row in document["results"]:
            rows.append((row["plugin"], placement, threads or "default", per_call, row["steps_per_second"],
                         row["roofline_fraction"], row["test_accuracy"], limit))
        data_seconds = next(s for label, s in document["timeline"] if label.startswith("data"))
        print(f"{name}: data load {data_seconds:.2f} s, roofline {limit:.0f} steps/s")
    print("\n| classifier | placement | threads | steps per call | steps/s | % roofline | test acc % |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for plugin, placement, threads, per_call, sps, fraction, accuracy, _ in rows:
        print(f"| {plugin} | {placement} | {threads} | {per_call} | {sps:.0f} | {100 * fraction:.0f} | {100 * accuracy:.2f} |")


if __name__ == "__main__":
    main()
