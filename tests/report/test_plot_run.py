"""bench/report/plot/run.py: a run's PNG from a hand-made result document."""

from __future__ import annotations

import sys

import pytest

from bench.errors import BenchError, UsageError
from bench.report.plot.figure import default_output, output_path
from bench.report.plot.run import loss_points, plot_run, use_log_scale
from bench.results.identity import status_label as row_label
from bench.results.model import Row, RunDocument

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _document() -> RunDocument:
    def row(plugin: str, device: str, status: str = "ok", speed: object = None, curve: list | None = None) -> dict:
        return {
            "plugin": plugin, "device": device, "status": status, "steps_per_second": speed, "loss_curve": curve or [],
        }

    big = [[1, 2.3], [10, 1500.0], [20, 900.0], [30, 1200.0]]
    return RunDocument.from_dict({
        "schema_version": 2,
        "run_id": "20260101T000000Z_numpy+tf-graph_abc123",
        "machine": {},
        "batch_schedule_sha256": None,
        "config": {"dataset": "cifar10", "steps": 30, "batch_size": 100, "learning_rate": 0.005},
        "dataset": {"name": "cifar10"},
        "results": [
            row("numpy", "cpu", speed=2026.0, curve=big),
            row("tf-graph", "cpu", speed=911.2, curve=[[1, 2.3], [10, 1400.0], [30, 1100.0]]),
            row("tf-graph", "gpu:0", status="unavailable"),  # no numbers at all
            row("tf-xla", "cpu", status="failed", speed=None, curve=[[1, 2.3]]),
            row("tf-eager", "cpu", status="diverged", speed=None, curve=[[1, 2.3], [2, 5.0]]),
        ],
    })


def test_helpers():
    assert row_label(Row.of(plugin="numpy", device="cpu")) == "numpy (cpu)"
    assert row_label(Row.of(plugin="tf-xla", device="gpu:0", status="failed")) == "tf-xla (gpu:0) [failed]"
    curve = [[1, 2.0], [3, float("inf")], [5, 1.0]]
    assert loss_points(Row.of(plugin="x", device="cpu", loss_curve=curve)) == ([1.0, 5.0], [2.0, 1.0])
    assert use_log_scale([2.3, 1500.0]) and not use_log_scale([2.3, 0.5]) and not use_log_scale([0.0, 500.0])
    assert not use_log_scale([])
    assert default_output("results/run.json").as_posix() == "results/run.png"


def test_output_into_a_directory(tmp_path):
    assert output_path("results/run.json", None) == output_path("results/run.json", None)
    assert output_path("results/run.json", None).as_posix() == "results/run.png"
    assert output_path("results/run.json", str(tmp_path)) == tmp_path / "run.png"  # into it, not DIR.png
    assert output_path("results/run.json", str(tmp_path / "x.svg")) == tmp_path / "x.svg"


def test_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_run(_document(), tmp_path / "out" / "run.png")
    assert path == tmp_path / "out" / "run.png"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 20_000  # two drawn panels, not an empty canvas (measured ~65 kB)


def test_empty_document_still_plots(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_run(RunDocument("r", "", None, {}, {}), tmp_path / "empty")  # no suffix: PNG
    assert path.suffix == ".png" and path.read_bytes().startswith(PNG_MAGIC)


def test_unknown_image_format_is_a_usage_error(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(UsageError, match="cannot plot"):
        plot_run(_document(), tmp_path / "run.notaformat")


def test_missing_matplotlib_is_one_clear_error(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes the import fail
    with pytest.raises(BenchError, match=r"bench plot needs matplotlib: pip install 'bench-harness\[plot\]'"):
        plot_run(_document(), tmp_path / "run.png")
    assert not (tmp_path / "run.png").exists()


def test_curves_are_labelled_by_what_varies_and_a_repeated_curve_says_so():
    from bench.report.plot.run import _curves, accuracy_points, loss_points
    from bench.results.identity import status_label, varying_of

    rows = [Row.of(plugin="torch-eager", device="cpu", status="ok", loss_curve=[[1, 2.3], [10, 1.9]],
                   accuracy_curve=[[5, 0.2, 0.1], [10, 0.3, 0.2]], settings={"placement": placement})
            for placement in ("feed", "resident")]
    labels = [status_label(row, varying_of(rows)) for row in rows]
    assert labels == ["torch-eager (cpu) placement=feed", "torch-eager (cpu) placement=resident"]
    curves = _curves(rows, labels, loss_points)
    assert [(label, repeated) for _, _, _, label, repeated in curves] == [
        ("torch-eager (cpu) placement=feed", False),
        ("torch-eager (cpu) placement=resident (= torch-eager (cpu) placement=feed)", True),
    ]
    assert accuracy_points(rows[0]) == ([5.0, 10.0], [20.0, 30.0])


def test_a_time_to_accuracy_run_gets_an_accuracy_panel(tmp_path):
    pytest.importorskip("matplotlib")
    from bench.report.plot.run import plot_run

    rows = [Row.of(plugin=name, device="cpu", status="ok", steps_per_second=100.0, loss_curve=[[1, 2.3], [10, 1.9]],
                   eval_every=5, target_accuracy=0.25, accuracy_curve=[[5, 0.2, 0.1], [10, 0.3 + i / 100, 0.2]])
            for i, name in enumerate(("numpy", "tf-graph"))]
    document = RunDocument("r", "", None, {}, {}, results=rows)
    seen = []
    import matplotlib.figure

    real = matplotlib.figure.Figure.subplots

    def spy(self, *args, **kwargs):
        made = real(self, *args, **kwargs)
        seen.append(made)
        return made

    pytest.MonkeyPatch().setattr(matplotlib.figure.Figure, "subplots", spy)
    try:
        path = plot_run(document, tmp_path / "tta.png")
    finally:
        pytest.MonkeyPatch().undo()
    assert path.read_bytes().startswith(PNG_MAGIC)
    (axes,) = seen
    accuracy = axes[0][1]
    assert accuracy.get_title().startswith("Test accuracy")
    assert [line.get_label() for line in accuracy.get_lines()] == ["numpy (cpu)", "tf-graph (cpu)", "target 25%"]
