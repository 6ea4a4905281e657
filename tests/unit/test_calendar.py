"""Site calendars in the core (cdmo_workflow.domain.calendar): working days, business-day
durations, SLA due dates and reminder periods that skip holidays and shutdowns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from cdmo_workflow.domain.calendar import (
    WEEKENDS_ONLY,
    WorkCalendar,
    add_duration,
    calendar_of,
    work_calendar,
)
from cdmo_workflow.domain.sla import due_at, sla_status
from cdmo_workflow.notify.watcher import periods_elapsed
from cdmo_workflow.spec.durations import parse_duration
from cdmo_workflow.spec.models import CalendarDef

ZURICH = ZoneInfo("Europe/Zurich")


def basel(**extra: object) -> CalendarDef:
    return CalendarDef.model_validate(
        {
            "schema": "cdmo-workflow/v1",
            "kind": "calendar",
            "id": "basel",
            "name": "Basel",
            "time_zone": "Europe/Zurich",
            "holidays": [{"date": "2026-12-08", "name": "Site day"}],
            "shutdowns": [{"from": "2026-12-24", "to": "2027-01-01", "name": "Winter"}],
            **extra,
        }
    )


def test_working_days_of_a_definition() -> None:
    cal = work_calendar(basel())
    assert cal.zone == "Europe/Zurich" and cal.weekend == frozenset({5, 6})
    assert not cal.is_working(date(2026, 12, 8))  # holiday
    assert not cal.is_working(date(2026, 12, 24)) and not cal.is_working(date(2027, 1, 1))
    assert cal.is_working(date(2026, 12, 23)) and cal.is_working(date(2027, 1, 4))
    assert not cal.is_working(date(2026, 12, 12))  # a Saturday
    assert cal.closed_between(date(2026, 12, 7), date(2026, 12, 9)) == [date(2026, 12, 8)]
    assert work_calendar(basel()) is cal  # built once per definition
    assert work_calendar(None) is WEEKENDS_ONLY


def test_a_shutdown_inside_an_sla_window_moves_the_due_date() -> None:
    cal = work_calendar(basel())
    opened = datetime(2026, 12, 21, 9, 0, tzinfo=ZURICH).astimezone(UTC)  # Monday, 08:00 UTC
    plain = due_at(opened, "3bd")
    assert plain == datetime(2026, 12, 24, 8, 0, tzinfo=UTC)  # weekends only: Thursday
    due = due_at(opened, "3bd", cal)
    # Tue 22 (1), Wed 23 (2), 24 Dec - 1 Jan shut, the weekend, Mon 4 Jan (3): 09:00 in Basel
    assert due == datetime(2027, 1, 4, 9, 0, tzinfo=ZURICH)
    assert due is not None and due.astimezone(UTC).hour == 8
    # Calendar-day durations are plain time: a shutdown does not stretch "5d".
    assert due_at(opened, "5d", cal) == opened + timedelta(days=5)
    status, when = sla_status(opened, "3bd", datetime(2026, 12, 28, tzinfo=UTC), cal)
    assert (status, when) == ("on time", due)  # without the calendar it would be overdue
    assert sla_status(opened, "3bd", datetime(2026, 12, 28, tzinfo=UTC))[0] == "overdue"


def test_days_are_the_sites_days() -> None:
    cal = work_calendar(basel())
    # Friday 23:30 UTC is Saturday 00:30 in Basel: counting starts on Monday.
    start = datetime(2026, 11, 13, 23, 30, tzinfo=UTC)
    assert add_duration("1bd", start, cal) == datetime(2026, 11, 17, 0, 30, tzinfo=ZURICH)
    assert add_duration("1bd", start) == datetime(2026, 11, 16, 23, 30, tzinfo=UTC)  # UTC Friday


def test_daylight_saving_keeps_the_wall_clock() -> None:
    cal = work_calendar(basel(holidays=[]))
    start = datetime(2026, 3, 27, 9, 0, tzinfo=ZURICH)  # Friday before the spring change
    end = add_duration("1bd", start, cal)
    assert end == datetime(2026, 3, 30, 9, 0, tzinfo=ZURICH)
    assert end.astimezone(UTC).hour == 7 and start.astimezone(UTC).hour == 8


def test_a_reminder_skips_the_holiday() -> None:
    cal = work_calendar(basel())
    every = parse_duration("2bd")
    opened = datetime(2026, 12, 7, 9, 0, tzinfo=ZURICH)  # Monday; Tuesday 8 Dec is a holiday
    wednesday = datetime(2026, 12, 9, 9, 0, tzinfo=ZURICH)
    thursday = datetime(2026, 12, 10, 9, 0, tzinfo=ZURICH)
    assert periods_elapsed(every, opened, wednesday) == 1  # weekends only: due on Wednesday
    assert periods_elapsed(every, opened, wednesday, cal) == 0
    assert periods_elapsed(every, opened, thursday - timedelta(seconds=1), cal) == 0
    assert periods_elapsed(every, opened, thursday, cal) == 1
    # Across the winter shutdown: the second and third periods wait for January.
    late = datetime(2026, 12, 21, 9, 0, tzinfo=ZURICH)
    assert periods_elapsed(every, late, datetime(2027, 1, 4, 9, tzinfo=ZURICH), cal) == 1
    assert periods_elapsed(every, late, datetime(2027, 1, 6, 9, tzinfo=ZURICH), cal) == 2


def test_calendar_of_a_snapshot_without_one_is_weekends_only(shipped_snapshots: list) -> None:
    for snap in shipped_snapshots:
        assert calendar_of(snap) is WEEKENDS_ONLY


def test_a_week_without_working_days_is_refused() -> None:
    try:
        WorkCalendar("x", "UTC", frozenset(range(7)), frozenset())
    except ValueError as err:
        assert "no working day" in str(err)
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("a calendar without working days was accepted")


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    n=st.integers(min_value=1, max_value=400),
)
def test_a_plain_utc_calendar_is_the_weekend_rule(start: datetime, n: int) -> None:
    """A calendar with no holidays in UTC counts exactly as the rule from before calendars."""
    plain_utc = WorkCalendar("utc", "UTC", frozenset({5, 6}), frozenset())
    assert add_duration(f"{n}bd", start, plain_utc) == add_duration(f"{n}bd", start)


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)
    ),
    n=st.integers(min_value=1, max_value=60),
)
def test_the_due_date_is_a_working_day_never_earlier(start: datetime, n: int) -> None:
    cal = work_calendar(basel())
    due = add_duration(f"{n}bd", start, cal)
    assert cal.is_working(cal.local_day(due))
    assert due > start
    working = 0
    day = cal.local_day(start)
    while day < cal.local_day(due):
        day += timedelta(days=1)
        working += cal.is_working(day)
    assert working == n or (not cal.is_working(cal.local_day(start)) and working == n + 1)
