"""Result files: written atomically after every row, read and checked once.

A run's file is rewritten through a temporary file and a rename after every row, so a
reader sees the previous complete file or the new one, never half of one; Ctrl-C and
SIGTERM are held back during the write, so an interrupt never leaves no file. Each row is
serialised once, when it is added, and the file is assembled from those texts: saving
after every row costs work linear in the rows, not a re-encoding of the whole run.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.errors import ResultFileError
from bench.results.model import ResultFormatError, RunDocument

MAX_RESULT_BYTES = 256 * 2**20
"""Larger files are refused by ``bench report``/``plot``/``compare``/``export``: no run of
bench comes near it, and reading one would take gigabytes of memory."""
STALE_SECONDS = 600
"""A temporary result file older than this is left over from a killed run."""
_TMP_PATTERN = re.compile(r"^\..+\.json\.[A-Za-z0-9_]{6,}\.tmp$")


MAX_NAME_CHARS = 60
"""The most characters of the plugins' names a run's file name carries (ASCII, so bytes too)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9+.=-]+")


def safe_name(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """``text`` as a file name part: ASCII letters, digits and ``+.=-`` only (every other
    character, byte, space, ``/``, ``$`` or quote becomes ``_``), at most ``limit`` bytes,
    never starting with a dot or a dash."""
    return _UNSAFE.sub("_", text)[:limit].lstrip(".-")


def new_run_id(plugins: list[str]) -> str:
    """A sortable, unique file stem: UTC time, the plugins (as :func:`safe_name`), and a
    random suffix; at most 86 ASCII characters."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    names = safe_name("+".join(plugins)) or "run"
    return f"{stamp}_{names}_{secrets.token_hex(3)}"


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays become numbers and lists,
    tuples lists, keys strings, other objects their ``str``; NaN and infinities become
    ``None`` (JSON has no such numbers)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep them visible, as escapes
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return str(value)
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


def dumps(value: Any) -> str:
    return json.dumps(to_json_value(value), allow_nan=False, separators=(",", ":"))


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back; they are delivered when the block ends."""
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    except (AttributeError, ValueError, OSError):  # pragma: no cover - no pthread_sigmask here
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (interrupts held)."""
    tmp_name = None
    with interrupts_held():
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


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON ``data`` (a dict, or a :class:`RunDocument`) atomically, indented."""
    if isinstance(data, RunDocument):
        data = data.to_dict()
    write_text_atomic(path, json.dumps(to_json_value(data), indent=2, allow_nan=False) + "\n")


class DocumentWriter:
    """Saves a growing run to one file after every row, serialising each row only once.

    A row is final once saved (the runner fills its parity columns before); rows are only
    ever appended.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows: list[str] = []

    def save(self, document: RunDocument) -> None:
        rows = document.results
        if len(rows) < len(self._rows):  # a different document: start again
            self._rows = []
        self._rows += [dumps(row.to_dict()) for row in rows[len(self._rows) :]]
        header = json.dumps(to_json_value(document.header()), indent=1, allow_nan=False)
        body = ",\n".join(self._rows)
        write_text_atomic(self.path, header[: -len("\n}")] + ',\n "results": [\n' + body + "\n ]\n}\n")


def unique_result_path(results_dir: Path, run_id: str) -> Path:
    """A path in ``results_dir`` that no existing run uses (the run id made a
    :func:`safe_name`, should a document carry an unsafe one)."""
    stem = safe_name(run_id, 120) or "run"
    path = results_dir / f"{stem}.json"
    while os.path.lexists(path):
        path = results_dir / f"{stem}-{secrets.token_hex(2)}.json"
    return path


def check_writable_directory(directory: Path) -> None:
    """Create ``directory`` if needed and prove a file can be written there, before any row runs."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".bench-write-check.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise ResultFileError(f"cannot write results to {directory}: {exc.strerror or exc}") from None


def check_replaceable(path: Path) -> None:
    """Refuse to replace a file that its mode protects (read-only, or another user's)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ResultFileError(f"cannot write results to {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ResultFileError(f"cannot write results to {path}: not a regular file")
    if info.st_uid != os.geteuid() or not info.st_mode & stat.S_IWUSR:
        raise ResultFileError(f"refusing to replace {path}: it is read-only or not yours (chmod u+w to allow)")


def remove_stale_temporaries(directory: Path, *, older_than: float = STALE_SECONDS) -> int:
    """Remove our own temporary result files left by a killed run (by name and age)."""
    removed = 0
    try:
        entries = list(directory.iterdir())
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        if not _TMP_PATTERN.match(entry.name):
            continue
        try:
            if entry.is_file() and now - entry.stat().st_mtime > older_than:
                entry.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def load_run(path: str | Path) -> RunDocument:
    """Read and check a saved run; a ResultFileError names the file on any problem."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ResultFileError(f"{path}: not a regular file")
        if info.st_size > MAX_RESULT_BYTES:
            raise ResultFileError(
                f"{path}: {info.st_size / 2**20:.0f} MiB is too large for a bench result "
                f"(at most {MAX_RESULT_BYTES // 2**20} MiB)"
            )
        text = path.read_text(encoding="utf-8")
    except ResultFileError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError, as are huge integers
        raise ResultFileError(f"{path}: not valid JSON ({_first_line(exc)})") from None
    try:
        if _has_bad_text(data):
            raise ResultFormatError("text that is not valid Unicode")
        return RunDocument.from_dict(data)
    except ResultFormatError as exc:
        raise ResultFileError(f"{path}: not a bench result file ({exc})") from None
    except RecursionError:
        raise ResultFileError(f"{path}: not a bench result file (nested too deeply)") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


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
