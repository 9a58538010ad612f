"""Sweeps in bench's own process: combinations, the plan, one schedule per (seed, batch
size), parity within a schedule, per-row settings, the export of a sweep (the grouped table
and the timeline: tests/report/)."""

from __future__ import annotations

import pytest
from bench import linear_softmax_work
from bench_numpy.softmax import NumpySoftmax

from bench import runner
from bench.classifier import ClassifierSpec
from bench.errors import UsageError
from bench.plan import plan_rows, schedule_keys, varying
from bench.plugins import Registry
from bench.settings import RunConfig, row_settings, sweep_combinations

NUMPY = ClassifierSpec("numpy", "numpy", NumpySoftmax, supports_resident=True, supports_steps_per_call=True,
                       work=linear_softmax_work)
OTHER = ClassifierSpec("other", "numpy again", NumpySoftmax)


@pytest.fixture
def tiny(monkeypatch, tiny_dataset):
    """A small dataset in place of CIFAR-10 (which, unlike the synthetic set, no seed changes)."""
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())


def base(**overrides) -> RunConfig:
    settings = {"plugins": ["numpy", "other"], "steps": 12, "batch_size": 20, "learning_rate": 0.05,
                "executor": "inprocess", **overrides}
    return RunConfig(**settings)


def test_combinations_are_the_product_and_say_which_cannot_run():
    combos = sweep_combinations(base(), {"placement": ["feed", "resident"], "steps_per_call": [1, 4],
                                         "seed": [3, 4]})
    assert len(combos) == 8
    assert [(c.seed, c.placement, c.steps_per_call) for c, _ in combos[:4]] == [
        (3, "feed", 1), (3, "feed", 4), (3, "resident", 1), (3, "resident", 4)]  # the last axis varies fastest
    reasons = {(c.placement, c.steps_per_call): problem for c, problem in combos}
    assert reasons["feed", 4] == "--steps-per-call needs --placement resident (a call gets indices, not batches)"
    assert reasons["feed", 1] is reasons["resident", 4] is None


@pytest.mark.parametrize("axes,message", [
    ({"seed": [1, 1]}, "--seed lists 1 more than once"),
    ({"seed": []}, "--seed lists no values"),
    ({"learning_rate": [0.1, 0.2]}, "cannot sweep 'learning_rate'"),
    ({"steps_per_call": [2, 3]}, "no combination of the sweep can run"),
    ({"threads": [1, 0]}, "--threads must be between 1"),
    ({"steps_per_call": [1, 0], "placement": ["resident"]}, "--steps-per-call must be at least 1"),
    ({"batch_size": [10, 0], "steps_per_call": [1, 2]}, "--batch-size must be at least 1"),  # even where skipped
])
def test_values_no_run_can_use_are_refused(axes, message):
    with pytest.raises(UsageError, match=message):
        sweep_combinations(base(), axes)


@pytest.mark.parametrize("overrides,message", [
    ({"target_accuracy": 0.5}, "needs --eval-every"),
    ({"target_accuracy": 0.0, "eval_every": 5}, r"fraction of the test set in \(0, 1\]"),
    ({"target_accuracy": 25.0, "eval_every": 5}, r"\(0.25 for 25%\), not 25"),
    ({"target_accuracy": float("nan"), "eval_every": 5}, "fraction"),
    ({"eval_every": 0}, "--eval-every must be at least 1"),
])
def test_time_to_accuracy_settings_are_checked(overrides, message):
    with pytest.raises(UsageError, match=message):
        base(**overrides).check()
    base(target_accuracy=1.0, eval_every=1).check()  # the bounds themselves are fine


def test_the_plan_groups_rows_by_schedule_seeds_outermost():
    combos = sweep_combinations(base(), {"batch_size": [20, 40], "seed": [5, 1], "threads": [1, 2]})
    plan = plan_rows(combos, [NUMPY, OTHER], {"numpy": {}, "other": {}}, lambda spec: ["cpu"])
    assert len(plan) == 16
    assert schedule_keys(plan) == [(5, 20), (5, 40), (1, 20), (1, 40)]
    first = plan[:4]
    assert [(p.spec.name, p.config.threads) for p in first] == [("numpy", 1), ("numpy", 2), ("other", 1),
                                                                 ("other", 2)]
    assert {p.schedule_key for p in first} == {(5, 20)}
    assert varying(plan) == ["batch_size", "seed", "threads"]
    assert first[1].label(varying(plan)) == "numpy (cpu) batch_size=20 seed=5 threads=2"


