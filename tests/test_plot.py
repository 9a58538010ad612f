"""``bench plot``: a PNG from a hand-made result document."""

from __future__ import annotations

import sys

import pytest

from bench.errors import BenchError, UsageError
from bench.plot import default_output, loss_points, output_path, plot_run, row_label, use_log_scale
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
    with pytest.raises(BenchError, match=r"bench plot needs matplotlib: pip install 'bench\[plot\]'"):
        plot_run(_document(), tmp_path / "run.png")
    assert not (tmp_path / "run.png").exists()


def _sweep_document() -> RunDocument:
    rows = []
    for batch in (50, 100, 200):
        for seed in (0, 1, 2):
            for threads in (1, 2):
                rows.append({
                    "plugin": "numpy", "device": "cpu", "status": "ok", "steps_per_second": 1000.0 / batch + seed,
                    "test_accuracy": 0.25 + 0.01 * seed, "loss_curve": [[1, 2.3], [10, 1.9]],
                    "settings": {"batch_size": batch, "seed": seed, "threads": threads},
                })
    rows.append({"plugin": "numpy", "device": "gpu:0", "status": "unavailable", "settings": {"batch_size": 50}})
    return RunDocument.from_dict({
        "schema_version": 2, "run_id": "sweep", "machine": {}, "batch_schedule_sha256": None,
        "config": {"dataset": "synthetic", "steps": 10, "batch_size": 50, "learning_rate": 0.005,
                   "sweep": {"batch_size": [50, 100, 200], "seed": [0, 1, 2], "threads": [1, 2]}},
        "results": rows,
    })


def test_sweep_series_take_the_median_over_seeds_and_images_per_second():
    from bench.plot import scaling_series, seed_groups

    document = _sweep_document()
    steps = scaling_series(document, "batch_size")
    assert set(steps) == {("numpy", "cpu", "threads 1"), ("numpy", "cpu", "threads 2")}
    assert steps["numpy", "cpu", "threads 1"][100.0] == [10.0, 11.0, 12.0]  # one value per seed
    images = scaling_series(document, "batch_size", "images")
    assert images["numpy", "cpu", "threads 1"][200.0] == [1000.0, 1200.0, 1400.0]
    by_threads = scaling_series(document, "threads")
    assert ("numpy", "cpu", "batch_size 50") in by_threads and set(by_threads["numpy", "cpu", "batch_size 50"]) == {
        1.0, 2.0}
    groups = seed_groups(document)
    assert len(groups) == 6 and groups["numpy", "cpu", "batch_size 50", "threads 1"] == [
        (0, 0.25), (1, 0.26), (2, 0.27)]


def test_a_sweep_plots_scaling_and_seed_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    from bench.plot import plot_document

    paths = plot_document(_sweep_document(), tmp_path / "run.png")
    assert paths == [tmp_path / "run-scaling.png", tmp_path / "run-seeds.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 20_000
    assert plot_document(_document(), tmp_path / "plain.png") == [tmp_path / "plain.png"]  # today's picture
    seeds_only = _sweep_document()
    seeds_only.results = [r for r in seeds_only.results if r.settings.get("batch_size") == 50
                          and r.settings.get("threads") == 1]
    assert plot_document(seeds_only, tmp_path / "s.png") == [tmp_path / "s-seeds.png"]
