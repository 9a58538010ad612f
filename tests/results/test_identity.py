"""bench/results/identity.py: a row's label, the varying settings and their one order, the
row order, the key that matches rows across runs, and the parity references."""

from __future__ import annotations

from bench.results.identity import (
    label_of,
    match_key,
    match_label,
    ordered_rows,
    reference_positions,
    references,
    row_label,
    shared_params,
    status_label,
    varying_across,
    varying_keys,
    varying_of,
)
from bench.results.model import Row, RunDocument, Status


def _row(plugin: str = "a", params: dict | None = None, **settings) -> Row:
    return Row.of(plugin=plugin, device="cpu", settings=settings, params=params or {}, steps_per_second=1.0)


def test_varying_settings_follow_row_settings_then_params_sorted():
    identities = [
        ("a", {"steps_per_call": 1, "placement": "feed", "seed": 0, "batch_size": 20}, {"z": "1", "m": "x"}),
        ("a", {"steps_per_call": 5, "placement": "resident", "seed": 1, "batch_size": 20}, {"z": "2", "m": "y"}),
    ]
    assert varying_keys(identities) == ["seed", "placement", "steps_per_call", "m", "z"]
    # A settings key of an older file that ROW_SETTINGS does not name comes after them.
    assert varying_keys([("a", {"seed": 0, "old": 1}, {}), ("a", {"seed": 1, "old": 2}, {})]) == ["seed", "old"]


def test_params_vary_only_between_rows_of_one_plugin():
    # Different plugins with different params: nothing varies (a plain run of numpy and torch).
    assert varying_keys([("numpy", {}, {}), ("torch", {}, {"layout": "dc"})]) == []
    assert varying_keys([("jax", {}, {"mode": "xla"}), ("jax", {}, {"mode": "eager"})]) == ["mode"]


def test_labels_name_the_varying_settings_and_the_params_a_row_has():
    assert row_label("numpy", "cpu") == "numpy (cpu)"
    assert row_label("numpy", "cpu", {"batch_size": 50, "seed": 1, "threads": None}, {},
                     ["batch_size", "seed", "threads"]) == "numpy (cpu) batch_size=50 seed=1 threads=default"
    assert row_label("jax", "gpu:0", {}, {"mode": "xla"}, ["mode"]) == "jax (gpu:0) mode=xla"
    assert row_label("numpy", "cpu", {}, {}, ["mode"]) == "numpy (cpu)"  # a param it does not have
    row = Row.of(plugin="tf-xla", device="gpu:0", status=Status.FAILED, settings={"seed": 3})
    assert label_of(row, ["seed"]) == "tf-xla (gpu:0) seed=3"
    assert status_label(row) == "tf-xla (gpu:0) [failed]"
    assert status_label(Row.of(plugin="numpy", device="cpu")) == "numpy (cpu)"


def test_rows_are_grouped_by_plugin_then_the_varying_settings():
    rows = [_row("b", seed=1), _row("a", seed=0), _row("b", seed=0), _row("a", threads=2, seed=1)]
    document = RunDocument("r", "", None, {}, {}, results=rows)
    assert varying_of(rows) == ["seed", "threads"]
    assert ordered_rows(document) == [rows[2], rows[0], rows[1], rows[3]]


def test_the_match_key_holds_every_param_both_runs_record():
    xla, eager = _row("jax", {"mode": "xla"}), _row("jax", {"mode": "eager"})
    assert match_key(xla) != match_key(eager)
    assert match_label(match_key(xla, ["mode"])) == "jax (cpu, mode=xla)"
    assert match_label(match_key(_row(placement="resident"))) == "a (cpu)"  # the row's own placement field
    # A param only one run records is no difference.
    older, newer = [_row("numpy", {"dtype": "float32"})], [_row("numpy", {"layout": "dc"})]
    shared = shared_params(older, newer)
    assert shared == {"numpy": set()}
    assert varying_across(older, newer) == []
    assert match_key(older[0], [], shared) == match_key(newer[0], [], shared)
    # A setting each run holds at its own value varies nothing; one that varies within a run does.
    assert varying_across([_row(seed=0)], [_row(seed=1)]) == []
    assert varying_across([_row(seed=0), _row(seed=1)], [_row(seed=0)]) == ["seed"]


def test_each_schedule_s_reference_is_its_first_usable_row():
    assert reference_positions([("s1", False), ("s1", True), ("s2", True), ("s1", True)]) == {"s1": 1, "s2": 2}
    rows = [Row.of(plugin="a", device="cpu", status=Status.FAILED, schedule_sha256="x"), Row.of(plugin="b", device="cpu", schedule_sha256="x"),
            Row.of(plugin="c", device="cpu", schedule_sha256="y"), Row.of(plugin="d", device="cpu", schedule_sha256="x")]
    assert references(RunDocument("r", "", None, {}, {}, results=rows)) == [rows[1], rows[2]]
