"""One display module: how user text, times and money reach a terminal.

User text (names, customers, codes, evidence, reasons, comments, conditions) is stored and
exported exactly as given. Only what a terminal shows is changed here:

* :func:`plain` strips control characters: C0 (except newline and tab), DEL, C1 (which
  includes the 8-bit CSI), ESC, and the bidirectional overrides and isolates U+202A-U+202E,
  U+2066-U+2069 (which can make a line read differently than it is stored).
* :func:`markup` does that and escapes Rich markup, for text passed to ``Console.print`` or a
  ``rich.table.Table`` cell, so a printed name ``Bob [/bold] closing`` prints as written.

Times: :func:`day` (``YYYY-MM-DD``) and :func:`moment` (``YYYY-MM-DD HH:MM:SS``, UTC).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

CONTROL_PATTERN = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_CONTROL = re.compile(CONTROL_PATTERN)


_SURROGATE = re.compile("[\ud800-\udfff]")


def plain(value: Any) -> str:
    """``value`` as text without control characters (newlines and tabs are kept).

    Lone surrogates (bytes that were not UTF-8, decoded by Python with ``surrogateescape``)
    become U+FFFD, so printing never fails with ``UnicodeEncodeError``.
    """
    text = "" if value is None else str(value)
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def one_line(value: Any) -> str:
    """Like :func:`plain`, with newlines and tabs turned into spaces (table cells, lists)."""
    return plain(value).replace("\r", " ").replace("\n", " ").replace("\t", " ")


def markup(value: Any) -> str:
    """``value`` safe for Rich: control characters stripped and markup escaped."""
    from rich.markup import escape

    return escape(plain(value))


def day(t: datetime | None) -> str:
    """A date as ``YYYY-MM-DD`` (``-`` when there is none)."""
    return t.strftime("%Y-%m-%d") if t is not None else "-"


def moment(t: datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` (``-`` when there is none)."""
    return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else "-"


def slip(days: float | None) -> str:
    """A schedule slip in days: ``0``, ``+3``, ``-1.5`` (``-`` when unknown)."""
    if days is None:
        return "-"
    return "0" if abs(days) < 0.05 else f"{days:+.1f}".replace(".0", "")
