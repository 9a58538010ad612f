"""``tox -e bench``: measure tests/benchmarks, compare with this machine's last saved run, save only a pass.

    python benchmarks/tox_bench.py [PYTEST ARGS...]

1. Runs ``pytest tests/benchmarks --benchmark-enable --benchmark-json=TEMP [PYTEST ARGS]``.
   Nothing is saved by pytest-benchmark itself (no ``--benchmark-autosave``).
2. If pytest failed, the run is not saved and its exit status is returned.
3. If this machine already has a saved run (pytest-benchmark's file layout,
   ``.benchmarks/<machine id>/NNNN_*.json``; ``BENCH_BENCHMARK_STORAGE`` names another
   folder), every benchmark in both runs is compared with the last one and a table is
   printed: benchmark, stat, baseline, new, change, limit, test. One check over its limit
   fails the command (exit 1) and the run is **not** saved, so the next run is compared
   with the same baseline again: a real slowdown keeps failing until it is fixed,
   instead of failing once and becoming the baseline. A gate that compared nothing fails too.
4. Otherwise the run is saved as the next ``NNNN_<commit>_<time>.json``, where
   pytest-benchmark's ``--benchmark-compare`` and ``pytest-benchmark compare`` find it.
   The very first run is saved without comparison and becomes the baseline.

``BENCH_COMPARE_FAIL`` sets the checks, comma-separated. The default, ``verdict:25%``,
gives each benchmark ``bench compare``'s verdict on its rounds (the times pytest-benchmark
keeps in ``stats.data``; :func:`bench.results.statistics.compare_times`): it fails when the
benchmark is ``slower``, that is significantly slower (Mann-Whitney U, p < 0.05) by more
than 25 % with 95 % confidence. Noise, and a change inside the threshold, pass.
pytest-benchmark's own ``--benchmark-compare-fail`` syntax works too: ``STAT:N%`` (more than
N % slower fails) or ``STAT:SECONDS`` (more than that many seconds slower), STAT one of min,
max, mean, median, stddev, iqr; such a check has no statistics behind it (``min:25%`` was
the default before the verdict).

Comparing against another day's numbers still only means much on a quiet, dedicated
machine: the rounds of one run share that run's moment on the machine, so a drift between
the two runs can look significant, which is why the change must also be past a large
threshold. On a shared CI runner the within-run check (``bench check``) is the gate.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from bench.results.statistics import RateComparison, compare_times

ROOT = Path(__file__).resolve().parents[1]
SUITE = "tests/benchmarks"
DEFAULT_FAIL = "verdict:25%"
STATS = ("min", "max", "mean", "median", "stddev", "iqr")
VERDICT = "verdict"
"""Not a stat: bench compare's verdict on the rounds, past a threshold (``verdict:N%`` only)."""
_CHECK = re.compile(r"^(?P<stat>[a-z]+):(?:(?P<percent>[0-9]+(?:\.[0-9]+)?)%|(?P<seconds>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?))$")


class BenchError(Exception):
    """A problem to report in one line (exit status 2)."""


@dataclass(frozen=True)
class Check:
    """``stat`` may grow by at most ``limit`` percent (``percent``) or seconds."""

    stat: str
    limit: float
    percent: bool

    def describe(self) -> str:
        if self.stat == VERDICT:
            return f"not slower by >{self.limit:g}%"
        return f"+{self.limit:g}%" if self.percent else f"+{_seconds(self.limit)}"


@dataclass(frozen=True)
class Row:
    """One check of one benchmark present in both runs."""

    benchmark: str
    check: Check
    baseline: float
    """The stat's value in the baseline (for a verdict: the median round)."""
    new: float
    test: RateComparison | None = None
    """For a verdict check: the comparison of the two runs' rounds."""

    @property
    def change_percent(self) -> float:
        return math.inf if self.baseline <= 0 else 100.0 * (self.new / self.baseline - 1.0)

    @property
    def ok(self) -> bool:
        if self.test is not None:
            return self.test.verdict != "slower"
        grown = self.change_percent if self.check.percent else self.new - self.baseline
        return grown <= self.check.limit

    def describe_test(self) -> str:
        if self.test is None:
            return ""
        low, high = self.test.ci95
        return f"{self.test.verdict}: speed x{self.test.ratio:.3f} (95% CI {low:.3f}-{high:.3f}), p={self.test.p_value:.2g}"


