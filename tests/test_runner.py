"""The runner and measurement: identical batches, honest timing, failures kept in rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import runner
from bench.classifier import ClassifierSpec, SetupConfig
from bench.errors import DeviceUnavailable, UsageError
from bench.plugins import Registry
from bench.runner import RunConfig, parse_device
from bench_numpy.softmax import NumpySoftmax


class Recording(NumpySoftmax):
    """The numpy classifier, remembering every batch it was given."""

    seen: list[list[np.ndarray]] = []

    def setup(self, config: SetupConfig) -> None:
        super().setup(config)
        self.batches: list[np.ndarray] = []
        Recording.seen.append(self.batches)

    def train_step(self, images, labels):
        self.batches.append(images.copy())
        return super().train_step(images, labels)


class Failing(NumpySoftmax):
    def train_step(self, images, labels):
        if len(self.__dict__.setdefault("calls", [])) == 3:
            raise RuntimeError("kaboom at step 4")
        self.calls.append(1)
        return super().train_step(images, labels)


class Diverging(NumpySoftmax):
    def train_step(self, images, labels):
        loss = super().train_step(images, labels)
        self.__dict__["n"] = self.__dict__.get("n", 0) + 1
        return float("nan") if self.n == 5 else loss


class NoGpu(NumpySoftmax):
    def setup(self, config):
        if config.device != "cpu":
            raise DeviceUnavailable("no GPU here")
        super().setup(config)


def registry_with(**factories) -> Registry:
    """Classifiers that declare what their class implements (resident placement, many steps per call)."""
    return Registry({
        name: ClassifierSpec(
            name,
            name,
            factory,
            supports_resident=callable(getattr(factory, "place_dataset", None)),
            supports_steps_per_call=callable(getattr(factory, "train_steps_indices", None)),
        )
        for name, factory in factories.items()
    })


@pytest.fixture
def tiny(monkeypatch, tiny_dataset):
    monkeypatch.setattr("bench.dataset.load_dataset", lambda *a, **k: tiny_dataset())


def run(plugins, registry, **overrides):
    """In this process: the registries here hold classes a worker process could not find."""
    config = RunConfig(plugins=plugins, steps=overrides.pop("steps", 30), batch_size=20, learning_rate=0.05,
                       executor="inprocess", **overrides)
    return runner.run(config, registry)


def test_every_plugin_gets_the_same_batches(tiny):
    Recording.seen = []
    outcome = run(["a", "b"], registry_with(a=Recording, b=Recording))
    first, second = Recording.seen
    assert len(first) == 30
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    assert [r.status for r in outcome.rows] == ["ok", "ok"]
    # Identical implementations on identical batches agree exactly.
    assert outcome.rows[1].parity_max_abs_diff == 0.0
    assert outcome.rows[1].final_max_abs_diff == 0.0


def test_row_reports_accuracy_speed_and_separate_times(tiny):
    row = run(["numpy"], registry_with(numpy=NumpySoftmax)).rows[0]
    assert row.test_accuracy > 0.8
    assert row.steps_completed == 30
    assert row.steps_per_second == pytest.approx(1 / row.stats.median)
    assert row.first_step_seconds > 0 and row.setup_seconds >= 0 and row.eval_seconds > 0
    assert row.train_seconds >= row.first_step_seconds
    assert row.wall_seconds >= row.train_seconds + row.eval_seconds
    assert row.loss_curve[0][0] == 1 and row.loss_curve[-1][0] == 30
    assert [step for step, _ in row.loss_curve] == [1, 10, 20, 30]
    assert row.final_loss == row.loss_curve[-1][1]


def test_same_seed_same_result(tiny):
    registry = registry_with(numpy=NumpySoftmax)
    a, b = run(["numpy"], registry, seed=5), run(["numpy"], registry, seed=5)
    assert a.document.batch_schedule_sha256 == b.document.batch_schedule_sha256
    assert a.rows[0].test_accuracy == b.rows[0].test_accuracy
    assert a.rows[0].loss_curve == b.rows[0].loss_curve
    c = run(["numpy"], registry, seed=6)
    assert c.document.batch_schedule_sha256 != a.document.batch_schedule_sha256


def test_a_failing_plugin_is_a_row_and_the_others_run(tiny):
    outcome = run(["bad", "good"], registry_with(bad=Failing, good=NumpySoftmax))
    bad, good = outcome.rows
    assert bad.status == "failed" and bad.error == "training: RuntimeError: kaboom at step 4"
    assert bad.steps_completed == 3 and bad.test_accuracy is None
    assert good.status == "ok"


def test_nan_loss_stops_the_row_as_diverged(tiny):
    row = run(["nan"], registry_with(nan=Diverging)).rows[0]
    assert row.status == "diverged" and row.diverged_at_step == 5
    assert row.test_accuracy is None and row.final_loss is None
    assert all(math.isfinite(loss) for _, loss in row.loss_curve)


def test_unavailable_device_is_a_row_not_a_failure(tiny):
    outcome = run(["x"], registry_with(x=NoGpu), devices=["cpu", "gpu"])
    assert [(r.device, r.status) for r in outcome.rows] == [("cpu", "ok"), ("gpu:0", "unavailable")]
    assert outcome.rows[1].error == "no GPU here"


def test_interrupt_keeps_measured_rows(tiny):
    class Interrupting(NumpySoftmax):
        def train_step(self, images, labels):
            raise KeyboardInterrupt

    saved = []
    config = RunConfig(plugins=["good", "stop", "never"], steps=10, batch_size=20, executor="inprocess")
    registry = registry_with(good=NumpySoftmax, stop=Interrupting, never=NumpySoftmax)
    outcome = runner.run(config, registry, on_update=lambda doc: saved.append([str(r.status) for r in doc.results]))
    assert outcome.interrupted == "SIGINT"
    assert saved[-1] == ["ok", "interrupted"]
    assert outcome.document.interrupted == "SIGINT"


def test_document_has_the_promised_keys(tiny):
    document = run(["numpy"], registry_with(numpy=NumpySoftmax)).document
    document = document.to_dict()
    for key in ("schema_version", "machine", "config", "batch_schedule_sha256", "results", "timeline"):
        assert key in document
    row = document["results"][0]
    for key in ("plugin", "device", "status", "test_accuracy", "final_loss", "steps_per_second",
                "first_step_seconds", "setup_seconds", "train_seconds", "eval_seconds", "wall_seconds", "loss_curve"):
        assert key in row
    assert "params_final" not in row
    for key in ("cpu", "cpu_count_logical", "memory_gb", "os", "python", "numpy", "bench"):
        assert key in document["machine"]


@pytest.mark.parametrize("text,expected", [("cpu", "cpu"), ("GPU", "gpu:0"), ("gpu:1", "gpu:1")])
def test_device_names(text, expected):
    assert parse_device(text) == expected


@pytest.mark.parametrize("overrides", [{"steps": 0}, {"batch_size": -1}, {"learning_rate": float("nan")},
                                       {"devices": ["tpu"]}, {"plugins": []}])
def test_nonsense_config_is_a_usage_error(overrides):
    config = RunConfig(plugins=["numpy"])
    for key, value in overrides.items():
        setattr(config, key, value)
    with pytest.raises(UsageError):
        config.check()


def test_all_devices_expand_per_plugin():
    gpu_capable = ClassifierSpec("g", "g", NumpySoftmax, devices=lambda: ["cpu", "gpu:0", "gpu:1"])
    cpu_only = ClassifierSpec("c", "c", NumpySoftmax)
    assert runner.devices_for(gpu_capable, ["all"]) == ["cpu", "gpu:0", "gpu:1"]
    assert runner.devices_for(cpu_only, ["all"]) == ["cpu"]
    assert runner.devices_for(cpu_only, ["cpu", "gpu"]) == ["cpu", "gpu:0"]


def test_resident_placement_matches_feed_and_refuses_plugins_without_it(tiny):
    class FeedOnly:  # the protocol without place_dataset / train_step_indices
        def __init__(self):
            self.inner = NumpySoftmax()

        def setup(self, config):
            self.inner.setup(config)

        def train_step(self, images, labels):
            return self.inner.train_step(images, labels)

        def predict(self, images):
            return self.inner.predict(images)

        def parameters(self):
            return self.inner.parameters()

        def close(self):
            self.inner.close()

    registry = registry_with(numpy=NumpySoftmax, feedonly=FeedOnly)
    fed = run(["numpy"], registry).rows[0]
    placed, refused = run(["numpy", "feedonly"], registry, placement="resident").rows
    assert placed.placement == "resident" and placed.placement_seconds is not None
    assert placed.loss_curve == fed.loss_curve and placed.test_accuracy == fed.test_accuracy
    assert refused.status == "unavailable" and "resident" in refused.error


def test_roofline_rates_rows_that_state_their_work(tiny):
    from bench.classifier import StepWork

    registry = registry_with(numpy=NumpySoftmax, silent=NumpySoftmax)
    registry.classifiers["numpy"] = ClassifierSpec("numpy", "numpy", NumpySoftmax,
                                                   work=lambda config: StepWork(2e6, 1e5))
    outcome = run(["numpy", "silent"], registry)
    ceilings = outcome.document.roofline["ceilings"]["cpu"]
    assert ceilings["peak_flops_per_second"] > 0 and ceilings["memory_bytes_per_second"] > 0
    stated, silent = outcome.rows
    attainable = 1 / max(2e6 / ceilings["peak_flops_per_second"], 1e5 / ceilings["memory_bytes_per_second"])
    assert stated.attainable_steps_per_second == pytest.approx(attainable)
    assert stated.roofline_fraction == pytest.approx(stated.steps_per_second / attainable)
    assert silent.roofline_fraction is None and "states no work" in silent.roofline_reason.replace("states no work per step", "states no work")


def test_steps_per_call_trains_the_same_steps_and_times_them_per_step(tiny):
    registry = registry_with(numpy=NumpySoftmax)
    single = run(["numpy"], registry, placement="resident").rows[0]
    many = run(["numpy"], registry, placement="resident", steps_per_call=7).rows[0]
    assert many.steps_per_call == 7 and many.steps_completed == 30
    assert many.loss_curve == single.loss_curve and many.test_accuracy == single.test_accuracy
    assert many.parity_max_abs_diff is not None  # a call ended at the parity step
    assert many.first_step_seconds > 0 and many.steps_per_second > 0


def test_steps_per_call_reports_divergence_at_its_step(tiny):
    row = run(["nan"], registry_with(nan=Diverging), placement="resident", steps_per_call=4).rows[0]
    assert row.status == "diverged" and row.diverged_at_step == 5 and row.steps_completed == 5


def test_steps_per_call_needs_resident_placement_and_support(tiny):
    with pytest.raises(UsageError, match="--placement resident"):
        RunConfig(plugins=["numpy"], steps_per_call=5).check()

    class ResidentOnly(NumpySoftmax):
        train_steps_indices = None  # not a multi-step classifier

    row = run(["r"], registry_with(r=ResidentOnly), placement="resident", steps_per_call=5).rows[0]
    assert row.status == "unavailable" and "--steps-per-call" in row.error


class FailingSecondTime(NumpySoftmax):
    """Fails at its first step in every process after the first (a flaky row)."""

    made = 0

    def setup(self, config):
        super().setup(config)
        FailingSecondTime.made += 1

    def train_step(self, images, labels):
        if FailingSecondTime.made > 1:
            raise RuntimeError("flaky")
        return super().train_step(images, labels)


def test_repeats_take_turns_across_rows_and_keep_each_process_rate(tiny):
    seen: list[list[tuple[str, int]]] = []
    config = RunConfig(plugins=["a", "b"], steps=12, batch_size=20, executor="inprocess", repeat=3)
    outcome = runner.run(config, registry_with(a=NumpySoftmax, b=NumpySoftmax),
                         on_update=lambda doc: seen.append([(r.plugin, r.repeats) for r in doc.results]))
    # saved after every process, rounds interleaved: a1 b1 a2 b2 a3 b3
    assert seen == [[("a", 1)], [("a", 1), ("b", 1)], [("a", 2), ("b", 1)], [("a", 2), ("b", 2)],
                    [("a", 3), ("b", 2)], [("a", 3), ("b", 3)]]
    for row in outcome.rows:
        assert row.repeats == 3 and len(row.process_steps_per_second) == 3
        assert row.steps_per_second == sorted(row.process_steps_per_second)[1]  # the median over processes
        assert row.steps_per_second_ci95_basis == "processes"
        low, high = row.steps_per_second_ci95
        assert low <= min(row.process_steps_per_second) * 1.5 and high >= max(row.process_steps_per_second) / 1.5
        assert len(row.step_seconds) == 12  # the first process's raw times
    assert outcome.rows[1].parity_max_abs_diff == 0.0  # parity of the first round, kept


def test_one_repeat_is_a_plain_run_with_one_process_rate(tiny):
    row = run(["numpy"], registry_with(numpy=NumpySoftmax)).rows[0]
    assert row.repeats == 1 and row.process_steps_per_second == [row.stats.steps_per_second]
    assert row.steps_per_second == row.stats.steps_per_second
    assert row.steps_per_second_ci95_basis == "steps"  # one process: the interval of its steps


def test_a_failed_later_process_fails_the_row_and_is_not_repeated(tiny):
    FailingSecondTime.made = 0
    outcome = run(["flaky", "good"], registry_with(flaky=FailingSecondTime, good=NumpySoftmax), repeat=3)
    flaky, good = outcome.rows
    assert str(flaky.status) == "failed" and flaky.repeats == 2 and "process 2 of the row" in flaky.error
    assert FailingSecondTime.made == 2 and good.ok and good.repeats == 3


@pytest.mark.parametrize("repeat", [0, -1, 101])
def test_repeat_out_of_range_is_a_usage_error(repeat):
    with pytest.raises(UsageError, match="--repeat must be between 1 and 100"):
        RunConfig(plugins=["numpy"], repeat=repeat).check()


def test_an_interrupt_in_a_later_round_keeps_the_processes_measured(tiny):
    class InterruptingLater(NumpySoftmax):
        made = 0

        def setup(self, config):
            super().setup(config)
            InterruptingLater.made += 1

        def train_step(self, images, labels):
            if InterruptingLater.made == 2:
                raise KeyboardInterrupt
            return super().train_step(images, labels)

    config = RunConfig(plugins=["good", "stop"], steps=10, batch_size=20, executor="inprocess", repeat=3)
    outcome = runner.run(config, registry_with(good=NumpySoftmax, stop=InterruptingLater))
    assert outcome.interrupted == "SIGINT"
    good, stop = outcome.rows
    assert (good.repeats, stop.repeats) == (2, 1) and good.ok and stop.ok  # a1 b1 a2, then b2 stopped
