"""Text for people: control characters escaped, numbers formatted, the terminal's width."""

from __future__ import annotations

import math
import shutil
import textwrap
import unicodedata
from collections.abc import Sequence
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


WRAPPING_FORMATS = frozenset({
    "simple", "plain", "grid", "simple_grid", "rounded_grid", "heavy_grid", "mixed_grid", "double_grid",
    "fancy_grid", "outline", "simple_outline", "rounded_outline", "heavy_outline", "mixed_outline",
    "double_outline", "fancy_outline", "psql", "presto", "pretty",
})
"""tabulate formats for people, whose cells may wrap onto several lines to fit the terminal."""


def wrap(text: str, width: int | None = None, indent: str = "    ") -> str:
    """Each line of ``text`` that is wider than ``width`` (the terminal's when ``None`` or 0)
    wrapped at spaces, its continuation lines indented by ``indent`` past its own indent."""
    limit = width if width and width > 0 else terminal_width()
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= limit:
            out.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip(" "))]
        out += textwrap.wrap(line, limit, subsequent_indent=lead + indent, break_on_hyphens=False,
                             break_long_words=False) or [line]  # a path stays whole, to be copied
    return "\n".join(out)


def fitted_table(
    body: Sequence[Sequence[Any]],
    headers: Sequence[str],
    fmt: str = DEFAULT_FORMAT,
    *,
    flexible: Sequence[int] = (),
    width: int | None = None,
    narrowest: int = 12,
) -> str:
    """A tabulate table whose ``flexible`` columns (indices; long text) wrap inside their
    cells until the table fits ``width`` (the terminal's when ``None``; ``0``: no limit)."""
    from tabulate import tabulate

    cells = [[safe_text(cell) for cell in row] for row in body]
    if fmt not in WRAPPING_FORMATS:  # a format for programs or markup: one line per row
        from tabulate import tabulate as plain

        return plain(cells, headers=list(headers), tablefmt=fmt, disable_numparse=True)
    limits: list[int | None] = [None] * len(headers)

    def render() -> str:
        wraps = limits if any(limit is not None for limit in limits) else None
        return tabulate(cells, headers=list(headers), tablefmt=fmt, disable_numparse=True, maxcolwidths=wraps)

    text = render()
    limit = terminal_width() if width is None else width
    if limit <= 0 or not cells:
        return text
    while text_width(text) > limit:
        widths = {i: max(len(line) for row in cells for line in (row[i].splitlines() or [""])) if limits[i] is None
                  else limits[i] for i in flexible}
        shrinkable = {i: w for i, w in widths.items() if w is not None and w > narrowest}
        if not shrinkable:
            break
        column = max(shrinkable, key=lambda i: shrinkable[i])
        limits[column] = max(narrowest, shrinkable[column] - (text_width(text) - limit))
        text = render()
    return text
