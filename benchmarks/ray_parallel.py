"""Rows in parallel on a Ray cluster: a sweep on two one-CPU nodes against one such node.

    python benchmarks/ray_parallel.py [--rows 8] [--steps 3000] [--pairs 1] [--json OUT.json]

Starts local Ray clusters bound to 127.0.0.1 only (``ray.cluster_utils.Cluster``, every
node with one CPU and one ``bench_slot``, their files under a temporary directory of
this script's own, given as ``RAY_TMPDIR``) and stops exactly the nodes it started. On
each it runs the same sweep through the command line, ``--rows`` single-thread numpy
rows (one per seed) on the synthetic set:

    bench sweep --executor ray --ray-address ADDR --plugins numpy --dataset synthetic
                --seed 0,...,N-1 --threads 1 --steps STEPS --no-roofline --quiet

then the same sweep with the local executor. With ``--pairs N`` it measures N pairs (one
node, two nodes), alternating which goes first, against a machine whose load changes. It
prints the wall time of each (the command's own, start-up included), the ratio two nodes /
one node of each pair and their median, whether rows of the two
nodes overlapped in time (from each row's recorded start and finish on its node), whether
every row equals the local sweep's (loss curve, accuracy, settings, schedule), and the
driver's overhead per row: submission (or the node's previous row's finish) to the row's
start on its node, plus its finish on the node to its arrival at the driver.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLOSED = "http://127.0.0.1:9"
ENVIRONMENT = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray keeps 127.0.0.1 as the node address
    "RAY_USAGE_STATS_ENABLED": "0",
    "BENCH_OFFLINE": "1",
    **{name: CLOSED for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")},
    **{name: "127.0.0.1,localhost" for name in ("no_proxy", "NO_PROXY")},
}


def sweep(args: argparse.Namespace, output: Path, address: str | None) -> float:
    """Run the sweep through the command line; its wall time in seconds."""
    command = [sys.executable, "-m", "bench", "sweep", "--plugins", "numpy", "--dataset", "synthetic",
               "--seed", ",".join(str(s) for s in range(args.rows)), "--threads", "1", "--steps", str(args.steps),
               "--no-roofline", "--quiet", "--results-dir", str(output.parent / "results"), "--output", str(output)]
    if address is not None:
        command += ["--executor", "ray", "--ray-address", address]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def on_cluster(args: argparse.Namespace, temp: Path, nodes: int) -> tuple[float, dict[str, Any]]:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "node_ip_address": "127.0.0.1", "num_cpus": 1, "resources": {"bench_slot": 1}, "include_dashboard": False,
        "temp_dir": str(temp / "ray")})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(node_ip_address="127.0.0.1", num_cpus=1, resources={"bench_slot": 1})
        cluster.wait_for_nodes()
        output = temp / f"nodes{nodes}.json"
        seconds = sweep(args, output, cluster.address)
    finally:
        cluster.shutdown()
    return seconds, json.loads(output.read_text())


def overlapped(rows: list[dict[str, Any]]) -> bool:
    """Whether a row of one node ran while a row of another node ran."""
    spans = [(r["node"]["ray_node_id"], r["node"]["started_at"], r["node"]["finished_at"]) for r in rows]
    return any(a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for a in spans for b in spans)


def overheads(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per row, the driver's and Ray's time around it: ``start`` (submission, or its node's
    previous row's finish, to its start on the node; a node's first row includes starting
    Ray's worker process there) and ``receive`` (its finish on the node to its arrival)."""
    found: dict[str, list[float]] = {"first_start": [], "next_start": [], "receive": [], "per_row": []}
    by_node: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_node.setdefault(row["node"]["ray_node_id"], []).append(row["node"])
    for facts in by_node.values():
        facts.sort(key=lambda f: f["started_at"])
        previous = None
        for f in facts:
            ready = f["submitted_at"] if previous is None else max(f["submitted_at"], previous)
            found["first_start" if previous is None else "next_start"].append(f["started_at"] - ready)
            found["receive"].append(f["received_at"] - f["finished_at"])
            found["per_row"].append(f["started_at"] - ready + f["received_at"] - f["finished_at"])
            previous = f["finished_at"]
    return found


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("settings", "schedule_sha256", "status", "loss_curve", "final_loss", "test_accuracy", "steps_completed")
    return all(a.get(k) == b.get(k) for k in keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=1, help="pairs of sweeps (one node, two nodes) to measure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    temp = Path(tempfile.mkdtemp(prefix="bray-"))  # short: Ray's socket paths live under it
    os.environ.update(ENVIRONMENT, RAY_TMPDIR=str(temp), BENCH_CACHE_DIR=str(temp / "cache"))
    load_before = round(os.getloadavg()[0], 1)
    pairs: list[tuple[float, float]] = []
    try:
        for pair in range(args.pairs):
            measured = {}
            for nodes in ((1, 2) if pair % 2 == 0 else (2, 1)):
                measured[nodes] = on_cluster(args, temp, nodes)
            (one, doc_one), (two, doc_two) = measured[1], measured[2]
            pairs.append((one, two))
            assert overlapped(doc_two["results"]), "the two nodes' rows did not overlap"
            assert all(same(a, b) for a, b in zip(doc_one["results"], doc_two["results"], strict=True))
        local_seconds = sweep(args, temp / "local.json", None)
        local = json.loads((temp / "local.json").read_text())["results"]
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    rows_two = doc_two["results"]
    parts = {key: overheads(rows_two)[key] + overheads(doc_one["results"])[key] for key in overheads(rows_two)}
    figures = {
        "rows": args.rows, "steps": args.steps,
        "seconds_one_node": [round(a, 2) for a, _ in pairs], "seconds_two_nodes": [round(b, 2) for _, b in pairs],
        "seconds_local": round(local_seconds, 2), "ratio_two_to_one": [round(b / a, 3) for a, b in pairs],
        "ratio_median": round(statistics.median(b / a for a, b in pairs), 3),
        "nodes_used": len({r["node"]["ray_node_id"] for r in rows_two}),
        "overlap": overlapped(rows_two),
        "identical_to_local": all(same(a, b) for a, b in zip(rows_two, local, strict=True))
        and all(same(a, b) for a, b in zip(doc_one["results"], local, strict=True)),
        **{f"{key}_s_mean_max": [round(sum(v) / len(v), 3), round(max(v), 3)] for key, v in parts.items() if v},
        "load_average_after": round(os.getloadavg()[0], 1),
        "cpu": doc_two["machine"].get("cpu"), "cores": os.cpu_count(), "load_average_before": load_before,
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