@dataclass
class Comparison:
    rows: list[Row] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_new: list[str] = field(default_factory=list)
    without_rounds: list[str] = field(default_factory=list)
    """Benchmarks a verdict could not be given for: a run kept fewer than two rounds of it."""

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if not row.ok]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.failed


def parse_checks(text: str | None) -> list[Check]:
    """``"min:25%, median:0.001"`` -> checks; an empty or unset value gives the default."""
    checks = []
    for part in (text or DEFAULT_FAIL).split(","):
        part = part.strip()
        if not part:
            continue
        match = _CHECK.match(part)
        if not match or match["stat"] not in (*STATS, VERDICT):
            raise BenchError(
                f"BENCH_COMPARE_FAIL: cannot read {part!r}: expected verdict:N%, STAT:N% or STAT:SECONDS, "
                f"STAT one of {', '.join(STATS)}"
            )
        if match["stat"] == VERDICT:
            threshold = float(match["percent"]) if match["percent"] is not None else math.nan
            if not 0 < threshold < 100:
                raise BenchError(f"BENCH_COMPARE_FAIL: {part!r}: the verdict's threshold is a percentage in (0, 100)")
            checks.append(Check(VERDICT, threshold, True))
        elif match["percent"] is not None:
            checks.append(Check(match["stat"], float(match["percent"]), True))
        else:
            checks.append(Check(match["stat"], float(match["seconds"]), False))
    return checks or parse_checks(DEFAULT_FAIL)


def machine_dir(storage: Path) -> Path:
    """This machine's folder in the storage, named as pytest-benchmark names it."""
    from pytest_benchmark.utils import get_machine_id

    return storage / get_machine_id()


def saved_runs(storage: Path) -> list[Path]:
    """This machine's saved runs, oldest first, as pytest-benchmark's file storage finds them."""
    return sorted(machine_dir(storage).glob("[0-9][0-9][0-9][0-9]_*.json"))


