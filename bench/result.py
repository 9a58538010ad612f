"""Run results as JSON files: written atomically, never overwriting another run."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.errors import ResultFileError
from bench.measure import RowResult

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "machine", "config", "batch_schedule_sha256", "results")
_NOT_SAVED = {"params_at_parity", "params_final"}


def row_to_dict(row: RowResult) -> dict[str, Any]:
    """The saved form of a row (parameter snapshots are left out)."""
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name not in _NOT_SAVED}


def new_run_id(plugins: list[str]) -> str:
    """A sortable, unique file stem: UTC time, the plugins, and a random suffix."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    names = "+".join(plugins)[:60].replace(os.sep, "_") or "run"
    return f"{stamp}_{names}_{secrets.token_hex(3)}"


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` through a temporary file and a rename.

    A reader sees the old file or the new one, never half of one; on any failure the
    temporary file is removed and a ResultFileError names the path.
    """
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise ResultFileError(f"cannot write results to {path}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def unique_result_path(results_dir: Path, run_id: str) -> Path:
    """A path in ``results_dir`` that no existing run uses."""
    path = results_dir / f"{run_id}.json"
    while path.exists():
        path = results_dir / f"{run_id}-{secrets.token_hex(2)}.json"
    return path


def load_run(path: str | Path) -> dict[str, Any]:
    """Read and check a saved run; a ResultFileError names the file on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None
    problem = _validate(document)
    if problem:
        raise ResultFileError(f"{path}: not a bench result file ({problem})")
    return document


def _validate(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "top level is not an object"
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        return f"missing {', '.join(missing)}"
    if document["schema_version"] != SCHEMA_VERSION:
        return f"schema_version {document['schema_version']!r}, this bench reads {SCHEMA_VERSION}"
    rows = document["results"]
    if not isinstance(rows, list):
        return "results is not a list"
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("plugin"), str) or not isinstance(row.get("status"), str):
            return f"results[{i}] lacks plugin/status"
        for key in ("steps_per_second", "test_accuracy", "wall_seconds", "final_loss"):
            value = row.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                return f"results[{i}].{key} is not a number"
    if not isinstance(document["config"], dict) or not isinstance(document["machine"], dict):
        return "config or machine is not an object"
    return None
