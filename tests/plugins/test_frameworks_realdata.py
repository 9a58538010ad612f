"""The reference run on the real CIFAR-10: the JAX and PyTorch classifiers against numpy.

Reference preprocessing (0-255 minus the per-pixel mean), learning rate 0.005, batch 100,
1000 steps, seed 0, through the runner. In this saturated regime rounding differences grow
about tenfold every five steps, so parity is judged after 10 steps (measured here:
5.2e-6 to 5.4e-6, as tf-graph's 4.3e-6), and the final accuracies spread like the
recipe's over seeds (measured: 22.7-26.7%).
"""

from __future__ import annotations

import os

import pytest

from bench.plugins import installed_registry
from bench.runner import RunConfig, run

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_reference_run_accuracy_and_parity(available):
    directory = os.environ.get("BENCH_CIFAR10_DIR")
    if not directory:
        pytest.skip("BENCH_CIFAR10_DIR is not set")
    if not available:
        pytest.skip("neither JAX nor PyTorch is installed")
    config = RunConfig(plugins=["numpy", *available], data_dir=directory, offline=True, roofline=False)
    rows = run(config, installed_registry()).rows
    assert [(r.plugin, r.status) for r in rows] == [(name, "ok") for name in config.plugins], [r.error for r in rows]
    for row in rows[1:]:
        assert 0.20 <= row.test_accuracy <= 0.34, (row.plugin, row.test_accuracy)
        assert row.parity_max_abs_diff <= 1e-5, (row.plugin, row.parity_max_abs_diff)
        print(f"{row.plugin}: {100 * row.test_accuracy:.2f}% , max |dparams| @10 {row.parity_max_abs_diff:.2g}")