def load_run(path: Path) -> dict[str, Any]:
    """A pytest-benchmark JSON file; :class:`BenchError` when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise BenchError(f"{path}: not a pytest-benchmark run (no benchmarks list)")
    return document


def _stats_by_name(document: Mapping[str, Any], where: str) -> dict[str, Mapping[str, Any]]:
    stats = {}
    for entry in document["benchmarks"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("stats"), Mapping):
            raise BenchError(f"{where}: a benchmark without stats")
        name = entry.get("fullname") or entry.get("name")
        stats[str(name)] = entry["stats"]
    return stats


def compare(baseline: Mapping[str, Any], new: Mapping[str, Any], checks: Sequence[Check]) -> Comparison:
    """Every check on every benchmark (by full name) present in both runs."""
    old_stats, new_stats = _stats_by_name(baseline, "baseline"), _stats_by_name(new, "new run")
    result = Comparison(
        only_in_baseline=sorted(set(old_stats) - set(new_stats)),
        only_in_new=sorted(set(new_stats) - set(old_stats)),
    )
    for name in sorted(set(old_stats) & set(new_stats)):
        for check in checks:
            if check.stat == VERDICT:
                row = _verdict_row(name, check, old_stats[name], new_stats[name])
                if row is None:
                    result.without_rounds.append(name)
                else:
                    result.rows.append(row)
                continue
            old_value, new_value = old_stats[name].get(check.stat), new_stats[name].get(check.stat)
            if _number(old_value) and _number(new_value):
                result.rows.append(Row(name, check, float(old_value), float(new_value)))
    return result


def _verdict_row(name: str, check: Check, old: Mapping[str, Any], new: Mapping[str, Any]) -> Row | None:
    """``bench compare``'s verdict on the two runs' rounds (``stats.data``), or ``None``
    when either run kept fewer than two of them."""
    old_rounds, new_rounds = _rounds(old.get("data")), _rounds(new.get("data"))
    test = compare_times(old_rounds, new_rounds, threshold=check.limit / 100)
    if test is None:
        return None
    return Row(name, check, float(np.median(old_rounds)), float(np.median(new_rounds)), test)


def _rounds(data: Any) -> list[float]:
    return [float(x) for x in data if _number(x)] if isinstance(data, list) else []


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value / 1e-9:.4g} ns"


def render(comparison: Comparison, baseline_name: str) -> str:
    """The comparison as a table, then what could not be compared and the verdict."""
    table = tabulate(
        [
            (
                "ok" if row.ok else "FAIL",
                row.benchmark.removeprefix(SUITE + "/"),
                row.check.stat,
                _seconds(row.baseline),
                _seconds(row.new),
                f"{row.change_percent:+.1f}%",
                row.check.describe(),
                row.describe_test(),
            )
            for row in comparison.rows
        ],
        headers=("", "benchmark", "stat", "baseline", "new", "change", "limit", "test"),
        disable_numparse=True,
    )
    lines = [f"compared with {baseline_name}:", table] if comparison.rows else []
    if comparison.only_in_new:
        lines.append(f"not in the baseline (not compared): {', '.join(comparison.only_in_new)}")
    if comparison.only_in_baseline:
        lines.append(f"not in this run: {', '.join(comparison.only_in_baseline)}")
    if comparison.without_rounds:
        lines.append(f"no verdict (fewer than two rounds kept in a run): {', '.join(comparison.without_rounds)}")
    if not comparison.rows:
        lines.append(f"nothing compared with {baseline_name}: no benchmark and stat in both runs")
    elif comparison.failed:
        slower = len({row.benchmark for row in comparison.failed})
        lines.append(f"FAILED: {len(comparison.failed)} of {len(comparison.rows)} checks over their limit, in {slower} benchmark(s)")
    else:
        lines.append(f"ok: all {len(comparison.rows)} checks within their limits")
    return "\n".join(lines)


def save_run(run_json: Path, storage: Path, now: datetime | None = None) -> Path:
    """Copy the run into the storage as the next ``NNNN_<commit>_<YYYYmmdd_HHMMSS>[_uncommitted-changes].json``
    (the name ``--benchmark-autosave`` gives it)."""
    document = load_run(run_json)
    folder = machine_dir(storage)
    folder.mkdir(parents=True, exist_ok=True)
    previous = saved_runs(storage)
    number = int(previous[-1].name[:4]) + 1 if previous else 1
    commit = document.get("commit_info") or {}
    parts = [str(commit.get("id") or "unversioned"), (now or datetime.now(timezone.utc)).strftime("%Y%m%d_%H%M%S")]
    if commit.get("dirty"):
        parts.append("uncommitted-changes")
    target = folder / f"{number:04d}_{'_'.join(parts)}.json"
    shutil.copyfile(run_json, target)
    return target


def pytest_command(run_json: Path, pytest_args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", SUITE, "--benchmark-enable",
            f"--benchmark-json={run_json}", *pytest_args]


def main(
    argv: Sequence[str],
    *,
    storage: Path | None = None,
    run: Callable[[list[str]], int] | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """The whole of ``tox -e bench``; ``run`` runs a command and returns its exit status (tests fake it)."""
    storage = (storage or Path(os.environ.get("BENCH_BENCHMARK_STORAGE") or ROOT / ".benchmarks")).resolve()
    run = run or (lambda command: subprocess.call(command, cwd=ROOT))
    try:
        checks = parse_checks(os.environ.get("BENCH_COMPARE_FAIL"))
        previous = saved_runs(storage)
        baseline = load_run(previous[-1]) if previous else None
        with tempfile.TemporaryDirectory(prefix="tox-bench-") as scratch:
            run_json = Path(scratch) / "run.json"
            status = run(pytest_command(run_json, argv))
            if status != 0:
                out(f"tox_bench: pytest failed (exit status {status}): this run is not saved")
                return status
            if not run_json.exists():
                raise BenchError("pytest wrote no benchmark results (were the benchmarks disabled?)")
            new = load_run(run_json)
            if not new["benchmarks"]:
                out("tox_bench: no benchmark was measured: this run is not saved")
                return 1
            if baseline is not None:
                comparison = compare(baseline, new, checks)
                out(render(comparison, previous[-1].name))
                if not comparison.ok:
                    out(f"tox_bench: this run is not saved; the next one is compared with {previous[-1].name} again")
                    return 1
            else:
                out(f"tox_bench: no saved run in {machine_dir(storage)}: this run becomes the baseline")
            out(f"tox_bench: saved {save_run(run_json, storage)}")
            return 0
    except BenchError as exc:
        print(f"tox_bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tox_bench: interrupted: this run is not saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
