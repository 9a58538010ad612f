"""bench/report/text.py: safe text and number formatting."""

from __future__ import annotations

import math

from bench.report.text import mib, num, safe_text, scaled, sci, text_width


def test_control_characters_are_escaped():
    assert safe_text("red \x1b[31mtext\x1b[0m") == "red \\x1b[31mtext\\x1b[0m"
    assert safe_text("zero\u200bwidth") == "zero\\u200bwidth"
    assert safe_text("plain (cpu) é") == "plain (cpu) é"


def test_numbers():
    assert num(1.23456, 2) == "1.23" and num(None, 2) == "-" and num(math.inf, 0) == "-"
    assert sci(0.000123) == "0.00012" and sci(None) == "-" and sci(math.nan) == "nan"  # NaN shown, never hidden
    assert scaled(0.25, 100) == 25.0 and scaled(None, 100) is None
    assert mib(3 * 2**20) == "3" and mib(None) == "-"
    assert text_width("ab\nabcd\n") == 4 and text_width("") == 0
