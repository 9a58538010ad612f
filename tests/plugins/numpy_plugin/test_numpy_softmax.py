"""The numpy reference classifier: exact loss, exact gradient, SGD update."""

from __future__ import annotations

import numpy as np
import pytest

from bench.classifier import Classifier, SetupConfig
from bench.errors import DeviceUnavailable
from bench_numpy.softmax import NumpySoftmax, softmax_cross_entropy


def _loss64(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def test_loss_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    loss, grad = softmax_cross_entropy(logits, np.array([1, 2]))
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx((1000.0 + np.log(3.0)) / 2, rel=1e-6)


def test_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 12))
    y = rng.integers(0, 4, size=8)
    w = rng.normal(size=(12, 4)) * 0.3
    b = rng.normal(size=4) * 0.3
    _, dlogits = softmax_cross_entropy(x @ w + b, y)
    analytic_w, analytic_b = x.T @ dlogits, dlogits.sum(axis=0)
    eps = 1e-6
    numeric_w = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        step = np.zeros_like(w)
        step[i] = eps
        numeric_w[i] = (_loss64(x @ (w + step) + b, y) - _loss64(x @ (w - step) + b, y)) / (2 * eps)
    numeric_b = np.array(
        [(_loss64(x @ w + b + eps * e, y) - _loss64(x @ w + b - eps * e, y)) / (2 * eps) for e in np.eye(4)]
    )
    np.testing.assert_allclose(analytic_w, numeric_w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(analytic_b, numeric_b, rtol=1e-6, atol=1e-8)


def test_train_step_is_one_sgd_update_from_zero():
    clf = NumpySoftmax()
    assert isinstance(clf, Classifier)
    clf.setup(SetupConfig(learning_rate=0.5, batch_size=4, input_dim=3, num_classes=2))
    x = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    loss = clf.train_step(x, y)
    assert loss == pytest.approx(np.log(2.0))  # zero weights: uniform over 2 classes
    # dL/dlogits = (0.5 - onehot) / 4; W <- W - lr * x^T dlogits
    dlogits = (np.full((4, 2), 0.5) - np.eye(2)[y]) / 4
    expected_w = -0.5 * x.T @ dlogits
    np.testing.assert_allclose(clf.parameters()["weights"], expected_w, rtol=1e-6)
    np.testing.assert_allclose(clf.parameters()["biases"], -0.5 * dlogits.sum(axis=0), rtol=1e-6)
    assert clf.parameters()["weights"].dtype == np.float32


def test_learns_a_separable_problem():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 20)) * 3
    y = rng.integers(0, 3, size=600)
    x = (centres[y] + rng.normal(size=(600, 20))).astype(np.float32)
    clf = NumpySoftmax()
    clf.setup(SetupConfig(learning_rate=0.05, batch_size=50, input_dim=20, num_classes=3))
    for step in range(100):
        rows = slice(50 * (step % 12), 50 * (step % 12 + 1))
        clf.train_step(x[rows], y[rows])
    assert np.mean(clf.predict(x) == y) > 0.95


def test_refuses_a_gpu():
    with pytest.raises(DeviceUnavailable, match="CPU only"):
        NumpySoftmax().setup(SetupConfig(learning_rate=0.1, batch_size=1, input_dim=2, num_classes=2, device="gpu:0"))
