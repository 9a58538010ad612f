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

from bench import (
    Classifier,
    ClassifierSpec,
    Param,
    RecipeDefaults,
    SetupConfig,
    StepWork,
    hookimpl,
    linear_softmax_work,
    mlp_work,
)

# Before anything imports TensorFlow: keep its C++ log lines off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


MLP_DEFAULTS = RecipeDefaults(steps=2000, batch_size=400, learning_rate=0.001)
"""The settings of the original ``run_fc_model.py``."""
MLP_PARAMS = (
    Param("hidden", int, 120, "units in the hidden ReLU layer", minimum=1),
    Param("l2", float, 0.1, "L2 weight decay (the original's reg_constant)", minimum=0),
)


def mlp_step_work(config: SetupConfig) -> StepWork:
    """A step of ``tf-mlp-*`` for ``config``: its ``hidden`` units, with L2 decay unless ``l2`` is 0."""
    params = {**{p.name: str(p.default) for p in MLP_PARAMS}, **config.params}
    return mlp_work(config, int(params["hidden"]), weight_decay=float(params["l2"]) != 0)


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
# name, description, factory, whether it takes the follow-up article's settings as defaults,
# resident placement, many steps per call
_CLASSIFIERS: tuple[tuple[str, str, Callable[[], Classifier], bool, bool, bool], ...] = (
    ("tf-graph", f"{_SOFTMAX} 1.x style: placeholders, GradientDescentOptimizer, Session", make_tf_graph,
     False, True, False),
    ("tf-eager", f"{_SOFTMAX} eager mode: Variables, GradientTape, every op eager", make_tf_eager,
     False, True, False),
    ("tf-function", f"{_SOFTMAX}: the GradientTape step compiled once with tf.function", make_tf_function,
     False, True, True),
    ("tf-xla", f"{_SOFTMAX}: the tf.function step compiled by XLA (jit_compile=True)", make_tf_xla,
     False, True, True),
    ("tf-mlp-graph", f"{_MLP} 1.x style: Session", make_tf_mlp_graph, True, False, False),
    ("tf-mlp-eager", f"{_MLP} eager mode: GradientTape", make_tf_mlp_eager, True, False, False),
)


@hookimpl
def bench_register_classifiers(register: Callable[[ClassifierSpec], None]) -> None:
    for name, description, factory, mlp, resident, multi_step in _CLASSIFIERS:
        register(
            ClassifierSpec(
                name,
                description,
                factory,
                defaults=MLP_DEFAULTS if mlp else RecipeDefaults(),
                params=MLP_PARAMS if mlp else (),
                devices=tf_devices,
                work=mlp_step_work if mlp else linear_softmax_work,
                environment=tf_environment,
                supports_resident=resident,
                supports_steps_per_call=multi_step,
            )
        )


def tf_environment() -> dict[str, str]:
    """TensorFlow's version, its CUDA build, the GPUs it sees, whether float32 matrix
    products may run in TF32, and its thread pools (0: TensorFlow's default)."""
    from bench_tensorflow._runtime import import_tensorflow

    tf = import_tensorflow()
    build = tf.sysconfig.get_build_info()
    return {
        "tensorflow": tf.__version__,
        "tf_cuda_build": "yes" if build.get("is_cuda_build") else "no",
        "cuda": str(build.get("cuda_version") or "none"),
        "cudnn": str(build.get("cudnn_version") or "none"),
        "gpus": ", ".join(_describe_gpu(tf, gpu) for gpu in tf.config.list_physical_devices("GPU")) or "none",
        # TensorFlow runs float32 matrix products in TF32 on Ampere and later unless this is off
        "tf_tensor_float_32_execution": str(bool(tf.config.experimental.tensor_float_32_execution_enabled())),
        "tf_intra_op_threads": str(tf.config.threading.get_intra_op_parallelism_threads() or "default"),
        "tf_inter_op_threads": str(tf.config.threading.get_inter_op_parallelism_threads() or "default"),
    }


def _describe_gpu(tf: object, gpu: object) -> str:
    """``"GPU:0 NVIDIA H200 (compute capability 9.0)"``, from what TensorFlow reports."""
    label = getattr(gpu, "name", str(gpu)).replace("/physical_device:", "")
    try:
        details = tf.config.experimental.get_device_details(gpu)  # type: ignore[attr-defined]  # tf is untyped here
    except Exception:  # noqa: BLE001 - details are best effort
        details = {}
    text = f"{label} {details.get('device_name', 'unknown GPU')}"
    capability = details.get("compute_capability")
    if capability:
        text += f" (compute capability {'.'.join(str(part) for part in capability)})"
    return text
