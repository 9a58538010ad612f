"""The node's side of a remote row, without Ray: own data, checked digests, a local worker."""

from __future__ import annotations

import json

import pytest

from bench.classifier import SetupConfig
from bench.dataset import load_dataset
from bench.dataset.prepared import prepare
from bench.execute import RowData
from bench.execute.ray.node import DataSettings, NodeError, content_digest, node_device, run_request
from bench.execute.worker import WorkerExecutor
from bench.job import RowJob, SchedulePlan
from bench.measure import OK
from bench.results.analysis import max_abs_diff
from bench.schedule import build_schedule


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", seed=0)


def _request(dataset, steps=20, classifier="numpy", **changes):
    schedule = build_schedule(len(dataset.train_labels), steps, 100, 0)
    setup = SetupConfig(0.005, 100, dataset.input_dim, dataset.num_classes, params={"a": "1"})
    job = RowJob(classifier, "cpu", setup, SchedulePlan.of(schedule))
    request = {
        "job": job.to_dict(),
        "data": vars(DataSettings(dataset="synthetic", seed=0)),
        "data_sha256": content_digest(dataset),
    }
    request.update(changes)
    return request, schedule, job


def test_the_node_measures_the_same_row_as_a_local_worker(cache, synthetic):
    request, schedule, job = _request(synthetic)
    result = run_request(request)
    local = WorkerExecutor().run_row(job, RowData(synthetic, prepare(synthetic)))
    row = result["row"]
    assert row["status"] == local.measurement.status == OK
    assert row["loss_curve"] == local.measurement.loss_curve
    assert row["test_accuracy"] == local.measurement.test_accuracy
    assert max_abs_diff(result["params_final"], local.parameters.final) == 0.0
    assert result["data"]["batch_schedule_sha256"] == schedule.sha256()
    assert str(cache) in result["data"]["prepared_copy"]


def test_a_job_survives_the_trip_as_plain_data():
    setup = SetupConfig(0.1, 10, 5, 2, device="gpu:2", threads=3, params={"k": "v"})
    job = RowJob("x", "gpu:2", setup, SchedulePlan(7, 10, 3, "epoch", "ab" * 32), timeout=5.0)
    assert RowJob.from_dict(json.loads(json.dumps(job.to_dict()))) == job


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
    request["job"]["schedule"] = {**request["job"]["schedule"], "sha256": "f" * 64}
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


def test_another_bench_on_the_node_is_a_clear_row_error(cache, synthetic):
    import bench
    from bench.machine import git_commit

    request, _, _ = _request(synthetic, bench={"version": "0.0.1", "git_commit": None})
    with pytest.raises(NodeError, match=rf"bench on this node is {bench.__version__}.*the run's is 0.0.1: install"):
        run_request(request)
    request, _, _ = _request(synthetic, bench={"version": bench.__version__, "git_commit": "f" * 40})
    if git_commit() is not None:
        with pytest.raises(NodeError, match=r"the run's is .* \(commit ffffffffffff\)"):
            run_request(request)


def test_a_node_without_cifar10_names_the_node_s_data_options(cache, tmp_path):
    from bench.errors import DataError
    from bench.execute.ray.node import prepared_copy

    with pytest.raises(DataError) as raised:
        prepared_copy(DataSettings(dataset="cifar10", data_dir=str(tmp_path / "none"), offline=True))
    assert "on this node; set --ray-data-dir" in str(raised.value) and " --data-dir" not in str(raised.value)
