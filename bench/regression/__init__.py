"""Speed regression checks that hold on a shared, noisy machine.

Two kinds of check live here.

**Within one run** (:func:`relative_step_times`, :func:`harness_vs_bare`). A number
measured on another day, or on another machine, says little on a shared CI runner: five
back-to-back runs of one commit gave tf-graph 664 to 1134 steps/s on bench's 2-core CI
machine. So these checks never compare against a stored time. They compare, in the same
process and interleaved round by round (A B C, then B C A, ...), every classifier's CPU
time a step (each on one thread) with the numpy reference's, and the harness's measured
step time with a bare loop over the same classifier. Whatever slows the machine down
slows both sides of a ratio. A bound fails only when the rounds cross it significantly,
by ``bench compare``'s rule (:func:`bench.results.statistics.against_bound`); a ratio
past its bound is measured again, its new rounds joining the old. The allowed ratios
are recorded in a bounds file (bench ships ``bench/regression/bounds.json``), with
margins wide enough for a noisy two-core machine and still well short of a real
slowdown (a step doing five times its work).

**Across runs** lives with the results (:mod:`bench.results.compare`): ``bench compare A B
--fail-on-slower``, with verdicts from the same statistics.

The parts: :mod:`~bench.regression.bounds` (the bounds file), :mod:`~bench.regression.relative`
(classifiers against the reference), :mod:`~bench.regression.harness` (the harness against a
bare loop), :mod:`~bench.regression.checks` (checks and retries) and :mod:`~bench.regression.suite`
(the whole check, as ``bench check`` runs it).
"""

from bench.regression.bounds import (
    REFERENCE,
    Bounds,
    RatioBound,
    bounds_from_dict,
    default_bounds_path,
    load_bounds,
)
from bench.regression.checks import Check, CheckReport
from bench.regression.harness import HarnessTiming, check_harness, check_harness_speed, harness_vs_bare
from bench.regression.relative import (
    Batches,
    RelativeTiming,
    check_relative_speed,
    check_step_ratios,
    fixed_batches,
    measure_relative,
    relative_step_times,
    setup_config,
)
from bench.regression.suite import run_check

__all__ = [
    "REFERENCE",
    "Batches",
    "Bounds",
    "Check",
    "CheckReport",
    "HarnessTiming",
    "RatioBound",
    "RelativeTiming",
    "bounds_from_dict",
    "check_harness",
    "check_harness_speed",
    "check_relative_speed",
    "check_step_ratios",
    "default_bounds_path",
    "fixed_batches",
    "harness_vs_bare",
    "load_bounds",
    "measure_relative",
    "relative_step_times",
    "run_check",
    "setup_config",
]
