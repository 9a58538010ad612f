"""Property tests: arbitrary result files and arbitrary command lines never escape as tracebacks."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import runner
from bench.cli import build_parser, main
from bench.cli.run import config_from_args
from bench.errors import ResultFileError, UsageError
from bench.results.model import RunDocument
from bench.results.storage import load_run

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
any_text = st.text(max_size=12)  # lone surrogates included: JSON can carry them
label = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)  # no tabs or newlines
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN and the infinities too: json.dumps writes them as NaN / Infinity
    | any_text
)
json_values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)

ROW = {
    "plugin": "numpy",
    "device": "cpu",
    "status": "ok",
    "error": None,
    "test_accuracy": 0.4,
    "final_loss": 1.5,
    "steps_completed": 10,
    "steps_per_second": 900.0,
    "first_step_seconds": 0.01,
    "setup_seconds": 0.0,
    "train_seconds": 0.2,
    "eval_seconds": 0.01,
    "wall_seconds": 0.3,
    "loss_curve": [[1, 2.3], [10, 1.5]],
    "parity_max_abs_diff": None,
    "final_max_abs_diff": None,
}
DOCUMENT = {
    "schema_version": 1,
    "run_id": "20250101T000000Z_numpy_abcdef",
    "machine": {"cpu": "x"},
    "config": {"steps": 10, "batch_size": 100, "learning_rate": 0.005, "parity_step": 10},
    "dataset": {"name": "synthetic"},
    "batch_schedule_sha256": "0" * 64,
    "results": [ROW, {**ROW, "plugin": "tf-graph", "status": "failed", "error": "setup: boom"}],
    "timeline": [["start-up", 0.3], ["numpy (cpu): setup", 0.01]],
}


# Values of the right kind, mostly: so that many documents are accepted and reach the tables.
plausible = st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6) | label


@st.composite
def plausible_documents(draw: st.DrawFn) -> Any:
    """A valid document with row fields, the parity step and a timeline entry of about the right kind."""
    document = json.loads(json.dumps(DOCUMENT))
    row = document["results"][0]
    for key in draw(st.lists(st.sampled_from(list(ROW)), max_size=4, unique=True)):
        row[key] = draw(plausible)
    document["config"]["parity_step"] = draw(st.none() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False))
    number = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**30), 10**30)
    document["timeline"] += draw(st.lists(st.tuples(label, number).map(list), max_size=2))
    return document


@st.composite
def near_valid_documents(draw: st.DrawFn) -> Any:
    """A valid document with a few fields (top level, config, one row) replaced by anything."""
    document = json.loads(json.dumps(DOCUMENT))
    for key, value in draw(st.dictionaries(st.sampled_from([*DOCUMENT, "extra"]), json_values, max_size=2)).items():
        document[key] = value
    if isinstance(document.get("config"), dict):
        document["config"].update(draw(st.dictionaries(st.sampled_from(["parity_step", "learning_rate"]), json_values, max_size=1)))
    if isinstance(document.get("results"), list) and document["results"] and isinstance(document["results"][0], dict):
        document["results"][0].update(draw(st.dictionaries(st.sampled_from(list(ROW)), json_values, max_size=3)))
    if draw(st.booleans()) and isinstance(document.get("timeline"), list):
        document["timeline"].append(draw(json_values))
    return document


file_bytes = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | near_valid_documents().map(lambda v: json.dumps(v).encode())
    | near_valid_documents().map(lambda v: json.dumps(v).encode()[: len(json.dumps(v)) // 2])
    | plausible_documents().map(lambda v: json.dumps(v).encode())
)


TEXT_HEADERS = {"plugin", "device", "status", "row", "note", "phase"}
"""Columns that hold text; every other column of bench's tables holds numbers or "-"."""


def shown_numbers(out: str) -> list[str]:
    """The cells of the numeric columns of every table in ``out`` (printed with --format tsv).

    A table starts at a header line whose first cell is ``plugin``, ``row`` or ``phase``;
    the parity columns (headed ``@...``) may show ``nan`` on purpose and are left out.
    """
    cells: list[str] = []
    numeric: list[int] = []
    width = 0
    for line in out.splitlines():
        parts = [part.strip() for part in line.split("\t")]
        if parts[0] in ("plugin", "row", "phase") and len(parts) > 1:
            numeric = [i for i, h in enumerate(parts) if h not in TEXT_HEADERS and not h.startswith("@")]
            width = len(parts)
        elif numeric and len(parts) == width:
            cells += [parts[i] for i in numeric]
        else:
            numeric = []
    return cells


