"""Names and the edges of a run: hostile classifier names in file names, one output's
failure, bounds of the settings, an executor that cannot run, a plugin changing directory;
through the real command."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

EMOJI = "\U0001F600" * 60  # 240 bytes in UTF-8
NAMES_PLUGIN = f'''
import os

from bench import ClassifierSpec, hookimpl
from bench_numpy.softmax import NumpySoftmax


class Wanderer(NumpySoftmax):
    """Changes the working directory in setup."""

    def setup(self, config):
        os.chdir(os.environ["WANDER_TO"])
        super().setup(config)


@hookimpl
def bench_register_classifiers(register):
    register(ClassifierSpec("{EMOJI}", "a name of 60 emoji", NumpySoftmax))
    register(ClassifierSpec("$(touch PWNED)`id`", "a name a shell would run", NumpySoftmax))
    register(ClassifierSpec("wanderer", "changes directory", Wanderer))
'''


@pytest.fixture
def names(bench):
    bench.add_distribution("bench-names", {"names": "fakeplugin_names"}, {"fakeplugin_names": NAMES_PLUGIN})
    return bench


@pytest.mark.parametrize("name", [EMOJI, "$(touch PWNED)`id`"])
def test_a_hostile_classifier_name_makes_a_safe_file_name(names, name: str) -> None:
    output = names.cwd / "copy.json"
    proc = names.run("--plugins", name, "--steps", "5", "--output", str(output))
    assert proc.returncode == 0, proc.stderr
    [saved] = list(names.results.glob("*.json"))
    assert saved.name.isascii() and len(saved.name.encode()) < 100
    assert all(c.isalnum() or c in "+.=-_" for c in saved.name), saved.name
    assert json.loads(output.read_text())["results"][0]["plugin"] == name
    assert not (names.cwd / "PWNED").exists()
    assert "steps/s" in proc.stdout  # the table


def test_one_output_failing_stops_neither_the_table_nor_the_others(names) -> None:
    output = names.cwd / "run.json"
    proc = names.popen("run", "--plugins", "numpy,numpy", "--steps", "5", "--dataset", "synthetic", "--quiet",
                       "--results-dir", str(names.results), "--output", str(output))
    # Once the first row is saved, --output's path becomes a directory: its saves fail, the others not.
    deadline = time.monotonic() + 60
    while not output.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    output.unlink()
    output.mkdir()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "steps/s" in stdout and "saved " in stdout
    assert f"cannot write results to {output}" in stderr and "holds only the first 1 row(s)" in stderr
    [document] = names.saved()
    assert len(document["results"]) == 2


@pytest.mark.parametrize(("flag", "value"), [
    ("--eval-every", "9223372036854775807"), ("--steps", "9223372036854775807"),
    ("--loss-every", "10000000000"), ("--steps-per-call", "10000000000"), ("--batch-size", "10000000000"),
    ("--timeout", "1e300"),
])
def test_huge_settings_are_refused_before_any_row(names, clean_error, flag: str, value: str) -> None:
    proc = names.run("--plugins", "numpy", flag, value)
    clean_error(proc, 2, flag, "at most")
    assert names.saved() == []


def test_ray_missing_is_refused_before_the_data_is_read(names, clean_error, tmp_path: Path) -> None:
    names.site.mkdir(exist_ok=True)
    (names.site / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None  # Ray not installed\n")
    proc = names.run("--plugins", "numpy", "--executor", "ray", "--data-dir", str(tmp_path / "no-such-data"))
    clean_error(proc, 1, "--executor ray needs Ray, which is not installed")


def test_a_plugin_changing_directory_moves_no_output(names, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = names("run", "--plugins", "wanderer,numpy", "--steps", "5", "--dataset", "synthetic", "--quiet",
                 "--executor", "inprocess", "--results-dir", "out", "--output", "copy.json",
                 "--benchmark-json", "bench.json", WANDER_TO=str(elsewhere))
    assert proc.returncode == 0, proc.stderr
    assert list(elsewhere.iterdir()) == []
    assert (names.cwd / "copy.json").is_file() and (names.cwd / "bench.json").is_file()
    [saved] = list((names.cwd / "out").glob("*.json"))
    assert f"saved {saved}" in proc.stdout
