"""Planned durations as written in definitions.

Accepted forms: ``10d``, ``2w``, ``36h``, ``10bd`` (business days) or ISO 8601 ``P10D``.

Kept in the standard library so the pure core (forecasts, SLAs) can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_SHORT = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>bd|h|d|w)\s*$")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?)?$",
)

DURATION_PATTERN = r"^(\d+\s*(bd|h|d|w)|P(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?)?)$"
"""Regular expression published in the JSON Schema so editors flag bad durations while typing."""


class DurationError(ValueError):
    """A duration string that cannot be read; carries the offending text."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(
            f"invalid duration {text!r}: use Nh, Nd, Nw, Nbd (business days) "
            "or ISO 8601 such as P10D"
        )


@dataclass(frozen=True)
class Duration:
    """A parsed duration: calendar time, or a number of business days (weekends skipped)."""

    text: str
    delta: timedelta
    business_days: int | None = None

    def add_to(self, start: datetime) -> datetime:
        """The moment this duration after ``start``; business days skip Saturdays and Sundays."""
        if self.business_days is None:
            return start + self.delta
        return add_business_days(start, self.business_days)

    @property
    def days(self) -> float:
        """Calendar length in days (business days count as 7/5 of a day each on average)."""
        if self.business_days is not None:
            return self.business_days * 7 / 5
        return self.delta.total_seconds() / 86400


def add_business_days(start: datetime, n: int) -> datetime:
    """Add ``n`` working days (Monday to Friday) to ``start``, keeping the time of day."""
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


def parse_duration(text: str) -> Duration:
    """Parse a duration or raise :class:`DurationError` naming the text."""
    if not isinstance(text, str) or not text.strip():
        raise DurationError(str(text))
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
