"""Site calendars in the core: which days are working days, and durations that skip the rest.

A :class:`WorkCalendar` is built once from the ``CalendarDef`` a project's snapshot pins
(``calendar_of``); without one a project works Monday to Friday in UTC, exactly as before
calendars existed. :func:`add_duration` is the one place a planned duration, an SLA or a
reminder period is added to a moment: calendar-day durations (``10d``, ``2w``, ``36h``) are
plain time, business days (``10bd``) skip weekends, holidays and shutdowns, counted at the
site's midnight (``time_zone``). ``domain/sla.py``, ``domain/plan.py``, the forecast and the
SLA watcher all call it.

Pure: the standard library (``zoneinfo`` reads the time-zone database, the only data it
needs) and the definition models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from ..spec.durations import Duration, add_business_days, parse_duration
from ..spec.models import WEEKDAYS, CalendarDef, ProcessSnapshot
from ..spec.zones import zone as zone_of


@dataclass(frozen=True)
class WorkCalendar:
    """Working days of a site: not a weekend day, not a holiday, not in a shutdown."""

    id: str | None
    zone: str
    weekend: frozenset[int]
    """Weekday numbers that are never worked (Monday = 0)."""
    closed: frozenset[date]
    """Holidays and every day of every shutdown."""

    def __post_init__(self) -> None:
        if len(self.weekend) >= 7:
            raise ValueError(f"calendar {self.id!r} has no working day in its week")

    @property
    def tzinfo(self) -> tzinfo:
        return zone_of(self.zone)

    def is_working(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.closed

    def closed_between(self, first: date, last: date) -> list[date]:
        """Closed days (weekends, holidays, shutdowns) from ``first`` to ``last``, included."""
        out: list[date] = []
        day = first
        while day <= last:
            if not self.is_working(day):
                out.append(day)
            day += timedelta(days=1)
        return out

    def add_business_days(self, start: datetime, n: int) -> datetime:
        return add_business_days(start, n, self)

    def local_day(self, moment: datetime) -> date:
        """The site's calendar day of ``moment``."""
        return moment.astimezone(self.tzinfo).date()


WEEKENDS_ONLY = WorkCalendar(None, "UTC", frozenset({5, 6}), frozenset())
"""No site calendar: Monday to Friday, days at UTC midnight."""


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@lru_cache(maxsize=64)
def work_calendar(definition: CalendarDef | None) -> WorkCalendar:
    """The working days of a calendar definition (weekends only for None)."""
    if definition is None:
        return WEEKENDS_ONLY
    closed = {date.fromisoformat(h.date) for h in definition.holidays}
    for s in definition.shutdowns:
        closed.update(_days(date.fromisoformat(s.from_), date.fromisoformat(s.to)))
    return WorkCalendar(
        id=definition.id,
        zone=definition.time_zone,
        weekend=frozenset(WEEKDAYS.index(d) for d in definition.weekend),
        closed=frozenset(closed),
    )


def calendar_of(snapshot: ProcessSnapshot) -> WorkCalendar:
    """The working days a project runs on: its pinned calendar, else weekends only."""
    return work_calendar(snapshot.calendar)


@lru_cache(maxsize=256)
def duration(text: str) -> Duration:
    """A parsed definition duration (definitions hold few distinct texts)."""
    return parse_duration(text)


def add_duration(text: str, start: datetime, calendar: WorkCalendar | None = None) -> datetime:
    """``start`` plus the duration ``text``; business days skip the calendar's closed days.

    Without a site calendar (None or :data:`WEEKENDS_ONLY`) business days are Monday to
    Friday of ``start``'s own clock, the rule from before calendars (kept byte for byte).
    """
    parsed = duration(text)
    if parsed.business_days is None:
        return start + parsed.delta
    if calendar is None or calendar is WEEKENDS_ONLY:
        return add_business_days(start, parsed.business_days)
    return add_business_days(start, parsed.business_days, calendar)


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
