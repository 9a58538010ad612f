"""The work of one training step of the linear softmax model, counted analytically.

Every implementation of the reference model (numpy, TensorFlow, JAX, PyTorch) does this
work per step, whatever its framework; a plugin's ``ClassifierSpec(work=...)`` can point
here. (Kept beside the numpy reference, the model's definition, until bench's core has a
helper of its own.)
"""

from __future__ import annotations

from bench import SetupConfig, StepWork

FLOAT32_BYTES = 4


def linear_softmax_work(config: SetupConfig) -> StepWork:
    """FLOPs and minimum bytes of one SGD step of ``logits = x @ W + b`` (float32).

    FLOPs: the forward product ``2*B*D*C`` and the weight-gradient product ``2*B*D*C``,
    plus the small terms: bias add (``B*C``), softmax and its gradient (about ``5*B*C``:
    max, subtract, exp, sum, divide), the bias gradient (``B*C``) and the update of every
    parameter (a multiply and a subtract, ``2*(D*C + C)``).

    Bytes: the batch read once (``B*D*4``), the parameters read and written (``2*(D*C + C)*4``)
    and the gradients written once (``(D*C + C)*4``); the labels and the ``B x C`` logits
    are left out (under 1% of the total at the reference sizes).
    """
    b, d, c = config.batch_size, config.input_dim, config.num_classes
    params = d * c + c
    flops = 2 * b * d * c + 2 * b * d * c + b * c + 5 * b * c + b * c + 2 * params
    moved = b * d * FLOAT32_BYTES + 2 * params * FLOAT32_BYTES + params * FLOAT32_BYTES
    return StepWork(flops=float(flops), bytes=float(moved))
