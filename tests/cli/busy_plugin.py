"""A test plugin: ``busy``, numpy's softmax with a fixed busy wait added to every step.

The wait, in seconds, is read from ``BENCH_TEST_BUSY_SECONDS`` when the classifier is set
up (default 0: the same work as ``numpy``). It makes a known slowdown of one row for the
verdicts of ``bench compare`` (tests/cli and benchmarks/ab_verdicts.py install it as a
throwaway distribution).
"""

import os
import time

from bench.classifier import ClassifierSpec
from bench.hookspecs import hookimpl
from bench_numpy.softmax import NumpySoftmax


class Busy(NumpySoftmax):
    wait = 0.0

    def setup(self, config):
        super().setup(config)
        self.wait = float(os.environ.get("BENCH_TEST_BUSY_SECONDS", "0") or 0)

    def train_step(self, images, labels):
        loss = super().train_step(images, labels)
        until = time.perf_counter() + self.wait
        while time.perf_counter() < until:
            pass
        return loss


@hookimpl
def bench_register_classifiers(register):
    register(ClassifierSpec("busy", "numpy softmax plus a busy wait of $BENCH_TEST_BUSY_SECONDS a step", Busy))
