"""Text for people: control characters escaped, numbers formatted, the terminal's width."""

from __future__ import annotations

import math
import shutil
import unicodedata
from typing import Any

DEFAULT_FORMAT = "simple"
"""The default tabulate format of every table."""


def safe_text(value: Any) -> str:
    """``value`` as text with control characters escaped (a result file's error field may
    hold ANSI escapes; a terminal must not interpret them)."""
    text = str(value)
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Cf") else ch
        for ch in text
    )


def num(value: float | None, digits: int) -> str:
    """``value`` with ``digits`` decimals; ``-`` when missing or not finite."""
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def sci(value: float | None) -> str:
    """Two significant digits; a NaN is shown, never hidden."""
    if value is None:
        return "-"
    return str(value) if not math.isfinite(value) else f"{value:.2g}"


def scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else factor * value


def mib(value: int | None) -> str:
    """Bytes as whole MiB."""
    return "-" if value is None else f"{value / 2**20:.0f}"


def terminal_width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def text_width(text: str) -> int:
    """The widest line of ``text``."""
    return max((len(line) for line in text.splitlines()), default=0)
