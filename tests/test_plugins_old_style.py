"""A plugin written against the older plugin guide keeps working, with deprecation warnings.

Written the old way: it imports from bench's internal modules (``bench.classifier``,
``bench.errors``, ``bench.hookspecs``), takes its work formula from
``bench.roofline.work`` (now :mod:`bench.work`, exported from :mod:`bench`) and reports
its environment through the ``bench_environment_info`` hook instead of
``ClassifierSpec(environment=...)``. It must still register, run a row and have its facts
recorded; the two deprecated ways warn.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bench
from bench import runner
from bench.plugins import collect_classifiers, create_plugin_manager, environment_of
from bench.runner import RunConfig

OLD_STYLE_PLUGIN = '''
    import numpy as np

    from bench.classifier import ClassifierSpec, SetupConfig
    from bench.errors import DeviceUnavailable
    from bench.hookspecs import hookimpl
    from bench.roofline.work import linear_softmax_work


    class OldSoftmax:
        def setup(self, config: SetupConfig) -> None:
            if config.device != "cpu":
                raise DeviceUnavailable("CPU only")
            self.lr = np.float32(config.learning_rate)
            self.w = np.zeros((config.input_dim, config.num_classes), np.float32)
            self.b = np.zeros(config.num_classes, np.float32)

        def train_step(self, images, labels):
            logits = images @ self.w + self.b
            shifted = logits - logits.max(axis=1, keepdims=True)
            exp = np.exp(shifted)
            sums = exp.sum(axis=1, keepdims=True)
            rows = np.arange(len(labels))
            loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))
            grad = exp / sums
            grad[rows, labels] -= 1
            grad /= len(labels)
            self.w -= self.lr * (images.T @ grad)
            self.b -= self.lr * grad.sum(axis=0)
            return loss

        def predict(self, images):
            return np.argmax(images @ self.w + self.b, axis=1).astype(np.int64)

        def parameters(self):
            return {"weights": self.w.copy(), "biases": self.b.copy()}

        def close(self):
            pass


    @hookimpl
    def bench_register_classifiers(register):
        register(ClassifierSpec(name="old-softmax", description="written the old way", factory=OldSoftmax,
                                work=linear_softmax_work))


    @hookimpl
    def bench_environment_info(classifiers):
        if "old-softmax" not in classifiers:
            return None
        return {"oldframework": "0.9"}
'''


@pytest.fixture
def old_registry(fake_distribution):
    fake_distribution("bench-old-style", {"old-style": "fakeplugin_old_style"}, {"fakeplugin_old_style": OLD_STYLE_PLUGIN})
    with pytest.warns(DeprecationWarning, match=r"bench\.roofline\.work\.linear_softmax_work is deprecated"):
        pm, broken = create_plugin_manager()
    return collect_classifiers(pm, broken)


def test_old_style_plugin_registers(old_registry):
    assert not old_registry.broken
    spec = old_registry.get("old-softmax")
    assert spec.environment is None
    assert spec.work is bench.linear_softmax_work  # the old import path gives the same function
    assert old_registry.origin("old-softmax").plugin == "old-style"


def test_old_style_plugin_reports_its_environment_through_the_hook_with_a_warning(old_registry):
    spec = old_registry.get("old-softmax")
    with pytest.warns(DeprecationWarning, match=r"plugin 'old-style' .* deprecated bench_environment_info hook"):
        assert environment_of(old_registry, spec) == {"oldframework": "0.9"}
    # Built-in classifiers state theirs in the spec: asked for alone, nothing warns.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert old_registry.environment_info(["numpy"]) == {"numpy": np.__version__}


def test_old_style_plugin_runs_a_row_and_its_environment_is_recorded(old_registry, monkeypatch, tiny_dataset):
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())
    config = RunConfig(plugins=["numpy", "old-softmax"], steps=30, batch_size=20, learning_rate=0.05, executor="inprocess")
    with pytest.warns(DeprecationWarning, match=r"plugin 'old-style'"):
        outcome = runner.run(config, old_registry)
    reference, old = outcome.rows
    assert str(old.status) == str(reference.status) == "ok"
    assert old.test_accuracy > 0.5
    frameworks = outcome.document.machine["frameworks"]
    assert frameworks["oldframework"] == "0.9" and frameworks["numpy"] == np.__version__
