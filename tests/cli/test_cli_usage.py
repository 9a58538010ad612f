"""Nonsense on the command line: exit status 2 and one clear line, never a traceback."""

from __future__ import annotations

import pytest

BUILTIN = ["jax-eager", "jax-jit", "numpy", "tf-eager", "tf-function", "tf-graph", "tf-mlp-eager", "tf-mlp-graph",
           "tf-xla", "torch-compile", "torch-eager"]
"""Every built-in classifier, sorted (registered whether or not its framework is installed)."""


def test_unknown_plugin_names_it_and_lists_the_available_ones(bench, clean_error) -> None:
    proc = bench.run("--plugins", "numpy,nosuch", "--steps", "2")
    line = clean_error(proc, 2, "unknown plugin 'nosuch'", "available: " + ", ".join(BUILTIN))
    assert line.startswith("bench: error: ")
    assert proc.stdout == ""  # nothing ran
    assert not bench.results.exists()


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--steps", "0"], "--steps must be at least 1, not 0"),
        (["--steps", "ten"], "argument --steps: 'ten' is not an integer"),
        (["--batch-size", "-5"], "--batch-size must be at least 1, not -5"),
        (["--learning-rate", "nan"], "--learning-rate must be a positive finite number, not nan"),
        (["--learning-rate", "inf"], "--learning-rate must be a positive finite number"),
        (["--learning-rate", "-0.1"], "--learning-rate must be a positive finite number"),
        (["--seed", "-1"], "--seed must be between 0 and 2**32 - 1, not -1"),
        (["--seed", "4294967296"], "--seed must be between 0 and 2**32 - 1"),
        (["--threads", "0"], "--threads must be between 1 and"),
        (["--loss-every", "0"], "--loss-every must be at least 1"),
        (["--repeat", "0"], "--repeat must be between 1 and 100 worker processes per row, not 0"),
        (["--repeat", "-3"], "--repeat must be between 1 and 100 worker processes per row, not -3"),
        (["--repeat", "1000000"], "--repeat must be between 1 and 100 worker processes per row, not 1000000"),
        (["--repeat", "2.5"], "argument --repeat: '2.5' is not an integer"),
        (["--repeat", "many"], "argument --repeat: 'many' is not an integer"),
        (["--param", "novalue"], "argument --param: expected key=value or classifier:key=value, not 'novalue'"),
        (["--devices", "tpu"], "unknown device 'tpu'"),
        (["--devices", "cpu,gpu:x"], "unknown device 'gpu:x'"),
        (["--format", "nosuch"], "argument --format: unknown format 'nosuch'; choose one of: "),
        (["--sampling", "sometimes"], "argument --sampling: invalid choice: 'sometimes'"),
        (["--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        # Only known once the data is loaded (the synthetic set has 5000 training images).
        (["--batch-size", "5001", "--steps", "2"], "batch size 5001 is larger than the training set (5000 images)"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_nonsense_flags_are_one_line_and_exit_2(bench, clean_error, flags: list[str], needle: str) -> None:
    proc = bench.run("--plugins", "numpy", *flags)
    clean_error(proc, 2, needle)
    assert proc.stdout == ""
    assert not bench.results.exists()


def test_unknown_format_for_the_other_commands(bench, clean_error) -> None:
    clean_error(bench("plugins", "--format", "nosuch"), 2, "unknown format 'nosuch'")


def test_missing_command_or_plugins(bench, clean_error) -> None:
    clean_error(bench(), 2, "the following arguments are required: COMMAND")
    # bench run alone lists what there is to run (the sandbox's built-in classifiers)
    line = clean_error(bench("run"), 2, "--plugins is required", "installed: ", "numpy", "tf-graph", "bench plugins")
    assert line.startswith("bench: error: ")
    clean_error(bench("sweep", "--batch-size", "50,100"), 2, "--plugins is required", "numpy")


@pytest.mark.parametrize("command", [["run", "--plugins", "numpy"], ["sweep", "--plugins", "numpy"],
                                     ["report", "x.json"], ["plugins"], ["data"], ["roofline"]])
def test_an_unknown_argument_points_at_the_commands_own_help(bench, clean_error, command: list[str]) -> None:
    line = clean_error(bench(*command, "--frobnicate"), 2, "unrecognized arguments: --frobnicate")
    assert line.startswith(f"bench {command[0]}: error: ") and line.endswith(f"(see bench {command[0]} --help)")


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_debug_shows_the_traceback(bench, where: str) -> None:
    args = ["run", "--plugins", "nosuch", "--dataset", "synthetic"]
    proc = bench("--debug", *args) if where == "before the command" else bench(*args, "--debug")
    assert proc.returncode == 1  # an uncaught exception
    assert "Traceback (most recent call last)" in proc.stderr
    assert "UsageError: unknown plugin 'nosuch'" in proc.stderr


@pytest.mark.parametrize(
    ("error", "code", "expected"),
    [
        (MemoryError(), 1, "bench: error: out of memory (fewer --steps or a smaller --batch-size may help)\n"),
        (RuntimeError("unexpected\nsecond line"), 1,
         "bench: internal error: RuntimeError: unexpected (run with --debug for details)\n"),
        (KeyboardInterrupt(), 130, "bench: interrupted\n"),
    ],
    ids=["memory", "internal", "interrupt"],
)
def test_unexpected_failures_are_one_line(monkeypatch, capsys, error, code: int, expected: str) -> None:
    """In process: whatever escapes the command is one line (and a traceback with --debug)."""
    from bench import runner
    from bench.cli import main

    def explode(*args, **kwargs):
        raise error

    monkeypatch.setattr(runner, "run", explode)
    assert main(["run", "--plugins", "numpy", "--dataset", "synthetic"]) == code
    assert capsys.readouterr().err == expected
    with pytest.raises(type(error)):
        main(["run", "--plugins", "numpy", "--dataset", "synthetic", "--debug"])
