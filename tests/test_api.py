"""What plugin authors import from ``bench``: every name there, and the shared helpers."""

from __future__ import annotations

import inspect

import pytest

import bench
from bench import SetupConfig, UsageError, gpu_index
from bench.linear_softmax import LAYOUT_PARAM, check_layout, weight_shape


def test_every_exported_name_is_there_and_documented():
    for name in bench.__all__:
        value = getattr(bench, name)
        if callable(value):
            assert inspect.getdoc(value), f"bench.{name} has no docstring"


def test_the_work_helpers_state_flops_and_bytes():
    config = SetupConfig(learning_rate=0.005, batch_size=100, input_dim=3072, num_classes=10)
    work = bench.linear_softmax_work(config)
    assert work.flops == bench.dense_flops(100, 3072, 10, input_gradient=False) + bench.softmax_cross_entropy_flops(100, 10)
    assert work.bytes == bench.minimum_bytes(100, 3072, 3072 * 10 + 10)
    assert work.flops == 12_357_860  # bench/work.py's docstring


@pytest.mark.parametrize("device,index", [("cpu", None), ("gpu:0", 0), ("gpu:12", 12)])
def test_gpu_index(device, index):
    assert gpu_index(device) == index


@pytest.mark.parametrize("device", ["gpu", "GPU:0", "tpu:0", "gpu:-1", ""])
def test_gpu_index_refuses_other_names(device):
    with pytest.raises(UsageError, match=r"unknown device .*; expected 'cpu' or 'gpu:N'"):
        gpu_index(device)


def test_the_layout_shared_by_jax_and_torch():
    config = SetupConfig(learning_rate=0.1, batch_size=4, input_dim=6, num_classes=3)
    assert check_layout({}, "x") == "cd" and check_layout({"layout": "dc"}, "x") == "dc"
    assert weight_shape(config, "cd") == (3, 6) and weight_shape(config, "dc") == (6, 3)
    assert LAYOUT_PARAM.name == "layout" and LAYOUT_PARAM.default == "cd"
    with pytest.raises(UsageError, match=r"jax-jit: --param layout must be one of cd, dc, not 'x'"):
        check_layout({"layout": "x"}, "jax-jit")
    with pytest.raises(UsageError, match=r"torch-eager: unknown --param dtype; valid: layout \(cd, dc\)"):
        check_layout({"dtype": "float32"}, "torch-eager")
