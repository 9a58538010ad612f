"""Errors that the command line turns into one clear line and an exit status."""

from __future__ import annotations


def describe_exception(exc: BaseException) -> str:
    """``"TypeName: first line of the message"``, for a row's or a plugin's error."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class BenchError(Exception):
    """An expected failure: printed as one line, no traceback; exit status ``exit_code``."""

    exit_code = 1


class UsageError(BenchError):
    """Nonsense on the command line (unknown plugin, bad flag value)."""

    exit_code = 2


class DataError(BenchError):
    """The dataset is missing, corrupt, or refused as unsafe."""


class ResultFileError(BenchError):
    """A result file that cannot be read or written."""


class DeviceUnavailable(BenchError):
    """A classifier cannot run on the device it was given (raised from ``setup``)."""


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM (or SIGHUP: ``name``)."""

    def __init__(self, name: str = "SIGTERM") -> None:
        super().__init__(name)
        self.name = name
