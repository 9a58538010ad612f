"""``tf-mlp-graph`` and ``tf-mlp-eager``: the protocol, shared seeded start, the loss and
update against a float64 numpy reference, agreement with each other, learning, params."""

from __future__ import annotations

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import bench_tensorflow  # noqa: E402
from bench.classifier import Classifier, SetupConfig  # noqa: E402
from bench.errors import DeviceUnavailable, UsageError  # noqa: E402
from bench.plugins import collect_classifiers, create_plugin_manager  # noqa: E402
from bench_tensorflow.mlp import PARAMETER_NAMES, TRUNCATE_AT, initial_weights, parse_params  # noqa: E402

MLP_NAMES = ("tf-mlp-graph", "tf-mlp-eager")
FACTORIES = {"tf-mlp-graph": bench_tensorflow.make_tf_mlp_graph, "tf-mlp-eager": bench_tensorflow.make_tf_mlp_eager}
INPUT_DIM, NUM_CLASSES, BATCH, HIDDEN = 3072, 10, 100, 32

# Tolerances are relative to the largest |value| of each parameter (and to each loss).
#
# The setting of the multi-step tests (standardised inputs, O(1) activations, learning
# rate 0.05, 60 steps) is one where rounding-size perturbations stay rounding-size: float32
# TensorFlow against float64 numpy ends 4.4e-7 apart (measured here, x86-64, TF 2.21 +
# oneDNN), and so does a learning rate changed by 1e-6. That is not automatic for a ReLU
# network: a pre-activation that rounding pushes across zero changes a gradient discretely
# (in other settings tried, float32 against float64 drifted to 2e-3 within 60 steps).
#
# Graph against eager: the same TensorFlow kernels on the same float32 inputs from the same
# initial weights; measured bit-identical here, on this test and over 2000 steps of the
# real reference regime. Grappler may rewrite the graph on other builds (e.g. fuse MatMul,
# bias and ReLU), which changes summation order by a few float32 ulps (a length-3072 dot
# product: ~sqrt(3072) * 2^-24 = 3e-6 relative at most-typical). 1e-5 allows that with
# room and still catches a real difference: a learning rate off by 1e-3 relative ends
# 4e-4 (output weights) to 2e-2 (hidden weights) away.
GRAPH_EAGER_TOLERANCE = 1e-5
# Against float64 numpy: one step measured 5.8e-8 (weights) to 1.6e-7 (biases), 60 steps
# 4.4e-7; float32 rounding of 3072-long sums and of the updates.
FLOAT64_TOLERANCE = 1e-5
AGREEMENT_STEPS = 60


def _config(**overrides: object) -> SetupConfig:
    values: dict[str, object] = dict(
        learning_rate=0.05,
        batch_size=BATCH,
        input_dim=INPUT_DIM,
        num_classes=NUM_CLASSES,
        seed=4,
        params={"hidden": str(HIDDEN)},
    )
    values.update(overrides)
    return SetupConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def data(synthetic):
    return synthetic(2000, seed=11, separation=0.05)


def _train(name: str, config: SetupConfig, batches: list[tuple[np.ndarray, np.ndarray]]):
    """Train on ``batches``: (initial params, final params, losses, the open classifier)."""
    clf = FACTORIES[name]()
    clf.setup(config)
    start = clf.parameters()
    losses = np.array([clf.train_step(x, y) for x, y in batches])
    return start, clf.parameters(), losses, clf


