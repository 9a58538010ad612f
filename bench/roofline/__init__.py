"""The roofline: what the machine allows a training step, and how close each row comes.

- :mod:`~bench.roofline.ceilings`: a device's peak FLOP/s and memory bandwidth, measured
  (numpy on the CPU; any framework's device through :class:`Kernels`);
- :mod:`~bench.roofline.cache`: those ceilings kept per machine and settings;
- :mod:`bench.work` (exported from :mod:`bench`): the FLOPs and bytes of a step of the
  built-in models (``bench.roofline.work`` is its deprecated old name);
- :mod:`~bench.roofline.bound`: attainable steps/s and a row's fraction of it;
- :mod:`~bench.roofline.unfused`: the *unfused numpy bound*, a second reference for the
  linear model (:func:`probe`; the runner no longer calls it, `% roof` uses the ceilings).

``python -m bench.roofline`` prints this machine's ceilings and each built-in model's limit.
"""

from bench.roofline.bound import (
    NO_CEILINGS_REASON,
    NO_SPEED_REASON,
    NO_WORK_REASON,
    Rating,
    arithmetic_intensity,
    attainable,
    fraction,
    limited_by,
    rate,
    ridge_point,
    step_seconds,
)
from bench.roofline.cache import cached_ceilings, cpu_ceilings
from bench.roofline.ceilings import Ceilings, Kernels, cpu_kernels, measure, timed
from bench.roofline.unfused import probe
from bench.work import linear_softmax_work, mlp_work

__all__ = [
    "NO_CEILINGS_REASON",
    "NO_SPEED_REASON",
    "NO_WORK_REASON",
    "Ceilings",
    "Kernels",
    "Rating",
    "arithmetic_intensity",
    "attainable",
    "cached_ceilings",
    "cpu_ceilings",
    "cpu_kernels",
    "fraction",
    "limited_by",
    "linear_softmax_work",
    "measure",
    "mlp_work",
    "probe",
    "rate",
    "ridge_point",
    "step_seconds",
    "timed",
]
