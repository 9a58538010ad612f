"""The node's side of a remote row, without Ray: own data, checked digests, a local worker."""

from __future__ import annotations

import pytest

from bench.classifier import SetupConfig
from bench.dataset import load_dataset
from bench.dataset.prepared import prepare
from bench.execute import RowJob
from bench.execute.node import (
    DataSettings,
    NodeError,
    content_digest,
    job_from_dict,
    job_to_dict,
    node_device,
    run_request,
    schedule_plan,
)
from bench.execute.worker import WorkerExecutor
from bench.measure import OK, max_abs_diff
from bench.plugins import installed_registry
from bench.schedule import build_schedule


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", seed=0)


def _request(dataset, steps=20, **changes):
    schedule = build_schedule(len(dataset.train_labels), steps, 100, 0)
    job = RowJob("numpy", "cpu", SetupConfig(0.005, 100, dataset.input_dim, dataset.num_classes, params={"a": "1"}))
    request = {
        "classifier": "numpy",
        "job": job_to_dict(job),
        "data": vars(DataSettings(dataset="synthetic", seed=0)),
        "schedule": schedule_plan(schedule),
        "data_sha256": content_digest(dataset),
    }
    request.update(changes)
    return request, schedule, job


def test_the_node_measures_the_same_row_as_a_local_worker(cache, synthetic):
    request, schedule, job = _request(synthetic)
    result = run_request(request)
    local = WorkerExecutor(prepare(synthetic), schedule).run_row(installed_registry().get("numpy"), job).row
    row = result["row"]
    assert row["status"] == local.status == OK
    assert row["loss_curve"] == local.loss_curve and row["test_accuracy"] == local.test_accuracy
    assert max_abs_diff(result["params_final"], local.params_final) == 0.0
    assert result["data"]["batch_schedule_sha256"] == schedule.sha256()
    assert str(cache) in result["data"]["prepared_copy"]


def test_a_job_survives_the_trip_as_plain_data():
    job = RowJob("x", "gpu:2", SetupConfig(0.1, 10, 5, 2, device="gpu:2", threads=3, params={"k": "v"}), timeout=5.0)
    assert job_from_dict(job_to_dict(job)) == job


def test_a_gpu_row_runs_on_the_one_gpu_ray_gave_it():
    assert node_device("gpu:3") == "gpu:0" and node_device("cpu") == "cpu"


def test_other_data_on_the_node_is_refused(cache, synthetic):
    request, _, _ = _request(synthetic, data_sha256="0" * 64)
    with pytest.raises(NodeError, match="differs from the run's after preprocessing"):
        run_request(request)
    other_seed, _, _ = _request(synthetic, data=vars(DataSettings(dataset="synthetic", seed=1)))
    with pytest.raises(NodeError, match="differs from the run's"):
        run_request(other_seed)


def test_another_schedule_on_the_node_is_refused(cache, synthetic):
    request, schedule, _ = _request(synthetic)
    request["schedule"] = {**request["schedule"], "sha256": "f" * 64}
    with pytest.raises(NodeError, match="schedule rebuilt on this node differs"):
        run_request(request)


def test_a_plugin_missing_on_the_node_is_named(cache, synthetic):
    request, _, _ = _request(synthetic, classifier="not-here")
    with pytest.raises(NodeError, match="not installed on this node: unknown plugin 'not-here'"):
        run_request(request)


def test_the_digest_sees_every_array(synthetic):
    from dataclasses import replace

    base = content_digest(synthetic)
    labels = synthetic.test_labels.copy()
    labels[0] = (labels[0] + 1) % synthetic.num_classes
    assert content_digest(replace(synthetic, test_labels=labels)) != base
    assert content_digest(replace(synthetic, train_images=synthetic.train_images.astype("float64"))) != base
    assert content_digest(replace(synthetic)) == base
