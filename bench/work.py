"""The work of one training step: FLOPs and minimum bytes, for ``ClassifierSpec(work=...)``.

One place for the formulas, so every plugin that trains the same model states the same
work. What a plugin author needs is exported from :mod:`bench`::

    from bench import dense_flops, linear_softmax_work, minimum_bytes, mlp_work, softmax_cross_entropy_flops

:func:`linear_softmax_work` and :func:`mlp_work` are the built-in models' whole steps
(pass them as ``work=`` directly, or call them inside your own ``work``);
:func:`dense_flops`, :func:`softmax_cross_entropy_flops` and :func:`minimum_bytes` are the
parts they are built from, to state the work of another model. FLOPs are counted
floating-point operations (not a rate), bytes are bytes; both per training step.
(``bench.roofline.work``, the old home of these names, still works and warns.)

``B`` is the batch, ``D`` the input dimension,
``H`` the hidden units, ``C`` the classes.

Counting FLOPs (the convention of the roofline papers and of XLA's cost analysis):

- a matrix product ``(m x k) . (k x n)`` is ``2 m k n`` (one multiply, one add per term);
- an elementwise operation is one FLOP per element, ``exp`` and ``log`` included;
- a reduction over ``n`` elements is ``n`` FLOPs;
- operations on a handful of scalars (the mean's division, the L2 constant) are left out.

Linear softmax, ``logits = X W + b``, mean softmax cross-entropy, plain SGD:

==========  ==============================================  ====================
phase       what                                            FLOPs
==========  ==============================================  ====================
forward     ``X W``; ``+ b``                                ``2BDC + BC``
            softmax cross-entropy: row max, subtract,       ``4BC + 3B``
            ``exp``, row sum; ``log``, pick label, mean
backward    ``dlogits = (p - onehot) / B``: divide by the   ``2BC + B``
            row sums, subtract at the label, scale
            ``dW = X^T dlogits``; ``db`` = column sums      ``2BDC + BC``
update      ``p -= lr * dp`` for W and b                    ``2(DC + C)``
==========  ==============================================  ====================

Total ``4BDC + 8BC + 4B + 2(DC + C)``: 12,357,860 at the reference recipe (B 100,
D 3072, C 10), 99.4% of it in the two products. No gradient with respect to ``X``.

The MLP ``D -> H (ReLU) -> C`` with L2 decay ``l2 * (|W1|^2 + |W2|^2) / 2`` adds, per
layer, the same product, bias and update terms, plus: ``ReLU`` and its mask (``2BH``),
the hidden layer's input gradient ``dh = dlogits W2^T`` (``2BHC``), and for the decay
the squares and sums of both weight matrices in the loss (``2(DH + HC)``) and ``l2 * W``
added to their gradients (``2(DH + HC)``). Total
``4BDH + 6BHC + 4BH + 8BC + 4B + 2(DH + H + HC + C) [+ 4(DH + HC) with decay]``.

Minimum bytes (what a step must move if nothing is kept between steps): the batch in
(``B D`` float32 inputs and ``B`` int64 labels), every parameter read and written once,
and the gradients written once. Activations (``B x C`` logits, ``B x H`` hidden units)
are left out: they fit in cache (under 210 kB at the MLP's defaults). The inputs are counted as
the classifier receives them, float32; a batch gathered from the uint8 pixels would be a
quarter of that.
"""

from __future__ import annotations

from bench.classifier import SetupConfig, StepWork

__all__ = ["dense_flops", "linear_softmax_work", "minimum_bytes", "mlp_work", "softmax_cross_entropy_flops"]

FLOAT_BYTES = 4
"""float32 inputs, parameters and gradients."""
LABEL_BYTES = 8
"""int64 labels."""


def softmax_cross_entropy_flops(batch: int, classes: int) -> int:
    """FLOPs of the forward and backward pass of the mean softmax cross-entropy, from the logits.

    ``batch`` rows of ``classes`` logits each; returns ``6 * batch * classes + 4 * batch``
    (FLOPs, per step).
    """
    forward = 4 * batch * classes + 3 * batch
    backward = 2 * batch * classes + batch
    return forward + backward


def dense_flops(batch: int, fan_in: int, fan_out: int, input_gradient: bool) -> int:
    """FLOPs of one dense layer ``y = x W + b`` in a training step with plain SGD.

    ``batch`` rows, ``fan_in`` inputs, ``fan_out`` outputs. Counts the forward product and
    bias add, the weight gradient and the bias gradient's column sums, the input gradient
    ``dx`` only when ``input_gradient`` (not for the first layer), and the update of
    ``W`` and ``b``. Returns FLOPs per step.
    """
    products = 2 * batch * fan_in * fan_out * (3 if input_gradient else 2)
    bias = 2 * batch * fan_out  # the forward add and the gradient's column sums
    update = 2 * (fan_in * fan_out + fan_out)
    return products + bias + update


def minimum_bytes(batch: int, input_dim: int, parameters: int) -> int:
    """Bytes a step must move at least: ``batch`` float32 inputs of ``input_dim`` values and
    ``batch`` int64 labels in, each of ``parameters`` float32 parameters read and written,
    and its gradient written (module docstring). Returns bytes per step."""
    batch_in = batch * input_dim * FLOAT_BYTES + batch * LABEL_BYTES
    return batch_in + 3 * parameters * FLOAT_BYTES


def linear_softmax_work(config: SetupConfig) -> StepWork:
    """A step of the linear softmax classifier (``logits = x W + b``, mean softmax
    cross-entropy, SGD) at ``config``'s ``batch_size``, ``input_dim`` and ``num_classes``.

    Returns ``StepWork(flops=FLOPs per step, bytes=bytes per step)``; usable directly as
    ``ClassifierSpec(work=linear_softmax_work)``.
    """
    batch, dim, classes = config.batch_size, config.input_dim, config.num_classes
    flops = dense_flops(batch, dim, classes, input_gradient=False) + softmax_cross_entropy_flops(batch, classes)
    return StepWork(flops=float(flops), bytes=float(minimum_bytes(batch, dim, dim * classes + classes)))


def mlp_work(config: SetupConfig, hidden: int, weight_decay: bool = True) -> StepWork:
    """A step of the ``input_dim -> hidden (ReLU) -> num_classes`` network with SGD, with or
    without L2 decay of both weight matrices, at ``config``'s batch size and dimensions.

    Returns ``StepWork(flops=FLOPs per step, bytes=bytes per step)``; raises ValueError for
    ``hidden < 1``. As a spec's ``work``, wrap it:
    ``work=lambda config: mlp_work(config, int(config.params["hidden"]))``.
    """
    if hidden < 1:
        raise ValueError(f"hidden must be a positive integer, not {hidden!r}")
    batch, dim, classes = config.batch_size, config.input_dim, config.num_classes
    weights = dim * hidden + hidden * classes
    flops = (
        dense_flops(batch, dim, hidden, input_gradient=False)
        + 2 * batch * hidden  # ReLU and its mask in the backward pass
        + dense_flops(batch, hidden, classes, input_gradient=True)
        + softmax_cross_entropy_flops(batch, classes)
        + (4 * weights if weight_decay else 0)  # the decay's loss term and gradient
    )
    parameters = weights + hidden + classes
    return StepWork(flops=float(flops), bytes=float(minimum_bytes(batch, dim, parameters)))
