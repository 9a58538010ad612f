"""The verdicts of ``bench compare`` on real runs: how often an A/A comparison says ``same``,
and whether a real 25 % slowdown of one row is called ``slower``.

    python benchmarks/ab_verdicts.py [--pairs 10] [--slow-pairs 3] [--repeat 5] [--steps 200]
                                     [--cost-against DIR]

Every run is the real command, ``bench run --plugins numpy,busy --dataset synthetic
--repeat N``, two rows a run. ``busy`` is the test plugin tests/cli/busy_plugin.py (numpy's
softmax plus a busy wait of ``$BENCH_TEST_BUSY_SECONDS`` a step), installed for these runs
only, as a throwaway distribution in a temporary directory.

- A/A: ``--pairs`` pairs of identical runs, each pair compared (``bench compare --format
  json``): 2 row comparisons a pair; the target is ``same`` in at least 19 of 20.
- A real slowdown: the busy wait set to a third of ``busy``'s median step time in the first
  run (steps/s x 0.75), ``--slow-pairs`` pairs of runs without and with it: ``busy`` must be
  ``slower``, ``numpy`` (unchanged) ``same``.
- ``--cost-against DIR``: the wall time of ``bench run --repeat 1`` with this checkout's code
  against the code of another checkout DIR (e.g. the commit before ``--repeat``), runs
  alternated, 5 each.

It prints the machine's load average before and after, the verdict counts, and every
comparison's ratio, interval, p-value and verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "cli" / "busy_plugin.py"


def install_busy_plugin(site: Path) -> None:
    """The ``busy`` test plugin as a distribution whose ``[bench]`` entry point bench finds."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "fakeplugin_busy.py").write_text(PLUGIN.read_text())
    info = site / "bench_busy-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-busy\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[bench]\nbusy = fakeplugin_busy\n")


def environment(site: Path, code: Path = ROOT, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(BENCH_OFFLINE="1", PYTHONPATH=os.pathsep.join([str(site), str(code), str(code / "plugins")]))
    env.update(extra)
    return env


def bench(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True)
    if check and proc.returncode not in (0, 1):
        sys.exit(f"bench {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def run(out: Path, env: dict[str, str], steps: int, repeat: int) -> Path:
    bench(["run", "--plugins", "numpy,busy", "--dataset", "synthetic", "--steps", str(steps), "--repeat", str(repeat),
           "--no-roofline", "--quiet", "--results-dir", str(out.parent), "--output", str(out)], env)
    return out


def compare(a: Path, b: Path, env: dict[str, str]) -> list[dict]:
    return json.loads(bench(["compare", str(a), str(b), "--format", "json"], env).stdout)["rows"]


def show(label: str, rows: list[dict]) -> None:
    for row in rows:
        low, high = row["ci95"] or (float("nan"), float("nan"))
        print(f"  {label}: {row['row']:<12} B/A {row['ratio']:.3f}  95% CI {low:.3f}-{high:.3f}  "
              f"p {row['p_value']:.3g}  {row['verdict']} ({row['basis']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10, help="A/A pairs of runs (2 row comparisons each)")
    parser.add_argument("--slow-pairs", type=int, default=3, help="pairs of runs with the 25%% slowdown")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--cost-against", type=Path, metavar="DIR",
                        help="another checkout: compare the wall time of --repeat 1 runs with its code")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ab-verdicts-") as temp:
        work = Path(temp)
        site = work / "site"
        install_busy_plugin(site)
        env = environment(site, BENCH_CACHE_DIR=str(work / "cache"))
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        print(f"A/A: {args.pairs} pairs of identical runs, --repeat {args.repeat}, --steps {args.steps}")
        aa: Counter[str] = Counter()
        first = None
        for i in range(args.pairs):
            a = run(work / f"aa{i}a.json", env, args.steps, args.repeat)
            b = run(work / f"aa{i}b.json", env, args.steps, args.repeat)
            first = first or a
            rows = compare(a, b, env)
            aa.update(row["verdict"] for row in rows)
            show(f"A/A {i + 1}", rows)
        busy = next(r for r in json.loads(first.read_text())["results"] if r["plugin"] == "busy")  # type: ignore[union-attr]
        wait = statistics.median(busy["step_seconds"][1:]) / 3
        print(f"slowdown: busy wait {wait * 1e6:.0f} us a step (a third of busy's median step: steps/s x 0.75), "
              f"{args.slow_pairs} pairs")
        slow: dict[str, Counter[str]] = {"busy": Counter(), "numpy": Counter()}
        for i in range(args.slow_pairs):
            a = run(work / f"slow{i}a.json", env, args.steps, args.repeat)
            b = run(work / f"slow{i}b.json", {**env, "BENCH_TEST_BUSY_SECONDS": str(wait)}, args.steps, args.repeat)
            rows = compare(a, b, env)
            for row in rows:
                slow[row["plugin"]][row["verdict"]] += 1
            show(f"slow {i + 1}", rows)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"A/A verdicts ({sum(aa.values())} row comparisons): {dict(aa)}")
        print(f"25% slowdown of busy: busy {dict(slow['busy'])}, numpy (unchanged) {dict(slow['numpy'])}")
        if args.cost_against is not None:
            cost(work, site, args.cost_against, args.steps)
    return 0


def cost(work: Path, site: Path, other: Path, steps: int) -> None:
    """Wall time of ``bench run`` (one row, --repeat 1 where known) with this code and another's."""
    walls: dict[str, list[float]] = {"this checkout": [], str(other): []}
    for _ in range(5):
        for label, code in (("this checkout", ROOT), (str(other), other.resolve())):
            env = environment(site, code, BENCH_CACHE_DIR=str(work / "cache"))
            extra = ["--repeat", "1"] if code == ROOT else []
            start = time.perf_counter()
            bench(["run", "--plugins", "numpy", "--dataset", "synthetic", "--steps", str(steps), "--no-roofline",
                   "--quiet", "--results-dir", str(work / "cost"), *extra], env)
            walls[label].append(time.perf_counter() - start)
    for label, values in walls.items():
        print(f"bench run wall, {label}: median {statistics.median(values):.2f} s "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    sys.exit(main())
