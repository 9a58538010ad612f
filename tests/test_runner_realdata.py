"""The reference recipe on the real CIFAR-10, through the real command (needs BENCH_CIFAR10_DIR)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = os.environ.get("BENCH_CIFAR10_DIR")
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not DATA, reason="BENCH_CIFAR10_DIR is not set"),
]


def bench_run(tmp_path: Path, plugins: str, name: str, *extra: str) -> dict:
    output = tmp_path / f"{name}.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--plugins", plugins, "--data-dir", DATA, "--offline", "--quiet",
         "--results-dir", str(tmp_path / "results"), "--output", str(output), *extra],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(output.read_text())


def test_reference_recipe_tf_graph_and_eager_agree_with_the_article(tmp_path):
    document = bench_run(tmp_path, "numpy,tf-graph,tf-eager", "recipe")
    config = document["config"]
    assert (config["steps"], config["batch_size"], config["learning_rate"]) == (1000, 100, 0.005)
    assert document["dataset"]["preprocessing"].startswith("reference")
    rows = {row["plugin"]: row for row in document["results"]}
    for row in rows.values():
        assert row["status"] == "ok"
        # The article reports 25-31%; over ten seeds the recipe spreads over 22-29%.
        assert 0.20 <= row["test_accuracy"] <= 0.34, row
        assert row["steps_per_second"] > 0 and row["wall_seconds"] > 0
    graph, eager = rows["tf-graph"], rows["tf-eager"]
    assert abs(graph["test_accuracy"] - eager["test_accuracy"]) <= 0.015
    # After ten steps every correct implementation still agrees closely with numpy.
    assert graph["parity_max_abs_diff"] < 1e-4 and eager["parity_max_abs_diff"] < 1e-4


def test_same_seed_same_schedule_and_accuracy(tmp_path):
    first = bench_run(tmp_path, "numpy", "first", "--seed", "3")
    second = bench_run(tmp_path, "numpy", "second", "--seed", "3")
    assert first["batch_schedule_sha256"] == second["batch_schedule_sha256"]
    assert first["results"][0]["test_accuracy"] == second["results"][0]["test_accuracy"]
    assert first["results"][0]["loss_curve"] == second["results"][0]["loss_curve"]
