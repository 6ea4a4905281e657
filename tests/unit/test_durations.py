"""cdmo_workflow.spec.durations: Nh, Nd, Nw, Nbd (business days) and ISO 8601 durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cdmo_workflow.spec.durations import (
    DURATION_PATTERN,
    DurationError,
    add_business_days,
    parse_duration,
)
from cdmo_workflow.spec.models import Sla

MON = datetime(2025, 3, 3, 10, 30, tzinfo=UTC)
FRI = MON + timedelta(days=4)
SAT = MON + timedelta(days=5)
SUN = MON + timedelta(days=6)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("36h", timedelta(hours=36)),
        ("10d", timedelta(days=10)),
        ("2w", timedelta(weeks=2)),
        ("10 d", timedelta(days=10)),
        ("P10D", timedelta(days=10)),
        ("P2W", timedelta(weeks=2)),
        ("P1W2D", timedelta(days=9)),
        ("PT36H", timedelta(hours=36)),
        ("PT90M", timedelta(minutes=90)),
        ("P1DT12H", timedelta(days=1, hours=12)),
    ],
)
def test_calendar_durations(text: str, delta: timedelta) -> None:
    d = parse_duration(text)
    assert d.delta == delta and d.business_days is None and d.text == text
    assert d.add_to(MON) == MON + delta
    assert d.days == pytest.approx(delta.total_seconds() / 86400)


def test_business_days_skip_weekends() -> None:
    d = parse_duration("10bd")
    assert d.business_days == 10
    assert d.add_to(MON) == MON + timedelta(days=14)  # two working weeks
    assert d.days == pytest.approx(14.0)
    assert parse_duration("1bd").add_to(FRI) == MON + timedelta(days=7)  # Friday -> Monday
    assert parse_duration("5bd").add_to(MON) == MON + timedelta(days=7)
    assert parse_duration("4bd").add_to(MON) == FRI


def test_business_days_from_a_weekend_count_from_monday() -> None:
    next_mon = MON + timedelta(days=7)
    assert add_business_days(SAT, 1) == next_mon + timedelta(days=1)
    assert add_business_days(SUN, 1) == next_mon + timedelta(days=1)
    assert add_business_days(SAT, 0) == next_mon  # keeps the time of day
    assert add_business_days(SAT, 0).time() == SAT.time()


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    n=st.integers(min_value=1, max_value=400),
)
def test_business_days_land_on_a_weekday_with_n_working_days_between(
    start: datetime, n: int
) -> None:
    end = add_business_days(start, n)
    assert end.weekday() < 5
    assert end.time() == start.time()
    # n working days are counted after the (weekday) start
    first = start
    while first.weekday() >= 5:
        first += timedelta(days=1)
    days = (end.date() - first.date()).days
    working = sum(1 for i in range(1, days + 1) if (first + timedelta(days=i)).weekday() < 5)
    assert working == n
    assert n <= days <= n + 2 * (n // 5 + 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "0d",
        "0bd",
        "P0D",
        "PT0H",
        "P",
        "PT",
        "10",
        "d",
        "10x",
        "10 days",
        "-1d",
        "1.5d",
        "P1Y",
        "P1M",
        "p10d",
        "10D",
    ],
)
def test_invalid_durations_name_the_text(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert info.value.text == text
    assert repr(text) in str(info.value) and "P10D" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_string_is_refused() -> None:
    with pytest.raises(DurationError):
        parse_duration(10)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["36h", "10d", "2w", "10bd", "P10D", "P1W2D", "PT36H"])
def test_pattern_accepts_what_the_parser_accepts(text: str) -> None:
    assert re.match(DURATION_PATTERN, text)


def test_models_validate_durations() -> None:
    assert Sla(decide_within="10bd", remind_every="48h").decide_within == "10bd"
    with pytest.raises(ValidationError, match="decide_within"):
        Sla(decide_within="10x")
    with pytest.raises(ValidationError, match="invalid duration"):
        Sla(decide_within="0d")
