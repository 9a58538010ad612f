"""Rows measured on the nodes of a cluster (``--executor ray``): where each ran shows in the
results table, the comparison and the export, and each node's own ceilings rate its rows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.report.compare import compare_table
from bench.report.table import node_label, results_table
from bench.results.analysis import roofline_rating
from bench.results.compare import compare_runs
from bench.results.model import Row, RunDocument

NODE = {"hostname": "box", "ray_node_id": "1a2b3c4d5e", "ray_node_ip": "10.0.0.5"}
CEILINGS = {"device": "cpu", "peak_flops_per_second": 1e9, "memory_bytes_per_second": 1e9, "settings": {},
            "spread": {}, "rounds": 1, "measured": "2026-01-01T00:00:00", "measure_seconds": 1.0}


def _row(node=None, **fields) -> Row:
    return Row.of(plugin="a", device="cpu", schedule_sha256="s", steps_per_second=100.0, test_accuracy=0.3,
                  wall_seconds=1.0, node=node, **fields)


def _doc(*rows: Row, roofline=None) -> RunDocument:
    return RunDocument("r", "", None, {}, {"parity_step": 10}, results=list(rows), roofline=roofline)


def test_the_node_column_shows_only_when_a_row_ran_on_a_node():
    assert node_label(NODE) == "box/1a2b3c" and node_label(None) == "-" and node_label({"ray_node_ip": "1.2.3.4"}) == "1.2.3.4"
    header, _, *body = results_table(_doc(_row(NODE), _row()), width=0).splitlines()
    assert header.split()[:4] == ["plugin", "device", "status", "node"]
    assert "box/1a2b3c" in body[0] and " - " in body[1]
    assert "node" not in results_table(_doc(_row()), width=0).splitlines()[0].split()
    assert results_table(_doc(_row(NODE)), columns=["plugin", "node"]).splitlines()[0].split() == ["plugin", "node"]


def test_the_comparison_names_each_side_s_node():
    text = compare_table(compare_runs(_doc(_row(NODE)), _doc(_row())))
    assert text.splitlines()[0].split()[:5] == ["row", "node", "A", "node", "B"] and "box/1a2b3c" in text
    assert "node" not in compare_table(compare_runs(_doc(_row()), _doc(_row()))).splitlines()[0]


def test_a_node_row_is_rated_against_its_node_s_ceilings():
    document = _doc(roofline={"ceilings": {"cpu": {**CEILINGS, "peak_flops_per_second": 1e12}}, "threads": None})
    work = {"flops_per_step": 1e7, "bytes_per_step": 1e3}
    rated = roofline_rating(_row({**NODE, "ceilings": {"cpu": CEILINGS}}, **work), document)
    assert rated["roofline_fraction"] == pytest.approx(1.0)
    assert rated["attainable_steps_per_second"] == pytest.approx(100.0)  # 1e9 / 1e7
    assert roofline_rating(_row({**NODE}, **work), document)["roofline_reason"].startswith("ran on a node that")
    broken = roofline_rating(_row({**NODE, "ceilings": {"cpu": {"device": "cpu"}}}, **work), document)
    assert "malformed" in broken["roofline_reason"]
    local = roofline_rating(_row(**work), document)
    assert local["attainable_steps_per_second"] == pytest.approx(1e5)  # this machine's ceilings


def test_the_export_names_the_node(monkeypatch):
    from bench.report import export

    row = _row(NODE)
    monkeypatch.setattr(Row, "stats", property(lambda self: _Stats()), raising=False)
    entry = export._benchmark(row, _doc(row), "synthetic", 100, [])
    assert entry["extra_info"]["node"] == "box/1a2b3c"
    assert replace(row, measurement=replace(row.measurement, node=None)).node is None


class _Stats:
    rounds = 1
    data = (0.01,)

    def as_pytest_benchmark(self) -> dict:
        return {"min": 0.01}
