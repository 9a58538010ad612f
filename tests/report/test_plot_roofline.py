"""bench/report/plot/roofline.py: the roofline picture from a hand-made run document."""

from __future__ import annotations

import pytest

from bench.classifier import SetupConfig
from bench.report.plot.roofline import document_ceilings, plot_roofline, roofline_points
from bench.results.model import RunDocument
from bench.roofline import linear_softmax_work, mlp_work

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _document() -> RunDocument:
    linear = linear_softmax_work(SetupConfig(0.005, 100, 3072, 10))
    mlp = mlp_work(SetupConfig(0.001, 400, 3072, 10), hidden=120)

    def row(plugin, device, speed, work, status="ok"):
        return {"plugin": plugin, "device": device, "status": status, "steps_per_second": speed,
                "flops_per_step": work.flops if work else None, "bytes_per_step": work.bytes if work else None}

    return RunDocument.from_dict({
        "schema_version": 2, "machine": {}, "config": {}, "batch_schedule_sha256": None,
        "run_id": "20260101T000000Z_example",
        "roofline": {"ceilings": {
            "cpu": {"peak_flops_per_second": 300e9, "memory_bytes_per_second": 26e9, "measured": "2026-01-01T00:00:00Z"},
            "gpu:0": {"peak_flops_per_second": 60e12, "memory_bytes_per_second": 4.0e12},
            "gpu:1": {"peak_flops_per_second": "fast"},  # malformed: left out
        }},
        "results": [
            row("numpy", "cpu", 1776.0, linear),
            row("tf-graph", "cpu", 1140.0, linear),
            row("tf-function", "cpu", 1129.0, linear),  # nearly the same point: labels must not collide
            row("tf-mlp-graph", "cpu", 174.0, mlp),
            row("tf-graph", "gpu:0", 9000.0, linear),
            row("tf-xla", "gpu:2", 8000.0, linear),  # a device without ceilings: a point, no fraction
            row("third-party", "cpu", 500.0, None),  # states no work: left out
            row("tf-eager", "cpu", None, linear, status="failed"),
        ],
    })


def test_points_and_ceilings_from_the_document():
    document = _document()
    assert set(document_ceilings(document)) == {"cpu", "gpu:0"}
    points = roofline_points(document)
    assert [p.label for p in points] == [
        "numpy (cpu)", "tf-graph (cpu)", "tf-function (cpu)", "tf-mlp-graph (cpu)", "tf-graph (gpu:0)", "tf-xla (gpu:2)",
    ]
    numpy_point = points[0]
    assert numpy_point.intensity == pytest.approx(12_357_860 / 1_598_360)
    assert numpy_point.flops_per_second == pytest.approx(12_357_860 * 1776)
    assert numpy_point.fraction == pytest.approx(1776 * 1_598_360 / 26e9)  # memory-bound: 7.7 < ridge 11.5
    assert points[3].fraction == pytest.approx(174 * 595_148_900 / 300e9)  # the MLP: compute-bound
    gpu = points[4]
    assert gpu.fraction == pytest.approx(9000 * 1_598_360 / 4.0e12)  # memory-bound on the GPU
    assert points[5].fraction is None


def test_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_roofline(_document(), tmp_path / "out" / "roofline.png")
    assert path == tmp_path / "out" / "roofline.png"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 30_000  # drawn, not blank (measured ~90 kB)


def test_svg_and_empty_documents(tmp_path):
    pytest.importorskip("matplotlib")
    assert plot_roofline(_document(), tmp_path / "r.svg").read_text().lstrip().startswith("<?xml")
    empty = plot_roofline(RunDocument("r", "", None, {}, {}), tmp_path / "empty")
    assert empty.suffix == ".png" and empty.read_bytes().startswith(PNG_MAGIC)
    only_ceilings = plot_roofline(RunDocument("r", "", None, {}, {}, roofline={"ceilings": _document().ceilings()}),
                                  tmp_path / "c.png")
    assert only_ceilings.read_bytes().startswith(PNG_MAGIC)


def test_unknown_format_is_a_usage_error(tmp_path):
    pytest.importorskip("matplotlib")
    from bench.errors import UsageError

    with pytest.raises(UsageError):
        plot_roofline(_document(), tmp_path / "r.nosuchformat")
