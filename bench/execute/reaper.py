"""What a row's worker leaves behind: its process group, its orphans, its directory (Linux).

A worker runs in a session of its own, so killing its process group ends everything it
started, except what moved to a session or group of its own (``setsid``, a daemon's double
fork). Bench makes itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``): such an orphan
is then re-parented to bench instead of to init, and :func:`kill_leftovers` finds it among
bench's children after the row, kills it and reaps it. Every process it had to kill is
described (``pid 123 (sleep)``), so that the row can say so.

Row directories are named ``bench-row-PID-*`` after the bench process that made them, and
hold the worker's process group (:data:`GROUP_FILE`). :func:`sweep_row_directories`, at
the start of a run, removes those whose bench is gone (a bench killed by SIGKILL cannot
remove its own), first killing what is left of the worker's group: this user's processes
of that group started after the directory was made.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator

PR_SET_CHILD_SUBREAPER = 36
ROW_PREFIX = "bench-row-"
_ROW_DIR = re.compile(rf"^{ROW_PREFIX}(\d+)-")
GROUP_FILE = "worker.pgid"
_subreaper = False


def become_subreaper() -> bool:
    """Make this process the subreaper of its descendants (once; Linux only)."""
    global _subreaper
    if _subreaper:
        return True
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        _subreaper = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        _subreaper = False
    return _subreaper


def _stat(pid: int) -> tuple[str, str, int, int] | None:
    """(name, state, parent pid, process group) of ``pid`` from /proc, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    name = text[text.find("(") + 1 : text.rfind(")")]
    rest = text[text.rfind(")") + 2 :].split()
    try:
        return name, rest[0], int(rest[1]), int(rest[2])
    except (IndexError, ValueError):
        return None


def _processes() -> Iterator[tuple[int, str, str, int, int]]:
    """(pid, name, state, parent pid, process group) of every process this one can see."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                yield (int(entry), *found)


def children() -> set[int]:
    """The living (not zombie) children of this process."""
    me = os.getpid()
    return {pid for pid, _, state, ppid, _ in _processes() if ppid == me and state != "Z"}


def describe(pid: int) -> str:
    found = _stat(pid)
    return f"pid {pid} ({found[0]})" if found else f"pid {pid}"


def group_members(pgid: int) -> list[int]:
    """Living processes of the process group ``pgid``."""
    return [pid for pid, _, state, _, group in _processes() if group == pgid and state != "Z"]


def kill_leftovers(pgid: int, before: set[int], *, rounds: int = 20) -> list[str]:
    """Kill the process group ``pgid`` and every child of this process that is not in
    ``before`` (orphans of the row that left the group and came to bench, the subreaper);
    reap those; return a description of each process that had to be killed.

    Runs a few rounds: a killed orphan's own children come to bench in turn.
    """
    killed: list[str] = []
    seen: set[int] = set()
    for _ in range(rounds):
        targets = [pid for pid in group_members(pgid) if pid not in seen]
        orphans = [pid for pid in children() - before if pid not in seen]
        if not targets and not orphans:
            break
        for pid in [*targets, *orphans]:
            killed.append(describe(pid))
            seen.add(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _reap(orphans)
        time.sleep(0.01)
    _reap_zombies(before)
    return killed


def _reap(pids: list[int], timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    for pid in pids:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done or time.monotonic() > end:
                break
            time.sleep(0.005)


def _reap_zombies(before: set[int]) -> None:
    """Reap orphans that came to bench and have died since (zombies not in ``before``)."""
    me = os.getpid()
    for pid, _, state, ppid, _ in list(_processes()):
        if ppid == me and state == "Z" and pid not in before:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def row_directory() -> tempfile.TemporaryDirectory[str]:
    """A temporary directory for one row, named after this process."""
    return tempfile.TemporaryDirectory(prefix=f"{ROW_PREFIX}{os.getpid()}-", ignore_cleanup_errors=True)


def sweep_row_directories(parent: str | None = None) -> list[str]:
    """Remove row directories left in the temporary directory by bench processes that are gone."""
    parent = parent or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        match = _ROW_DIR.match(entry)
        if match is None or _alive(int(match.group(1))):
            continue
        path = os.path.join(parent, entry)
        try:
            info = os.stat(path)
        except OSError:
            continue
        if info.st_uid != os.geteuid():
            continue
        _kill_abandoned_group(path)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_abandoned_group(directory: str) -> None:
    """Kill this user's processes of the group named in ``directory`` (started no earlier than
    a second before that file was written: the worker, and what it started)."""
    try:
        with open(os.path.join(directory, GROUP_FILE)) as handle:
            pgid = int(handle.read().strip())
            made = os.fstat(handle.fileno()).st_mtime
    except (OSError, ValueError):
        return
    for pid in group_members(pgid):
        started = _start_time(pid)
        try:
            mine = os.stat(f"/proc/{pid}").st_uid == os.geteuid()
        except OSError:
            continue
        if mine and started is not None and started >= made - 1:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _start_time(pid: int) -> float | None:
    """When ``pid`` started, as a ``time.time()`` value, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
