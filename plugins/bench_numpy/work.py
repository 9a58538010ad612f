"""The work of one training step of the linear softmax model, for ``ClassifierSpec(work=...)``.

bench's own helper, ``bench.roofline.work.linear_softmax_work``, is used where this bench
has it; for a bench without it, the same counts are stated here (the JAX and PyTorch
plugins import this name, so they declare their work either way).
"""

from __future__ import annotations

from bench import SetupConfig, StepWork

FLOAT_BYTES, LABEL_BYTES = 4, 8

try:
    from bench.roofline.work import linear_softmax_work  # noqa: F401
except ImportError:  # a bench whose roofline is a single module

    def linear_softmax_work(config: SetupConfig) -> StepWork:  # type: ignore[misc]
        """FLOPs and minimum bytes of one SGD step of ``logits = x @ W + b`` (float32).

        FLOPs: the forward product and the weight-gradient product (``2*B*D*C`` each), the
        bias add and the bias gradient (``B*C`` each), the softmax cross-entropy forward
        (row max, subtract, exp, row sum, log, pick, mean: ``4*B*C + 3*B``) and backward
        (``2*B*C + B``), and the update of every parameter (``2*(D*C + C)``): in all
        ``4BDC + 8BC + 4B + 2(DC + C)``, 12,357,860 at the reference sizes.

        Bytes: the batch in (``B*D`` float32 inputs, ``B`` int64 labels), every parameter
        read and written, the gradients written: ``B*D*4 + B*8 + 3*(D*C + C)*4``.
        """
        b, d, c = config.batch_size, config.input_dim, config.num_classes
        params = d * c + c
        flops = 4 * b * d * c + 8 * b * c + 4 * b + 2 * params
        moved = b * d * FLOAT_BYTES + b * LABEL_BYTES + 3 * params * FLOAT_BYTES
        return StepWork(flops=float(flops), bytes=float(moved))
