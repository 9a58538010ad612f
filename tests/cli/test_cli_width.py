"""Every command's output fits a terminal of 80 columns (``COLUMNS=80``): long notes wrap,
tables leave out or wrap columns. Only ``--wide`` tables may be wider."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

WIDTH = 80


def _too_wide(text: str) -> list[str]:
    """Lines wider than the terminal. A path is printed whole (to be copied): a line that is
    one long word, or ``saved PATH``, counts only when there were words to wrap."""
    return [line for line in text.splitlines()
            if len(line) > WIDTH and " " in line.strip()
            and not (line.startswith("saved ") and " " not in line[len("saved "):])]


def _sandbox_class() -> type:
    """tests/cli/conftest.py's ``Bench`` (``import conftest`` may find tests/conftest.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_cli_conftest", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.Bench


@pytest.fixture(scope="module")
def narrow(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox at COLUMNS=80, with a two-row run and a small sweep saved under its cwd."""
    Bench = _sandbox_class()
    root = tmp_path_factory.mktemp("narrow")
    (root / "cwd").mkdir()
    bench = Bench(cwd=root / "cwd", site=root / "site", results=root / "results")
    bench.env.update(COLUMNS=str(WIDTH), BENCH_CACHE_DIR=str(root / "cache"))
    outputs: dict[str, str] = {}
    runs = {
        "run": ["run", "--plugins", "numpy,numpy", "--dataset", "synthetic", "--steps", "30",
                "--eval-every", "10", "--target-accuracy", "0.99", "--output", "run.json"],
        "sweep": ["sweep", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "30", "--seed", "0,1",
                  "--no-roofline", "--output", "sweep.json"],
        "wide sweep": ["sweep", "--plugins", "numpy", "--dataset", "synthetic", "--steps", "20", "--seed", "0,1",
                       "--placement", "feed,resident", "--steps-per-call", "1,5", "--no-roofline"],
    }
    for name, args in runs.items():
        proc = bench(*args, "--results-dir", "results", "--quiet", timeout=240)
        assert proc.returncode == 0, proc.stderr
        outputs[name] = proc.stdout + proc.stderr
    return bench, outputs


COMMANDS = {
    "report": ["report", "run.json"],
    "report sweep": ["report", "sweep.json"],
    "compare": ["compare", "run.json", "sweep.json", "--fail-below", "0.9"],
    "plugins": ["plugins"],
    "plugins --params": ["plugins", "--params"],
    "sweep --dry-run": ["sweep", "--plugins", "numpy,tf-graph", "--dataset", "synthetic", "--placement",
                        "feed,resident", "--steps-per-call", "1,50", "--batch-size", "50,100", "--dry-run"],
    "roofline": ["roofline", "--budget", "1"],
    "data": ["data", "--data-dir", "nowhere"],
    "data --cache": ["data", "--cache"],
    "new-plugin": ["new-plugin", "narrow-test", "--dir", "."],
    "export": ["export", "run.json", "-o", "run.pytest-benchmark.json"],
    **{f"{command} --help": [command, "--help"] for command in
       ("run", "sweep", "report", "compare", "plot", "export", "plugins", "new-plugin", "data", "check", "roofline")},
    "--help": ["--help"],
}


@pytest.mark.slow
def test_a_run_and_a_sweep_fit_80_columns(narrow) -> None:
    _, outputs = narrow
    for name, text in outputs.items():
        assert not _too_wide(text), (name, _too_wide(text))
    assert "@10, @end: max |dparams|" in outputs["sweep"]  # the parity note, wrapped
    # four setting columns leave no room for @10: nor for the note that explains it
    assert "@10" not in outputs["wide sweep"] and "max |dparams|" not in outputs["wide sweep"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_fits_80_columns(narrow, name: str) -> None:
    bench, _ = narrow
    proc = bench(*COMMANDS[name], timeout=120)
    assert proc.returncode in (0, 1), proc.stderr  # bench data of a missing directory exits 1
    assert proc.stdout.strip(), proc.stderr
    assert not _too_wide(proc.stdout + proc.stderr), _too_wide(proc.stdout + proc.stderr)


@pytest.mark.slow
def test_wide_tables_may_be_wider(narrow) -> None:
    bench, _ = narrow
    wide = bench("report", "run.json", "--wide")
    assert wide.returncode == 0 and max(len(line) for line in wide.stdout.splitlines()) > WIDTH
    assert not _too_wide("\n".join(line for line in wide.stdout.splitlines() if not line.startswith(("numpy", "plugin", "---"))))


def test_the_parity_note_is_left_out_with_the_parity_column(tmp_path: Path) -> None:
    from bench.report.run import render_run
    from bench.results.model import Row, RunDocument

    rows = [Row.of(plugin="numpy", device="cpu", status="ok", steps_per_second=100.0, test_accuracy=0.3,
                   schedule_sha256=digest, parity_max_abs_diff=0.0, settings={"seed": seed})
            for seed, digest in ((0, "a"), (1, "b"))]
    document = RunDocument("r", "", None, {}, {"parity_step": 10}, results=rows)
    assert "@10, @end: max |dparams|" in render_run(document, width=WIDTH)
    assert "max |dparams|" not in render_run(document, columns=["plugin", "accuracy"])
