"""Parity through the real command: with a two-layer model first, the softmax rows are
compared with the first softmax row, not shown as ``-``."""

from __future__ import annotations

import pytest


def test_each_row_is_compared_with_the_first_row_of_its_parameter_shapes(bench) -> None:
    pytest.importorskip("tensorflow")
    proc = bench.run("--plugins", "tf-mlp-graph,numpy,tf-graph", "--steps", "20", "--no-roofline",
                     "--columns", "plugin,parity,parity_end", timeout=180)
    assert proc.returncode == 0, proc.stderr
    [document] = bench.saved()
    rows = document["results"]
    assert [row["parity_reference"] for row in rows] == [0, 1, 1]
    assert rows[2]["parity_max_abs_diff"] < 1e-4 and rows[2]["final_max_abs_diff"] < 1e-4
    cells = [line.split() for line in proc.stdout.splitlines()[2:5]]
    assert [cell[:3] for cell in cells[:2]] == [["tf-mlp-graph", "ref", "ref"], ["numpy", "ref", "ref"]]
    assert cells[2][0] == "tf-graph" and "-" not in cells[2][1:3]