def test_a_sweep_measures_every_combination_along_its_own_schedule(tiny):
    registry = Registry({"numpy": NUMPY, "other": OTHER})
    saved = []
    outcome = runner.run(base(), registry, axes={"seed": [0, 1], "batch_size": [20, 40],
                                                 "placement": ["feed", "resident"], "steps_per_call": [1, 3]},
                         on_update=lambda doc: saved.append(len(doc.results)))
    rows = outcome.rows
    assert len(rows) == 2 * 2 * 2 * 4 and saved[-1] == len(rows) and saved[0] == 1  # saved after every row
    by = {(r.plugin, r.settings["seed"], r.settings["batch_size"], r.placement, r.steps_per_call): r for r in rows}
    assert by["numpy", 0, 20, "feed", 3].status == "unavailable"
    assert by["other", 1, 40, "resident", 1].status == "unavailable"  # other cannot hold the data
    assert by["other", 1, 40, "resident", 1].error == "other does not support --placement resident"
    # Same seed and batch size: same schedule, identical training (parity 0 against the group's first row).
    for seed in (0, 1):
        for batch in (20, 40):
            group = [r for r in rows if r.ok and (r.settings["seed"], r.settings["batch_size"]) == (seed, batch)]
            assert len({r.schedule_sha256 for r in group}) == 1 and len(group) == 4
            assert all(r.parity_max_abs_diff == 0.0 and r.loss_curve == group[0].loss_curve for r in group)
    assert len({r.schedule_sha256 for r in rows if r.ok}) == 4
    assert outcome.document.batch_schedule_sha256 is None
    # One set of CPU ceilings (the threads do not vary here); each row rated with its own batch's work.
    ceilings = outcome.document.roofline["ceilings"]["cpu"]
    assert ceilings["peak_flops_per_second"] > 0 and "by_threads" not in outcome.document.roofline
    for batch in (20, 40):
        row = by["numpy", 0, batch, "feed", 1]
        assert row.flops_per_step is not None and row.roofline_fraction == pytest.approx(
            row.steps_per_second / row.attainable_steps_per_second)


def test_the_synthetic_set_is_made_once_per_seed(monkeypatch, tiny_dataset):
    """The seed generates the synthetic set, so a row of seed 1 trains on seed 1's data, as
    ``bench run --seed 1`` would; the plan's order (seeds outermost) makes each set once."""
    made = []

    def load(*args, seed=0, **kwargs):
        made.append(seed)
        return tiny_dataset(seed=seed)

    monkeypatch.setattr("bench.dataset.load_dataset", load)
    rows = runner.run(base(dataset="synthetic", roofline=False), Registry({"numpy": NUMPY, "other": OTHER}),
                      axes={"batch_size": [20, 40], "seed": [1, 0]}).rows
    assert made == [1, 0] and len(rows) == 8
    assert [(r.settings["seed"], r.settings["batch_size"]) for r in rows[:4]] == [(1, 20)] * 2 + [(1, 40)] * 2


def test_rows_of_a_sweep_equal_the_rows_of_single_runs(tiny):
    registry = Registry({"numpy": NUMPY})
    swept = runner.run(base(plugins=["numpy"]), registry, axes={"seed": [0, 2], "batch_size": [20, 30]}).rows
    for seed, batch in ((0, 30), (2, 20)):
        [single] = runner.run(base(plugins=["numpy"], seed=seed, batch_size=batch), registry).rows
        [twin] = [r for r in swept if r.settings == single.settings]
        assert single.settings == row_settings(base(plugins=["numpy"], seed=seed, batch_size=batch))
        assert twin.schedule_sha256 == single.schedule_sha256
        assert twin.loss_curve == single.loss_curve and twin.test_accuracy == single.test_accuracy


def test_a_plain_run_records_the_same_settings_on_its_rows(tiny):
    rows = runner.run(base(threads=1), Registry({"numpy": NUMPY, "other": OTHER})).rows
    assert [r.settings for r in rows] == [{"steps": 12, "batch_size": 20, "learning_rate": 0.05, "seed": 0,
                                           "threads": 1, "placement": "feed", "steps_per_call": 1}] * 2
    assert rows[0].schedule_sha256 == rows[1].schedule_sha256
    assert rows[1].parity_max_abs_diff == 0.0