def assert_only_finite_numbers(out: str) -> None:
    cells = shown_numbers(out)
    assert not [cell for cell in cells if cell.lower() in ("nan", "inf", "-inf")], out
    for cell in cells:
        figure = cell[1:-1] if cell.startswith("(") and cell.endswith(")") else cell  # a row not credited
        assert cell in ("-", "ref") or math.isfinite(float(figure)), (cell, out)


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@SETTINGS
@given(data=file_bytes)
def test_load_run_returns_a_document_or_raises_result_file_error(scratch: Path, data: bytes) -> None:
    path = scratch / "fuzz.json"
    path.write_bytes(data)
    try:
        document = load_run(path)
    except ResultFileError as exc:
        assert str(exc).startswith(f"{path}: ")
    else:
        assert isinstance(document, RunDocument)


def test_the_near_valid_base_document_loads(scratch: Path) -> None:
    path = scratch / "base.json"
    path.write_text(json.dumps(DOCUMENT))
    assert load_run(path).to_dict()["results"][0]["plugin"] == DOCUMENT["results"][0]["plugin"]


@SETTINGS
@given(data=file_bytes)
def test_report_and_compare_never_traceback(scratch: Path, capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    path, good = scratch / "fuzz.json", scratch / "good.json"
    path.write_bytes(data)
    good.write_text(json.dumps(DOCUMENT))
    try:
        load_run(path)
        loads = True
    except ResultFileError:
        loads = False
    for argv in (["report", str(path)], ["compare", str(good), str(path)], ["compare", str(path), str(good)]):
        code = main([*argv, "--format", "tsv"])
        out, err = capsys.readouterr()
        assert "internal error" not in err and "Traceback" not in err
        if loads:
            assert code == 0, err
        else:
            assert code == 1 and err.startswith(f"bench: error: {path}: ") and err.count("\n") == 1, err
        if loads:
            assert_only_finite_numbers(out)  # no NaN or infinity is ever shown as a number


def _damaged(path: str, value: Any) -> dict[str, Any]:
    """The base document with the field at ``path`` (``a.b``, ``results[].x``) set to ``value``."""
    document = json.loads(json.dumps(DOCUMENT))
    *parents, last = path.replace("results[]", "results.0").split(".")
    target: Any = document
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    target[last] = value
    return document


DAMAGE = [
    ("results[].settings", None, "results[0].settings is not an object"),
    ("results[].steps_completed", None, "results[0].steps_completed is not an integer"),
    ("results[].steps_per_call", None, "results[0].steps_per_call is not an integer"),
    ("results[].test_accuracy", 1e308, "results[0].test_accuracy 1e+308 is out of range"),
    ("results[].eval_every", 10**30, "results[0].eval_every is not an integer"),
    ("machine.gpus", 5, "machine.gpus is not a list"),
    ("machine.gpus", [5], "machine.gpus is not a list of objects"),
    ("machine.cpu_count_logical", "two", "machine.cpu_count_logical is not an integer"),
    ("machine.frameworks", [], "machine.frameworks is not an object"),
    ("roofline.ceilings", 5, "roofline.ceilings is not an object"),
    ("roofline.threads", "2", "roofline.threads is not an integer"),
    ("config.steps", None, None),
    ("config.steps", "10", "config.steps is not a"),
    ("config.batch_size", 10**30, "config.batch_size is not an integer"),
    ("config.parity_step", 1.5, "config.parity_step is not an integer"),
    ("config.plugins", "numpy", "config.plugins is not a list"),
    ("config.sweep", 5, "config.sweep is not an object"),
    ("dataset.name", 5, "dataset.name is not a string"),
    ("command", "bench run", "command is not a list"),
]


@pytest.mark.parametrize(("field", "value", "message"), DAMAGE)
@pytest.mark.parametrize("command", ["report", "compare", "export", "plot"])
def test_each_damaged_field_is_named_never_an_internal_error(
    scratch: Path, capsys: pytest.CaptureFixture[str], field: str, value: Any, message: str | None, command: str
) -> None:
    path, good = scratch / "damaged.json", scratch / "good.json"
    path.write_text(json.dumps(_damaged(field, value)))
    good.write_text(json.dumps(DOCUMENT))
    argv = {"report": ["report", str(path)], "compare": ["compare", str(good), str(path)],
            "export": ["export", str(path), "--output", str(scratch / "export.json")],
            "plot": ["plot", str(path), "--output", str(scratch / "plot.png")]}[command]
    code = main(argv)
    _, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err, err
    if message is None and command == "export":  # a schema-1 document has no step times to export
        assert code == 1 and "nothing to export" in err and err.count("\n") == 1, err
    elif message is None and command == "compare" and "different recipes" in err:
        assert code == 2 and err.count("\n") == 1, err  # a recipe value damaged: not comparable, said in one line
    elif message is None:
        assert code == 0, err
    else:
        assert code == 1 and err.startswith(f"bench: error: {path}: ") and message in err, err


@SETTINGS
@given(document=plausible_documents())
def test_report_of_accepted_documents_shows_only_finite_numbers(
    scratch: Path, capsys: pytest.CaptureFixture[str], document: dict[str, Any]
) -> None:
    path = scratch / "plausible.json"
    path.write_text(json.dumps(document))
    code = main(["report", str(path), "--format", "tsv"])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err
    if code == 1:
        assert err.startswith(f"bench: error: {path}: ") and err.count("\n") == 1, err
        return
    assert code == 0, err
    assert_only_finite_numbers(out)
    assert len(shown_numbers(out)) >= 2 * 2 + 2 * 2  # the tables were found: two rows, timeline
    assert main(["compare", str(path), str(path), "--format", "tsv"]) == 0
    out, err = capsys.readouterr()
    assert_only_finite_numbers(out)


TOKENS = [
    "run", "plugins", "data", "report", "compare", "new-plugin", "plot", "--plugins", "numpy", "nosuch",
    "numpy,tf-graph", ",", "--steps", "--batch-size", "--learning-rate", "--seed", "--threads", "--loss-every",
    "0", "1", "-1", "3", "1e400", "nan", "inf", "-0.5", "abc", "4294967296", "--devices", "cpu", "gpu", "gpu:1",
    "tpu", "cpu,gpu", "--format", "simple", "github", "nosuch", "--sampling", "epoch", "replacement", "--dataset",
    "synthetic", "cifar10", "mnist", "--preprocessing", "standardize", "--param", "a=b", "=", "dtype=float64",
    "--results-dir", "--output", "out.json", "--data-dir", "nowhere", "--offline", "--quiet", "--debug",
    "--version", "--help", "-h", "--", "-", "", " ", "--plugins=numpy", "--steps=2", "file.json", "-o",
]
RUN_FLAGS = [
    "--devices", "--steps", "--batch-size", "--learning-rate", "--seed", "--sampling", "--dataset", "--preprocessing",
    "--data-dir", "--threads", "--param", "--loss-every", "--results-dir", "--output", "--format",
]
VALUES = ["0", "1", "2", "-3", "0.5", "1e-3", "1e400", "nan", "-inf", "x", "cpu", "gpu:0", "gpu,cpu", "epoch",
          "synthetic", "standardize", "k=v", "grid", "tsv", "out.json", ""]
# Mostly random tokens; also a valid start (bench run --plugins numpy) followed by flags with random
# values, so that the run command itself is reached.
argv_lists = st.lists(st.sampled_from(TOKENS) | text, max_size=8) | st.lists(
    st.tuples(st.sampled_from(RUN_FLAGS), st.sampled_from(VALUES) | text), max_size=4
).map(lambda pairs: ["run", "--plugins", "numpy", *[token for pair in pairs for token in pair]])


@pytest.fixture
def nothing_trains(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``bench run`` goes through the CLI but the runner returns an empty run at once."""

    def fake_run(plan, registry, **kwargs):
        assert plan.specs  # planned: checked, plugins looked up
        document = RunDocument("fuzz", "", None, {}, {}, timeline=[("start-up", 0.1)])
        return runner.RunOutcome(document)

    monkeypatch.setattr(runner, "run", fake_run)
    monkeypatch.chdir(tmp_path)  # new-plugin and plot write into the current directory
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")


@SETTINGS
@given(argv=argv_lists)
def test_any_command_line_exits_0_1_or_2(nothing_trains: None, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    if "--debug" in argv:  # with --debug, errors are meant to escape as tracebacks
        argv = [token for token in argv if token != "--debug"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage error, --help, --version
        code = exc.code
    _, err = capsys.readouterr()
    assert code in (0, 1, 2, None), (argv, code, err)
    assert "internal error" not in err, (argv, err)
    if code == 2:
        assert err.count("\n") == 1 or err.startswith("usage: "), (argv, err)


@SETTINGS
@given(argv=argv_lists)
def test_parser_only_raises_system_exit(argv: list[str]) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        assert exc.code in (0, 2)
    else:
        assert callable(args.handler)
        if args.command != "run":
            return
        try:
            config, _ = config_from_args(args)  # the parser only converts; the settings decide, once
            config.check()
        except UsageError:
            return
        for value in (config.steps, config.batch_size, config.threads, config.loss_every):
            assert value is None or value >= 1
        assert math.isfinite(config.learning_rate) and config.learning_rate > 0
