"""Run results as JSON files: written atomically, never overwriting another run."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
import signal
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.errors import ResultFileError
from bench.measure import RowResult

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "machine", "config", "batch_schedule_sha256", "results")
_NOT_SAVED = {"params_at_parity", "params_final"}
PARITY_FIELDS = ("parity_max_abs_diff", "final_max_abs_diff")
"""May hold ``"nan"`` or ``"inf"``: a NaN in the parameters is shown, never hidden as null."""


def row_to_dict(row: RowResult) -> dict[str, Any]:
    """The saved form of a row (parameter snapshots are left out)."""
    data = {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name not in _NOT_SAVED}
    for key in PARITY_FIELDS:
        value = data.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            data[key] = str(value)
    return data


def new_run_id(plugins: list[str]) -> str:
    """A sortable, unique file stem: UTC time, the plugins, and a random suffix."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    names = "+".join(plugins)[:60].replace(os.sep, "_") or "run"
    return f"{stamp}_{names}_{secrets.token_hex(3)}"


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays become numbers and lists,
    tuples lists, keys strings, other objects their ``str``; NaN and infinities become
    ``None`` (JSON has no such numbers, and a result never reports them as one)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep them visible, as escapes
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, without importing numpy
    if callable(tolist):
        try:
            return to_json_value(tolist())
        except Exception:  # noqa: BLE001 - fall back to the text form
            pass
    return str(value)


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` through a temporary file and a rename.

    A reader sees the old file or the new one, never half of one; on any failure
    (unwritable directory, disk full, interruption) the temporary file is removed and a
    ResultFileError names the path.
    """
    try:
        text = json.dumps(to_json_value(document), indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError, RecursionError) as exc:  # pragma: no cover - to_json_value makes it plain
        raise ResultFileError(f"cannot write results to {path}: not JSON data ({exc})") from None
    tmp_name = None
    blocked = _block_interrupts()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)  # mkstemp makes it 0600; a result is for everyone to read
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise ResultFileError(f"cannot write results to {path}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:  # never leave half a file behind
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
        _unblock(blocked)


def _block_interrupts() -> set[int] | None:
    """Hold Ctrl-C and SIGTERM back while a result is written: the old file or the whole
    new one, never none. They are delivered once the rename is done."""
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, ValueError, OSError):  # no pthread_sigmask here
        return None


def _unblock(previous: set[int] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def unique_result_path(results_dir: Path, run_id: str) -> Path:
    """A path in ``results_dir`` that no existing run uses."""
    path = results_dir / f"{run_id}.json"
    while path.exists():
        path = results_dir / f"{run_id}-{secrets.token_hex(2)}.json"
    return path


def load_run(path: str | Path) -> dict[str, Any]:
    """Read and check a saved run; a ResultFileError names the file on any problem.

    What it returns is safe to hand to the tables and the plot: every field they read has
    the type they expect, and every number is finite.
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            raise ResultFileError(f"{path}: not a regular file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError, as are huge integers
        raise ResultFileError(f"{path}: not valid JSON ({_first_line(exc)})") from None
    try:
        problem = _validate(document)
    except RecursionError:
        problem = "nested too deeply"
    if problem:
        raise ResultFileError(f"{path}: not a bench result file ({problem})")
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


_ROW_NUMBERS = (
    "test_accuracy",
    "final_loss",
    "steps_completed",
    "steps_per_second",
    "step_seconds_median",
    "step_seconds_p10",
    "step_seconds_p90",
    "first_step_seconds",
    "load_seconds",
    "setup_seconds",
    "train_seconds",
    "eval_seconds",
    "close_seconds",
    "wall_seconds",
    "diverged_at_step",
    "parity_step",
    "roofline_fraction",
    "peak_host_memory_bytes",
    "peak_device_memory_bytes",
    "worker_start_seconds",
)
_ROW_TEXTS = ("plugin", "status", "device", "error")


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool) that fits a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _has_bad_text(value: Any) -> bool:
    """True if a string anywhere in ``value`` cannot be written as UTF-8 (lone surrogates)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_bad_text(k) or _has_bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_bad_text(item) for item in value)
    return False


def _validate(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "top level is not an object"
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        return f"missing {', '.join(missing)}"
    version = document["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
        return f"schema_version {str(version)[:40]}, this bench reads {SCHEMA_VERSION}"
    if not isinstance(document["config"], dict) or not isinstance(document["machine"], dict):
        return "config or machine is not an object"
    parity_step = document["config"].get("parity_step")
    if parity_step is not None and (isinstance(parity_step, bool) or not isinstance(parity_step, int)):
        return "config.parity_step is not an integer"
    if document.get("dataset") is not None and not isinstance(document["dataset"], dict):
        return "dataset is not an object"
    rows = document["results"]
    if not isinstance(rows, list):
        return "results is not a list"
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("plugin"), str) or not isinstance(row.get("status"), str):
            return f"results[{i}] lacks plugin/status"
        for key in _ROW_TEXTS:
            value = row.get(key)
            if value is not None and not isinstance(value, str):
                return f"results[{i}].{key} is not a string"
        for key in _ROW_NUMBERS:
            value = row.get(key)
            if value is not None and not _is_number(value):
                return f"results[{i}].{key} is not a finite number"
        for key in PARITY_FIELDS:
            value = row.get(key)
            if value is not None and not _is_number(value) and value not in ("nan", "inf"):
                return f"results[{i}].{key} is not a number"
        curve = row.get("loss_curve")
        if curve is not None and not isinstance(curve, list):
            return f"results[{i}].loss_curve is not a list"
    timeline = document.get("timeline")
    if timeline is not None:
        if not isinstance(timeline, list):
            return "timeline is not a list"
        for i, entry in enumerate(timeline):
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and _is_number(entry[1])):
                return f"timeline[{i}] is not a [label, seconds] pair"
    if _has_bad_text(document):
        return "text that is not valid Unicode"
    return None