def test_a_sweep_exports_one_pytest_benchmark_per_row_named_by_its_settings(tiny):
    from bench.report.export import to_pytest_benchmark

    document = runner.run(base(plugins=["numpy"], roofline=False), Registry({"numpy": NUMPY}),
                          axes={"seed": [0, 1], "batch_size": [20, 40]}).document
    benchmarks = to_pytest_benchmark(document)["benchmarks"]
    assert sorted((b["group"], b["name"]) for b in benchmarks) == [
        ("bench_train_step_tiny_batch20", "train_step[numpy-cpu-seed0]"),
        ("bench_train_step_tiny_batch20", "train_step[numpy-cpu-seed1]"),
        ("bench_train_step_tiny_batch40", "train_step[numpy-cpu-seed0]"),
        ("bench_train_step_tiny_batch40", "train_step[numpy-cpu-seed1]"),
    ]
    assert {b["extra_info"]["batch_schedule_sha256"] for b in benchmarks} == {r.schedule_sha256 for r in
                                                                             document.results}


def test_a_swept_param_of_one_classifier_does_not_repeat_the_others_rows():
    from bench.classifier import Param

    taker = ClassifierSpec("taker", "numpy with a param", NumpySoftmax, params=(Param("width", int, 1, minimum=1),))
    combos = sweep_combinations(base(plugins=["numpy", "taker"]),
                                {"params": [{"taker:width": "2"}, {"taker:width": "3"}]})
    from bench.settings import resolve_params

    specs = [NUMPY, taker]
    resolved = [resolve_params(specs, config.params) for config, _ in combos]
    planned = plan_rows(combos, specs, resolved[0], lambda spec: ["cpu"], resolved)
    assert [(row.spec.name, dict(row.params)) for row in planned] == [
        ("numpy", {}), ("taker", {"width": "2"}), ("taker", {"width": "3"})]
    assert varying(planned) == ["width"]
    assert planned[2].label(varying(planned)) == "taker (cpu) width=3"


def test_a_sweep_draws_and_hashes_each_schedule_once_and_keeps_no_indices(tiny, monkeypatch):
    """Setting a sweep up is linear in its schedules: each drawn and hashed once, when its
    first row runs, the parent keeping only what rebuilds it (never the steps x batch indices)."""
    from bench.job import SchedulePlan
    from bench.schedule import BatchSchedule

    draws, hashes = [], []
    real_build, real_sha = runner.build_schedule, BatchSchedule.sha256
    monkeypatch.setattr(runner, "build_schedule", lambda *a, **k: draws.append(a) or real_build(*a, **k))
    monkeypatch.setattr(BatchSchedule, "sha256", lambda self: hashes.append(1) or real_sha(self))
    sessions = []
    real_init = runner.RunSession.__init__

    def remember(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        sessions.append(self)

    monkeypatch.setattr(runner.RunSession, "__init__", remember)
    seeds = list(range(12))
    drawn_by_row: list[int] = []
    rows = runner.run(base(roofline=False, steps=3), Registry({"numpy": NUMPY, "other": OTHER}),
                      axes={"seed": seeds}, on_update=lambda document: drawn_by_row.append(len(draws))).rows
    assert len(rows) == 24 and all(row.ok for row in rows)
    assert len(draws) == len(seeds)  # the parent draws each schedule once (workers redraw their own)
    assert drawn_by_row == [n for n in range(1, 13) for _ in "ab"]  # each when its first row runs
    assert len(hashes) == len(seeds) + len(rows)  # once where drawn, and once by each row that rebuilds it
    [session] = sessions
    assert all(isinstance(kept, SchedulePlan) for kept in session._schedules.values())


def test_the_parent_keeps_parity_references_of_one_schedule_at_a_time(tiny, monkeypatch):
    """The bytes of parameter snapshots the parent holds do not grow with rows: a
    schedule's references go once its last row has joined the document."""
    held: list[tuple[int, int]] = []
    real = runner.analyse

    def analyse(row, parameters, references, document):
        analysed = real(row, parameters, references, document)
        held.append((len(references.snapshots), references.nbytes()))
        return analysed

    monkeypatch.setattr(runner, "analyse", analyse)
    rows = runner.run(base(roofline=False, steps=3), Registry({"numpy": NUMPY, "other": OTHER}),
                      axes={"seed": list(range(10)), "batch_size": [20, 40]}).rows
    assert len(rows) == len(held) == 40 and all(row.final_max_abs_diff is not None for row in rows)
    assert rows[1].final_max_abs_diff == 0.0  # same classifier, same schedule: compared, and equal
    one_reference = held[0][1]
    assert one_reference > 0
    assert max(count for count, _ in held) == 1
    assert max(nbytes for _, nbytes in held) == one_reference