def _batches(data, steps: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    images, labels = data
    schedule = np.random.default_rng(seed).integers(0, len(images), (steps, BATCH))
    return [(np.ascontiguousarray(images[i]), labels[i]) for i in schedule]


def _relative_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    return {
        key: float(np.abs(a[key].astype(np.float64) - b[key]).max() / max(np.abs(b[key]).max(), 1e-30))
        for key in PARAMETER_NAMES
    }


# -- registration -------------------------------------------------------------------------


def test_registered_with_the_article_defaults():
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(bench_tensorflow, name="tensorflow")
    classifiers = collect_classifiers(pm).classifiers
    for name in MLP_NAMES:
        spec = classifiers[name]
        assert (spec.defaults.steps, spec.defaults.batch_size, spec.defaults.learning_rate) == (2000, 400, 0.001)
        assert spec.param_defaults() == {"hidden": "120", "l2": "0.1"}
        assert isinstance(spec.factory(), Classifier)


def test_environment_of_the_mlp_names():
    pm, _ = create_plugin_manager(load_entry_points=False)
    pm.register(bench_tensorflow, name="tensorflow")
    info = collect_classifiers(pm).environment_info(["tf-mlp-eager"])
    assert info["tensorflow"] == tf.__version__


# -- parameters ---------------------------------------------------------------------------


def test_params_are_parsed_and_checked():
    assert parse_params({}, "x") == parse_params({"hidden": "120", "l2": "0.1"}, "x")
    settings = parse_params({"hidden": "7", "l2": "0"}, "x")
    assert (settings.hidden, settings.l2) == (7, 0.0)
    for bad in ({"hidden": "0"}, {"hidden": "1.5"}, {"l2": "-1"}, {"l2": "nan"}, {"l2": "abc"}):
        with pytest.raises(UsageError, match=next(iter(bad))):
            parse_params(bad, "tf-mlp-graph")


@pytest.mark.parametrize("name", MLP_NAMES)
def test_an_unknown_param_is_refused_naming_the_valid_ones(name):
    clf = FACTORIES[name]()
    with pytest.raises(UsageError, match=rf"{name}: unknown --param dtype; valid: hidden, l2"):
        clf.setup(_config(params={"dtype": "float64", "hidden": "8"}))
    clf.close()


# -- initial weights ----------------------------------------------------------------------


def test_initial_weights_are_seeded_truncated_normal():
    a = initial_weights(0, INPUT_DIM, 120, NUM_CLASSES)
    b = initial_weights(0, INPUT_DIM, 120, NUM_CLASSES)
    c = initial_weights(1, INPUT_DIM, 120, NUM_CLASSES)
    for key in PARAMETER_NAMES:
        np.testing.assert_array_equal(a[key], b[key])
        assert a[key].dtype == np.float32
    assert not np.array_equal(a["hidden_weights"], c["hidden_weights"])
    assert not a["hidden_biases"].any() and not a["output_biases"].any()
    for key, fan_in in (("hidden_weights", INPUT_DIM), ("output_weights", 120)):
        w, std = a[key], 1 / math.sqrt(fan_in)
        assert np.abs(w).max() <= TRUNCATE_AT * std * (1 + 1e-6)
        # A normal truncated at 2 sigma has std 0.8796 sigma.
        assert w.std() == pytest.approx(0.8796 * std, rel=0.05)
        assert abs(w.mean()) < 0.05 * std


@pytest.mark.parametrize("name", MLP_NAMES)
def test_both_variants_start_from_the_same_weights(name):
    clf = FACTORIES[name]()
    clf.setup(_config())
    expected = initial_weights(4, INPUT_DIM, HIDDEN, NUM_CLASSES)
    params = clf.parameters()
    assert list(params) == list(PARAMETER_NAMES)
    for key in PARAMETER_NAMES:
        np.testing.assert_array_equal(params[key], expected[key])
    clf.close()


# -- protocol -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MLP_NAMES)
def test_protocol(name, data):
    images, labels = data
    clf = FACTORIES[name]()
    assert isinstance(clf, Classifier)
    clf.setup(_config())
    loss = clf.train_step(images[:BATCH], labels[:BATCH])
    assert type(loss) is float and math.isfinite(loss)
    predictions = clf.predict(images)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (len(images),)
    assert np.issubdtype(predictions.dtype, np.integer)
    assert predictions.min() >= 0 and predictions.max() < NUM_CLASSES
    np.testing.assert_array_equal(clf.predict(images[:7]), predictions[:7])
    params = clf.parameters()
    assert params["hidden_weights"].shape == (INPUT_DIM, HIDDEN)
    assert params["hidden_biases"].shape == (HIDDEN,)
    assert params["output_weights"].shape == (HIDDEN, NUM_CLASSES)
    assert params["output_biases"].shape == (NUM_CLASSES,)
    assert all(value.dtype == np.float32 for value in params.values())
    params["hidden_weights"][:] = 123.0  # a copy: the model is untouched
    assert not np.any(clf.parameters()["hidden_weights"] == 123.0)
    clf.close()
    clf.close()


@pytest.mark.parametrize("name", MLP_NAMES)
def test_missing_gpu_is_device_unavailable(name):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible to TensorFlow")
    clf = FACTORIES[name]()
    with pytest.raises(DeviceUnavailable):
        clf.setup(_config(device="gpu:0"))
    clf.close()


# -- numerics -----------------------------------------------------------------------------


def _numpy_step(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, lr: float, l2: float):
    """One gradient-descent step of the model in float64: (loss, new parameters)."""
    p = {key: value.astype(np.float64) for key, value in p.items()}
    x = x.astype(np.float64)
    pre = x @ p["hidden_weights"] + p["hidden_biases"]
    hidden = np.maximum(pre, 0)
    logits = hidden @ p["output_weights"] + p["output_biases"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    l2_loss = sum((p[k] ** 2).sum() / 2 for k in ("hidden_weights", "output_weights"))
    loss = -log_probs[rows, y].mean() + l2 * l2_loss
    dlogits = np.exp(log_probs)
    dlogits[rows, y] -= 1
    dlogits /= len(y)
    dpre = (dlogits @ p["output_weights"].T) * (pre > 0)
    grads = {
        "output_weights": hidden.T @ dlogits + l2 * p["output_weights"],
        "output_biases": dlogits.sum(axis=0),
        "hidden_weights": x.T @ dpre + l2 * p["hidden_weights"],
        "hidden_biases": dpre.sum(axis=0),
    }
    return loss, {key: p[key] - lr * grads[key] for key in PARAMETER_NAMES}


@pytest.mark.parametrize("name", MLP_NAMES)
@pytest.mark.parametrize("l2", ["0.1", "0"])
def test_loss_and_update_match_float64_numpy(name, l2, data):
    """The loss includes l2 * sum(w^2)/2 over both weight matrices, biases excluded."""
    images, labels = data
    x, y = images[:BATCH], labels[:BATCH]
    config = _config(params={"hidden": str(HIDDEN), "l2": l2})
    start, after, losses, clf = _train(name, config, [(x, y)])
    clf.close()
    loss, expected = _numpy_step(start, x, y, config.learning_rate, float(l2))
    assert losses[0] == pytest.approx(loss, rel=FLOAT64_TOLERANCE)
    for key, diff in _relative_diff(after, expected).items():
        assert diff <= FLOAT64_TOLERANCE, (key, diff)
    for key in PARAMETER_NAMES:  # the step moved every parameter far more than the tolerance
        assert np.abs(after[key] - start[key]).max() > 100 * FLOAT64_TOLERANCE * np.abs(expected[key]).max(), key


@pytest.fixture(scope="module")
def agreement_runs(data):
    """Both variants trained on the same 60 batches: name -> (start, params, losses, predictions)."""
    batches = _batches(data, AGREEMENT_STEPS, seed=2)
    runs = {}
    for name in MLP_NAMES:
        start, params, losses, clf = _train(name, _config(), batches)
        runs[name] = start, params, losses, clf.predict(data[0])
        clf.close()
    return batches, runs


def test_graph_and_eager_agree_after_many_steps(agreement_runs):
    _, runs = agreement_runs
    graph, eager = runs["tf-mlp-graph"], runs["tf-mlp-eager"]
    for key in PARAMETER_NAMES:
        np.testing.assert_array_equal(graph[0][key], eager[0][key])  # the same start
    for key, diff in _relative_diff(graph[1], eager[1]).items():
        assert diff <= GRAPH_EAGER_TOLERANCE, (key, diff)
    np.testing.assert_allclose(graph[2], eager[2], rtol=GRAPH_EAGER_TOLERANCE, atol=0)
    assert np.mean(graph[3] == eager[3]) > 0.999  # ties within rounding may differ


@pytest.mark.parametrize("name", MLP_NAMES)
def test_many_steps_match_float64_numpy(name, agreement_runs):
    batches, runs = agreement_runs
    start, params, losses, _ = runs[name]
    config = _config()
    expected = {key: value.astype(np.float64) for key, value in start.items()}
    expected_losses = []
    for x, y in batches:
        loss, expected = _numpy_step(expected, x, y, config.learning_rate, 0.1)
        expected_losses.append(loss)
    for key, diff in _relative_diff(params, expected).items():
        assert diff <= FLOAT64_TOLERANCE, (key, diff)
    np.testing.assert_allclose(losses, expected_losses, rtol=FLOAT64_TOLERANCE, atol=0)
    assert expected_losses[-1] < 0.75 * expected_losses[0]  # it trained along the way


@pytest.mark.parametrize("name", MLP_NAMES)
def test_learns_a_small_synthetic_problem(name, synthetic):
    images, labels = synthetic(2000, seed=11, separation=0.1)
    train, held_out = (images[:1500], labels[:1500]), slice(1500, None)
    _, _, losses, clf = _train(name, _config(), _batches(train, 120, seed=3))  # l2 = 0.1
    accuracy = float(np.mean(clf.predict(images[held_out]) == labels[held_out]))
    clf.close()
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5])  # measured 3.9 -> 1.4
    assert accuracy > 0.8  # held out; measured 0.94, chance 0.1
