"""The work formulas of the built-in models, against counts derived here op by op."""

from __future__ import annotations

import pytest

import bench
from bench import linear_softmax_work, mlp_work
from bench.classifier import SetupConfig, StepWork
from bench.plugins import installed_registry


def config(batch: int = 100, dim: int = 3072, classes: int = 10, **params: str) -> SetupConfig:
    return SetupConfig(learning_rate=0.005, batch_size=batch, input_dim=dim, num_classes=classes, params=params)


def linear_count(B: int, D: int, C: int) -> int:
    """One step of the numpy reference (bench_numpy.softmax), its operations in order."""
    ops = [
        2 * B * D * C,  # logits = images @ weights
        B * C,          # logits += biases
        B * C,          # logits.max(axis=1)
        B * C,          # logits - max
        B * C,          # np.exp
        B * C,          # exp.sum(axis=1)
        B,              # np.log(sums)
        B,              # log - shifted[rows, labels]
        B,              # losses.mean()
        B * C,          # exp / sums
        B,              # grad[rows, labels] -= 1
        B * C,          # grad *= 1 / batch
        2 * D * B * C,  # images.T @ dlogits
        B * C,          # dlogits.sum(axis=0)
        D * C + C,      # grad_w *= lr, grad_b *= lr
        D * C + C,      # weights -= grad_w, biases -= grad_b
    ]
    return sum(ops)


def test_linear_softmax_flops_match_an_op_by_op_count():
    work = linear_softmax_work(config())
    assert work.flops == linear_count(100, 3072, 10) == 12_357_860
    assert 2 * 2 * 100 * 3072 * 10 / work.flops == pytest.approx(0.9943, abs=1e-4)  # the products dominate
    for B, D, C in [(1, 1, 1), (7, 5, 3), (400, 3072, 10), (100, 12, 3)]:
        assert linear_softmax_work(config(B, D, C)).flops == linear_count(B, D, C)


def test_linear_softmax_bytes():
    B, D, C = 100, 3072, 10
    batch_in = B * D * 4 + B * 8          # float32 rows, int64 labels
    params = (D * C + C) * 4
    expected = batch_in + 2 * params + params  # parameters read and written, gradients written
    assert linear_softmax_work(config()).bytes == expected == 1_598_360


def mlp_count(B: int, D: int, H: int, C: int, decay: bool) -> int:
    """One step of tf-mlp-* (bench_tensorflow.mlp), its operations in order."""
    weights = D * H + H * C
    ops = [
        2 * B * D * H, B * H, B * H,          # x W1, + b1, relu
        2 * B * H * C, B * C,                 # h W2, + b2
        4 * B * C + 3 * B,                    # softmax cross-entropy, forward (as the linear model)
        2 * B * C + B,                        # dlogits
        2 * B * H * C, B * C,                 # dW2 = h^T dlogits, db2
        2 * B * H * C,                        # dh = dlogits W2^T
        B * H,                                # relu mask
        2 * B * D * H, B * H,                 # dW1 = x^T dh, db1
        2 * (weights + H + C),                # p -= lr * dp, every parameter
    ]
    if decay:
        ops += [2 * weights, 2 * weights]     # sum(w**2)/2 in the loss; l2 * w into the gradient
    return sum(ops)


def test_mlp_flops_match_an_op_by_op_count():
    work = mlp_work(config(400), hidden=120)
    assert work.flops == mlp_count(400, 3072, 120, 10, decay=True) == 595_148_900
    assert mlp_work(config(400), 120, weight_decay=False).flops == mlp_count(400, 3072, 120, 10, decay=False)
    for B, H in [(1, 1), (100, 120), (400, 7), (32, 1000)]:
        assert mlp_work(config(B), H).flops == mlp_count(B, 3072, H, 10, decay=True)


def test_mlp_bytes_and_scaling():
    B, D, H, C = 400, 3072, 120, 10
    parameters = D * H + H + H * C + C
    assert mlp_work(config(B), H).bytes == B * D * 4 + B * 8 + 3 * parameters * 4 == 9_358_040
    # FLOPs grow with the batch and the hidden units; more hidden units, more intensity.
    small, wide = mlp_work(config(B), 60), mlp_work(config(B), 240)
    assert small.flops < wide.flops
    assert small.flops / small.bytes < wide.flops / wide.bytes
    with pytest.raises(ValueError):
        mlp_work(config(B), 0)


BUILT_IN_LINEAR = ("numpy", "tf-graph", "tf-eager", "tf-function", "tf-xla")
BUILT_IN_MLP = ("tf-mlp-graph", "tf-mlp-eager")


@pytest.mark.parametrize("name", BUILT_IN_LINEAR + BUILT_IN_MLP)
def test_every_built_in_spec_states_its_work(name):
    spec = installed_registry().get(name)
    assert spec.work is not None
    if name in BUILT_IN_LINEAR:
        assert spec.work(config()) == linear_softmax_work(config())
    else:
        # The runner gives the spec's default params; a user's --param hidden=N changes the work.
        assert spec.work(config(400, hidden="120", l2="0.1")) == StepWork(595_148_900.0, 9_358_040.0)
        assert spec.work(config(400)) == spec.work(config(400, hidden="120", l2="0.1"))
        assert spec.work(config(400, hidden="60", l2="0.1")) == mlp_work(config(400), 60)
        assert spec.work(config(400, hidden="120", l2="0")) == mlp_work(config(400), 120, weight_decay=False)


def test_mlp_spec_rejects_nonsense_params():
    from bench.errors import UsageError
    from bench.settings import resolve_params

    spec = installed_registry().get("tf-mlp-graph")
    for bad in ({"hidden": "many"}, {"hidden": "0"}, {"l2": "lots"}):
        with pytest.raises(UsageError):  # refused before any row, so work() never sees it
            resolve_params([spec], bad)


def test_the_old_import_path_still_works_and_warns():
    import bench.roofline.work as old

    for name in ("linear_softmax_work", "mlp_work", "dense_flops", "minimum_bytes", "softmax_cross_entropy_flops"):
        message = rf"bench\.roofline\.work\.{name} is deprecated; use 'from bench import {name}'"
        with pytest.warns(DeprecationWarning, match=message):
            assert getattr(old, name) is getattr(bench, name)
    with pytest.raises(AttributeError):
        old.nothing_here  # noqa: B018
