"""Result files and output, second round of bad input: checked before any row, escaped, bounded."""

from __future__ import annotations

import json
import os
import time

import pytest

GENERATOR_EXIT_PLUGIN = '''
from bench import ClassifierSpec, hookimpl
from bench_numpy.softmax import NumpySoftmax


class Quitter(NumpySoftmax):
    def train_step(self, images, labels):
        raise GeneratorExit("the plugin closed a generator it should not have")


@hookimpl
def bench_register_classifiers(register):
    register(ClassifierSpec("quitter", "raises GeneratorExit from train_step", Quitter))
'''

VALID = {
    "schema_version": 2, "run_id": "r", "created": "", "machine": {}, "config": {"parity_step": 10},
    "batch_schedule_sha256": None, "timeline": [],
    "results": [{"plugin": "numpy", "device": "cpu", "status": "failed",
                 "error": "boom \x1b[31mred\x1b[0m \x07bell"}],
}


def test_an_empty_results_dir_is_a_usage_error(bench, clean_error) -> None:
    proc = bench("run", "--plugins", "numpy", "--dataset", "synthetic", "--results-dir", "")
    clean_error(proc, 2, "--results-dir must name a directory")
    assert not list(bench.cwd.iterdir())


def test_output_and_benchmark_json_cannot_be_the_same_file(bench, clean_error) -> None:
    proc = bench.run("--plugins", "numpy", "--steps", "3", "--output", "x.json", "--benchmark-json", "./x.json")
    clean_error(proc, 2, "--output and --benchmark-json name the same file")
    assert proc.stdout == ""


def test_a_read_only_output_file_is_not_replaced(bench, clean_error) -> None:
    target = bench.cwd / "keep.json"
    target.write_text("precious")
    target.chmod(0o444)
    proc = bench.run("--plugins", "numpy", "--steps", "3", "--output", str(target))
    clean_error(proc, 1, f"refusing to replace {target}")
    assert target.read_text() == "precious" and proc.stdout == ""


def test_stale_temporary_files_of_a_killed_run_are_removed(bench) -> None:
    bench.results.mkdir()
    stale = bench.results / ".20260101T000000Z_numpy_abcdef.json.k3j2h1g0.tmp"
    stale.write_text("half a file")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    proc = bench.run("--plugins", "numpy", "--steps", "3")
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and len(bench.saved()) == 1


def test_text_from_a_result_file_is_printed_escaped(bench) -> None:
    path = bench.cwd / "run.json"
    path.write_text(json.dumps(VALID))
    proc = bench("report", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "boom \\x1b[31mred\\x1b[0m \\x07bell" in proc.stdout


def test_a_result_file_too_large_is_refused(bench, clean_error) -> None:
    path = bench.cwd / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(300 * 2**20)  # sparse: no disk used
    clean_error(bench("report", str(path)), 1, "too large for a bench result")
    clean_error(bench("plot", str(path)), 1, "too large for a bench result")


def test_generator_exit_from_a_plugin_is_a_failed_row(bench) -> None:
    bench.add_distribution("bench-quitter", {"quitter": "fakeplugin_quitter"}, {"fakeplugin_quitter": GENERATOR_EXIT_PLUGIN})
    for isolation in ("process", "none"):
        proc = bench.run("--plugins", "quitter,numpy", "--steps", "3", "--isolation", isolation)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        rows = bench.saved()[-1]["results"]
        assert [r["status"] for r in rows] == ["failed", "ok"]
        assert rows[0]["error"].startswith("training: GeneratorExit: the plugin closed a generator")
        for path in bench.results.glob("*.json"):
            path.unlink()


def test_plot_into_a_directory_writes_inside_it(bench) -> None:
    pytest.importorskip("matplotlib")
    assert bench.run("--plugins", "numpy", "--steps", "3").returncode == 0
    [path] = bench.results.glob("*.json")
    target = bench.cwd / "pictures"
    target.mkdir()
    proc = bench("plot", str(path), "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    assert (target / path.with_suffix(".png").name).is_file()
    assert not (bench.cwd / "pictures.png").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_on_a_full_device_is_one_clear_error(bench) -> None:
    import subprocess

    with open("/dev/full", "w") as full:
        proc = subprocess.run(bench.args("plugins"), cwd=bench.cwd, env=bench.environment(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "bench: error: cannot write the output: No space left on device"
