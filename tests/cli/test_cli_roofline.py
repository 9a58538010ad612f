"""``bench roofline`` (``python -m bench.roofline``): the ceilings and each model's limit, as text or JSON."""

from __future__ import annotations

import json

import pytest

from bench.cli import main as bench_main
from bench.cli import roofline as entry
from bench.roofline import cache
from bench.roofline.ceilings import Ceilings

FAKE = Ceilings("cpu", 200e9, 25e9, {"threads": 2, "matmul": "float32 ...", "stream": "copy ..."},
                {"peak_flops_per_second": [190e9, 210e9], "memory_bytes_per_second": [24e9, 26e9]},
                9, "2026-01-01T00:00:00Z", 5.0)


def main(argv: list[str]) -> int:
    """What ``python -m bench.roofline ARGS`` runs."""
    return bench_main(["roofline", *argv], prog="python -m bench.roofline")


@pytest.fixture
def fake_ceilings(monkeypatch):
    calls = []

    def fake(threads=None, **options):
        calls.append((threads, options))
        return FAKE

    monkeypatch.setattr(cache, "cpu_ceilings", fake)
    return calls


def test_prints_ceilings_and_every_model(fake_ceilings, capsys):
    assert main(["--threads", "2", "--remeasure"]) == 0
    out = capsys.readouterr().out
    assert fake_ceilings[0][0] == 2 and fake_ceilings[0][1]["remeasure"] is True
    assert "cpu: 200 GFLOP/s, 25.0 GB/s" in out and "ridge point: 8.0 FLOP/byte" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("numpy", "tf-"))}
    assert lines["numpy"][1:] == ["100", "12.36", "1.598", "7.7", "memory", "15641"]  # 25e9 / 1,598,360 B
    assert lines["tf-mlp-graph"][1:] == ["400", "595.15", "9.358", "63.6", "compute", "336"]  # 200e9 / 595 MFLOP


def test_json(fake_ceilings, capsys):
    assert main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["peak_flops_per_second"] == 200e9


@pytest.mark.parametrize("argv", [["--threads", "0"], ["--rounds", "0"], ["--threads", "x"]])
def test_bad_flags(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse: not a number
        code = exit_.code
    assert code == 2


def test_thorough_measures_again_and_the_reported_time_is_the_wall_time(monkeypatch, capsys):
    clock = iter([100.0, 137.0])  # the command's clock around the measurement: 37 s
    monkeypatch.setattr(entry, "clock", lambda: next(clock))

    def fake(threads=None, **options):
        options["progress"]("measuring this CPU's ceilings thoroughly (...)")
        fake.options = options
        return FAKE  # whose own measure_seconds says 5.0

    monkeypatch.setattr(cache, "cpu_ceilings", fake)
    assert main(["--thorough"]) == 0
    captured = capsys.readouterr()
    assert fake.options["thorough"] is True and fake.options["remeasure"] is True
    assert "measuring took 37.0 s" in captured.out
    assert captured.err == "bench.roofline: measuring this CPU's ceilings thoroughly (...)\n"


def test_budget_flag_and_cached_figures(fake_ceilings, monkeypatch, capsys):
    from dataclasses import replace

    monkeypatch.setattr(cache, "cpu_ceilings", lambda threads=None, **options: fake_ceilings.append(options) or replace(
        FAKE, from_cache=True))
    assert main(["--budget", "2.5"]) == 0
    assert fake_ceilings[0]["budget"] == 2.5 and fake_ceilings[0]["thorough"] is False
    assert "from the cache (measuring took 5.0 s)" in capsys.readouterr().out
    assert main(["--budget", "-1"]) == 2
