"""Planned durations as written in definitions.

Accepted forms: ``10d``, ``2w``, ``36h``, ``10bd`` (business days) or ISO 8601 ``P10D``.

Kept in the standard library so the pure core (forecasts, SLAs) can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol

_SHORT = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>bd|h|d|w)\s*$")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?)?$",
)

DURATION_PATTERN = r"^(\d+\s*(bd|h|d|w)|P(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?)?)$"
"""Regular expression published in the JSON Schema so editors flag bad durations while typing."""


MAX_DURATION_DAYS = 3653
"""Ten years: the longest planned duration, SLA or reminder period a definition may give."""


class DurationError(ValueError):
    """A duration string that cannot be read, or one out of range; carries the text."""

    def __init__(self, text: str, *, too_long: bool = False) -> None:
        self.text = text
        self.too_long = too_long
        shown = text if len(text) <= 24 else f"{text[:12]}...{text[-6:]}"
        if too_long:
            message = (
                f"duration {shown!r} is out of range: at most 10 years "
                f"({MAX_DURATION_DAYS} days, {MAX_DURATION_DAYS * 5 // 7}bd)"
            )
        else:
            message = (
                f"invalid duration {shown!r}: use Nh, Nd, Nw, Nbd (business days) "
                "or ISO 8601 such as P10D"
            )
        super().__init__(message)


@dataclass(frozen=True)
class Duration:
    """A parsed duration: calendar time, or a number of business days (weekends skipped)."""

    text: str
    delta: timedelta
    business_days: int | None = None

    def add_to(self, start: datetime, calendar: WorkingDays | None = None) -> datetime:
        """The moment this duration after ``start``; business days skip the calendar's
        closed days (default: Saturdays and Sundays)."""
        if self.business_days is None:
            return start + self.delta
        return add_business_days(start, self.business_days, calendar)

    def subtract_from(self, end: datetime, calendar: WorkingDays | None = None) -> datetime:
        """The moment this duration before ``end``; business days step back over the
        calendar's closed days (default: Saturdays and Sundays)."""
        if self.business_days is None:
            return end - self.delta
        if calendar is None:
            current, remaining = end, self.business_days
            while current.weekday() >= 5:
                current -= timedelta(days=1)
            while remaining > 0:
                current -= timedelta(days=1)
                if current.weekday() < 5:
                    remaining -= 1
            return current
        zone = calendar.tzinfo
        local = end.astimezone(zone) if end.tzinfo is not None else end.replace(tzinfo=zone)
        day, remaining = local.date(), self.business_days
        while not calendar.is_working(day):
            day -= timedelta(days=1)
        while remaining > 0:
            day -= timedelta(days=1)
            if calendar.is_working(day):
                remaining -= 1
        moved = datetime.combine(day, local.time(), tzinfo=zone)
        return moved.replace(tzinfo=None) if end.tzinfo is None else moved.astimezone(end.tzinfo)

    @property
    def days(self) -> float:
        """Calendar length in days (business days count as 7/5 of a day each on average)."""
        if self.business_days is not None:
            return self.business_days * 7 / 5
        return self.delta.total_seconds() / 86400


class WorkingDays(Protocol):
    """Which days are worked, in which zone (``domain.calendar.WorkCalendar`` is one)."""

    @property
    def tzinfo(self) -> tzinfo: ...

    def is_working(self, day: date) -> bool: ...


def add_business_days(start: datetime, n: int, calendar: WorkingDays | None = None) -> datetime:
    """Add ``n`` working days to ``start``, keeping the local time of day.

    The one business-day loop: without a calendar a working day is Monday to Friday of
    ``start``'s own clock; with one, the days are the calendar's, counted at its zone's
    midnight (a start on a closed day counts from the next working day). Daylight-saving
    changes keep the wall-clock time.
    """
    if calendar is None:
        current = start
        # A start on a weekend counts from the next Monday.
        while current.weekday() >= 5:
            current += timedelta(days=1)
        remaining = n
        while remaining > 0:
            current += timedelta(days=1)
            if current.weekday() < 5:
                remaining -= 1
        return current
    zone = calendar.tzinfo
    local = start.astimezone(zone) if start.tzinfo is not None else start.replace(tzinfo=zone)
    day = local.date()
    step = timedelta(days=1)
    while not calendar.is_working(day):
        day += step
    remaining = n
    while remaining > 0:
        day += step
        if calendar.is_working(day):
            remaining -= 1
    moved = datetime.combine(day, local.time(), tzinfo=zone)
    if start.tzinfo is None:
        return moved.replace(tzinfo=None)
    return moved.astimezone(start.tzinfo)


def parse_duration(text: str) -> Duration:
    """Parse a duration or raise :class:`DurationError` naming the text.

    A duration is longer than zero and at most :data:`MAX_DURATION_DAYS` (ten years).
    """
    duration = _parse(text)
    if duration.days > MAX_DURATION_DAYS:
        raise DurationError(text, too_long=True)
    return duration


def _parse(text: str) -> Duration:
    if not isinstance(text, str) or not text.strip():
        raise DurationError(str(text))
    if any(len(n) > 9 for n in re.findall(r"\d+", text)):  # beyond timedelta's range
        raise DurationError(text, too_long=True)
    m = _SHORT.match(text)
    if m:
        n = int(m["n"])
        unit = m["unit"]
        if n <= 0:
            raise DurationError(text)
        if unit == "bd":
            return Duration(text, timedelta(days=n), business_days=n)
        delta = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
        return Duration(text, delta)
    m = _ISO.match(text.strip())
    if m and any(m.group(g) for g in ("w", "d", "h", "m")):
        delta = timedelta(
            weeks=int(m["w"] or 0),
            days=int(m["d"] or 0),
            hours=int(m["h"] or 0),
            minutes=int(m["m"] or 0),
        )
        if delta.total_seconds() <= 0:
            raise DurationError(text)
        return Duration(text, delta)
    raise DurationError(text)
