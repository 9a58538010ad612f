"""The work formulas against XLA's compiled programs: tf-xla's compiled_step_work, and an
XLA-compiled step of the MLP, counted from their optimised HLO."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from bench_tensorflow.eager import TFXlaSoftmax
from bench_tensorflow.hlo_cost import count

from bench import SetupConfig, linear_softmax_work, mlp_work


def test_tf_xla_compiled_step_matches_the_linear_formula():
    config = SetupConfig(learning_rate=0.005, batch_size=100, input_dim=3072, num_classes=10)
    classifier = TFXlaSoftmax()
    assert classifier.compiled_step_work() is None  # not set up yet
    classifier.setup(config)
    try:
        rng = np.random.default_rng(0)
        images, labels = rng.standard_normal((100, 3072), dtype=np.float32), rng.integers(0, 10, 100)
        classifier.train_step(images, labels)
        before = classifier.parameters()
        fed = classifier.compiled_step_work()
        formula = linear_softmax_work(config)
        assert fed.flops == pytest.approx(formula.flops, rel=0.005)  # measured: 12,374,554 vs 12,357,860
        # The compiled program reads the batch once per product and keeps the gradient in
        # memory: more than the minimum, less than twice it plus the parameters again.
        assert formula.bytes < fed.bytes < 2 * formula.bytes
        for key, value in classifier.parameters().items():  # counting compiles, it does not train
            assert np.array_equal(value, before[key])

        classifier.place_dataset(rng.standard_normal((500, 3072), dtype=np.float32), rng.integers(0, 10, 500))
        resident = classifier.compiled_step_work()
        assert resident.flops == fed.flops
        batch_bytes = 100 * 3072 * 4
        assert resident.bytes == pytest.approx(fed.bytes + 2 * batch_bytes, rel=0.01)  # the gather: rows read, written
        assert classifier.tracing_counts()["train_step"] == 1
    finally:
        classifier.close()


@pytest.mark.parametrize("l2", [0.1, 0.0])
def test_an_xla_compiled_mlp_step_matches_the_mlp_formula(l2):
    from bench_tensorflow._runtime import import_tensorflow
    from bench_tensorflow.mlp import PARAMETER_NAMES, _logits, _loss, initial_weights

    tf = import_tensorflow()
    batch, dim, hidden, classes = 50, 3072, 120, 10
    p = {key: tf.Variable(value) for key, value in initial_weights(0, dim, hidden, classes).items()}
    trainable = [p[key] for key in PARAMETER_NAMES]

    @tf.function(jit_compile=True)
    def step(x, y):  # the tf-mlp-eager step, compiled
        with tf.GradientTape() as tape:
            loss = _loss(_logits(x, p), y, p, l2)
        for variable, grad in zip(trainable, tape.gradient(loss, trainable), strict=True):
            variable.assign_sub(0.001 * grad)
        return loss

    hlo = step.experimental_get_compiler_ir(tf.zeros([batch, dim]), tf.zeros([batch], tf.int64))(stage="optimized_hlo")
    compiled = count(hlo)
    formula = mlp_work(SetupConfig(0.001, batch, dim, classes), hidden, weight_decay=l2 > 0)
    assert compiled.flops == pytest.approx(formula.flops, rel=0.005)
    assert compiled.bytes > formula.bytes
