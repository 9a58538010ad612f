"""bench/report/plot/sweep.py: a sweep's scaling and seeds pictures (and ``plot_document``,
which picks a run's or a sweep's pictures)."""

from __future__ import annotations

import pytest
from test_plot_run import PNG_MAGIC, _document

from bench.report.plot import plot_document
from bench.report.plot.sweep import scaling_series, seed_groups
from bench.results.model import RunDocument


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
    paths = plot_document(_sweep_document(), tmp_path / "run.png")
    assert paths == [tmp_path / "run-scaling.png", tmp_path / "run-seeds.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 20_000
    assert plot_document(_document(), tmp_path / "plain.png") == [tmp_path / "plain.png"]  # today's picture
    seeds_only = _sweep_document()
    seeds_only.results = [r for r in seeds_only.results if r.settings.get("batch_size") == 50
                          and r.settings.get("threads") == 1]
    assert plot_document(seeds_only, tmp_path / "s.png") == [tmp_path / "s-seeds.png"]


def test_seed_groups_that_only_differ_in_speed_are_drawn_once_and_say_so():
    from bench.report.plot.sweep import merged_seed_groups

    groups = merged_seed_groups(_sweep_document())
    # threads change the speed, never the accuracy: one group per batch size, named by both
    assert list(groups) == [f"numpy (cpu), batch_size {batch}, threads 1 = 2" for batch in (50, 100, 200)]
    assert groups["numpy (cpu), batch_size 50, threads 1 = 2"] == [(0, 0.25), (1, 0.26), (2, 0.27)]
