"""Built-in plugin ``tensorflow``: the softmax classifier in four TensorFlow styles, and
the two-layer network in two.

``tf-graph`` (TF1 placeholders and Session, as in the reference script), ``tf-eager``
(GradientTape, every op eager), ``tf-function`` (the eager step under ``tf.function``)
and ``tf-xla`` (the same with ``jit_compile=True``). All train the same model: zero-
initialised 3072x10 weights and 10 biases, mean sparse softmax cross-entropy, plain
gradient descent.

``tf-mlp-graph`` and ``tf-mlp-eager`` train the reference article's follow-up model,
3072 -> 120 ReLU -> 10 with L2 weight decay (see :mod:`bench_tensorflow.mlp`), from the
same seeded initial weights; they register that article's settings as their defaults.

TensorFlow is imported only when one of these classifiers is created (or its
environment is reported), never when plugins are listed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bench.classifier import Classifier, ClassifierSpec, SetupConfig, StepWork
from bench.errors import UsageError
from bench.hookspecs import hookimpl
from bench.roofline.work import linear_softmax_work, mlp_work

# Before anything imports TensorFlow: keep its C++ log lines off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def mlp_defaults() -> dict[str, object]:
    """The settings of the original ``run_fc_model.py`` (its reg_constant is ``l2``); a new dict each call."""
    return {"steps": 2000, "batch_size": 400, "learning_rate": 0.001, "params": {"hidden": "120", "l2": "0.1"}}


def mlp_step_work(config: SetupConfig) -> StepWork:
    """A step of ``tf-mlp-*`` for ``config``: its ``hidden`` units, with L2 decay unless ``l2`` is 0."""
    params = {**mlp_defaults()["params"], **config.params}  # type: ignore[dict-item]
    try:
        return mlp_work(config, int(params["hidden"]), weight_decay=float(params["l2"]) != 0)
    except ValueError:
        raise UsageError(
            f"tf-mlp: --param hidden must be a positive integer and l2 a number, not {params['hidden']!r}, {params['l2']!r}"
        ) from None


def tf_devices() -> list[str]:
    """The CPU and every GPU TensorFlow can see, as ``cpu`` / ``gpu:N``."""
    from bench_tensorflow._runtime import import_tensorflow

    tf = import_tensorflow()
    return ["cpu"] + [f"gpu:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]


def make_tf_graph() -> Classifier:
    from bench_tensorflow.graph import TFGraphSoftmax

    return TFGraphSoftmax()


def make_tf_eager() -> Classifier:
    from bench_tensorflow.eager import TFEagerSoftmax

    return TFEagerSoftmax()


def make_tf_function() -> Classifier:
    from bench_tensorflow.eager import TFFunctionSoftmax

    return TFFunctionSoftmax()


def make_tf_xla() -> Classifier:
    from bench_tensorflow.eager import TFXlaSoftmax

    return TFXlaSoftmax()


def make_tf_mlp_graph() -> Classifier:
    from bench_tensorflow.mlp import TFGraphMLP

    return TFGraphMLP()


def make_tf_mlp_eager() -> Classifier:
    from bench_tensorflow.mlp import TFEagerMLP

    return TFEagerMLP()


_SOFTMAX = "Softmax classifier in TensorFlow"
_MLP = "Two-layer network 3072-120(ReLU)-10, L2 decay, in TensorFlow"
# name, description, factory, whether it takes the follow-up article's settings as defaults
_CLASSIFIERS: tuple[tuple[str, str, Callable[[], Classifier], bool], ...] = (
    ("tf-graph", f"{_SOFTMAX} 1.x style: placeholders, GradientDescentOptimizer, Session", make_tf_graph, False),
    ("tf-eager", f"{_SOFTMAX} eager mode: Variables, GradientTape, every op eager", make_tf_eager, False),
    ("tf-function", f"{_SOFTMAX}: the GradientTape step compiled once with tf.function", make_tf_function, False),
    ("tf-xla", f"{_SOFTMAX}: the tf.function step compiled by XLA (jit_compile=True)", make_tf_xla, False),
    ("tf-mlp-graph", f"{_MLP} 1.x style: Session", make_tf_mlp_graph, True),
    ("tf-mlp-eager", f"{_MLP} eager mode: GradientTape", make_tf_mlp_eager, True),
)


@hookimpl
def bench_register_classifiers(register: Callable[[ClassifierSpec], None]) -> None:
    for name, description, factory, mlp in _CLASSIFIERS:
        defaults = mlp_defaults() if mlp else {}
        work = mlp_step_work if mlp else linear_softmax_work
        register(ClassifierSpec(name, description, factory, defaults=defaults, devices=tf_devices, work=work))


@hookimpl
def bench_environment_info(classifiers: list[str]) -> dict[str, str] | None:
    if not {name for name, *_ in _CLASSIFIERS} & set(classifiers):
        return None
    from bench_tensorflow._runtime import import_tensorflow

    tf = import_tensorflow()
    build = tf.sysconfig.get_build_info()
    return {
        "tensorflow": tf.__version__,
        "tf_cuda_build": "yes" if build.get("is_cuda_build") else "no",
        "cuda": str(build.get("cuda_version") or "none"),
        "cudnn": str(build.get("cudnn_version") or "none"),
        "gpus": ", ".join(_describe_gpu(tf, gpu) for gpu in tf.config.list_physical_devices("GPU")) or "none",
    }


def _describe_gpu(tf: object, gpu: object) -> str:
    """``"GPU:0 NVIDIA H200 (compute capability 9.0)"``, from what TensorFlow reports."""
    label = getattr(gpu, "name", str(gpu)).replace("/physical_device:", "")
    try:
        details = tf.config.experimental.get_device_details(gpu)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - details are best effort
        details = {}
    text = f"{label} {details.get('device_name', 'unknown GPU')}"
    capability = details.get("compute_capability")
    if capability:
        text += f" (compute capability {'.'.join(str(part) for part in capability)})"
    return text
