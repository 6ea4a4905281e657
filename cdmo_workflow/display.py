"""One display module: how user text, times and money reach a terminal.

User text (names, customers, codes, evidence, reasons, comments, conditions) is stored and
exported exactly as given. Only what a terminal shows is changed here:

* :func:`plain` strips control characters: C0 (except newline and tab), DEL, C1 (which
  includes the 8-bit CSI), ESC, and the bidirectional overrides and isolates U+202A-U+202E,
  U+2066-U+2069 (which can make a line read differently than it is stored).
* :func:`markup` does that and escapes Rich markup, for text passed to ``Console.print`` or a
  ``rich.table.Table`` cell, so a printed name ``Bob [/bold] closing`` prints as written.

Times (stored in UTC; shown in UTC unless a reader's zone is given): :func:`day`
(``YYYY-MM-DD``), :func:`moment` (``YYYY-MM-DD HH:MM:SS``), :func:`utc`
(``YYYY-MM-DD HH:MM:SS UTC``, the Part 11 manifestation's form) and :func:`local`
(``2026-12-21 09:00 CET (Europe/Zurich)``, a user's own zone). Schedules: :func:`slip`.
Money: :func:`money` (``CHF 12,500.00``, ``Decimal`` only, never a float) and
:func:`percent`. The terminal, the HTML and Markdown reports and the notification templates
all format through these functions; ``empty`` is what a missing value shows (``-`` on a
terminal, ``–`` in reports).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
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


def _time(t: datetime | str | None) -> datetime | None:
    """A stored time (ISO text with ``Z`` or a datetime), tz-aware; naive means UTC."""
    if t is None or t == "":
        return None
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def day(t: datetime | str | None, empty: str = "-", zone: str | None = None) -> str:
    """A date as ``YYYY-MM-DD``: the UTC day, or the day in ``zone`` (``empty`` for none)."""
    value = _time(t)
    if value is None:
        return empty
    return _in_zone(value, zone).strftime("%Y-%m-%d")


def moment(t: datetime | str | None, empty: str = "-") -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` in UTC (``empty`` when there is none)."""
    value = _time(t)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value is not None else empty


def utc(t: datetime | str | None, empty: str = "–") -> str:
    """``2026-11-25 12:00:00 UTC``: the form of signature manifestations and printouts."""
    value = _time(t)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else empty


def _in_zone(value: datetime, zone: str | None) -> datetime:
    if not zone or zone == "UTC":
        return value.astimezone(UTC)
    from .spec.zones import zone as zone_info

    return value.astimezone(zone_info(zone))


def local(t: datetime | str | None, zone: str | None, empty: str = "–") -> str:
    """A time in a reader's zone, with the zone: ``2026-12-21 09:00 CET (Europe/Zurich)``;
    ``2026-12-21 08:00 UTC`` without a zone (storage stays UTC)."""
    value = _time(t)
    if value is None:
        return empty
    if not zone or zone == "UTC":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = _in_zone(value, zone)
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname()} ({zone})"


def slip(days: float | None, empty: str = "-") -> str:
    """A schedule slip in days: ``0``, ``+3``, ``-1.5`` (``empty`` when unknown)."""
    if days is None:
        return empty
    return "0" if abs(days) < 0.05 else f"{days:+.1f}".replace(".0", "")


def late(days: float | None) -> str:
    """How late a task is: ``on time``, ``2.5 d late`` (``no due date`` when there is none)."""
    if days is None:
        return "no due date"
    if days <= 0:
        return "on time"
    return f"{days:.1f}".replace(".0", "") + " d late"


def spoken_day(t: datetime | str | None, empty: str = "-") -> str:
    """``25 Nov 2026``: the form of picture captions and titles (a timeline's subtitle)."""
    value = _time(t)
    return value.strftime("%d %b %Y") if value is not None else empty


def spoken_slip(days: float | None) -> str:
    """``on plan``, ``+57 d``, ``-1.5 d`` (``n/a`` when unknown): a slip in a caption."""
    if days is None:
        return "n/a"
    if abs(days) < 0.05:
        return "on plan"
    return f"{days:+.0f} d" if float(days).is_integer() else f"{days:+.1f} d"


def money(
    amount: Decimal | str | None, currency: str | None, empty: str = "-", *, code: bool = True
) -> str:
    """``CHF 12,500.00``: the amount in its currency's minor unit, thousands grouped
    (``12,500.00`` with ``code=False``, for a column headed by the currency).

    Only ``Decimal`` or its exact text: a float is refused (money is never a float).
    """
    if amount is None or amount == "":
        return empty
    if isinstance(amount, float):
        raise TypeError("money is a Decimal, never a float")
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError):
        return plain(amount)
    from .spec.currencies import minor_units

    places = minor_units(currency or "")
    shown = f"{value:,.{places}f}"
    return f"{currency} {shown}" if currency and code else shown


def percent(value: Decimal | str | float | None, empty: str = "-") -> str:
    """``104 %`` (whole percent) or ``empty``."""
    if value is None or value == "":
        return empty
    return f"{Decimal(str(value)):.0f} %"
