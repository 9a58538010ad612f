"""One process at a time in a data directory: an exclusive ``flock`` on a lock file in it.

The holder removes the lock file before releasing it, so a finished or failed download leaves
nothing behind. A process that was waiting on a file that has since been removed notices (the
file it locked is no longer the one at the path) and tries again, so two processes never both
believe they hold the lock. A killed holder's lock is released by the kernel; the stale file
is simply locked by the next process. Where ``fcntl`` does not exist (Windows) there is no
lock, as before.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.errors import DataError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl on this platform: no lock

LOCK_NAME = ".bench-download.lock"
_POLL = 0.1
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}


@contextlib.contextmanager
def directory_lock(
    directory: Path,
    *,
    wait: float,
    prepare: Callable[[], None] = lambda: None,
    notice: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the lock of ``directory`` (waiting up to ``wait`` seconds for another holder).

    ``prepare`` runs before every attempt (it creates the directory, which a failing holder may
    have just removed); ``notice`` is told once when the lock is busy (default: a line on stderr).
    """
    path = directory / LOCK_NAME
    if fcntl is None:  # pragma: no cover - Windows
        prepare()
        yield path
        return
    say = notice or (lambda line: print(line, file=sys.stderr, flush=True))
    deadline = time.monotonic() + wait
    told = False
    while True:
        prepare()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except FileNotFoundError:  # the directory went away between prepare() and open()
            continue
        except OSError as exc:
            raise DataError(
                f"cannot write in the data directory {directory}: {exc.strerror or exc}; "
                "pass --data-dir to a writable directory or to a copy of CIFAR-10"
            ) from None
        try:
            if _try_lock(fd):
                if is_current(fd, path):
                    break
            else:
                if not told:
                    say(f"bench: waiting for another bench process downloading into {directory}")
                    told = True
                if time.monotonic() > deadline:
                    raise DataError(
                        f"another bench process has held {path} for more than {wait:.0f} s; "
                        "wait for it to finish, or stop it and run again"
                    )
                time.sleep(_POLL)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # not the current lock file, or busy: try again
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # before unlocking: a waiter that then gets it sees it is stale
        os.close(fd)


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively if nobody else holds it (:func:`flock`)."""
    return flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB) if fcntl is not None else True


def flock(fd: int, operation: int) -> bool:
    """``flock(fd, operation)``; ``False`` when another process holds a conflicting lock
    (with ``LOCK_NB``). Where the file system cannot lock at all (some network file systems),
    go on unlocked, as bench did before it had locks."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, operation)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return True
        raise
    return True


def is_current(fd: int, path: Path) -> bool:
    """Whether the locked descriptor is still the file at ``path`` (not one removed or
    renamed away meanwhile)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)
