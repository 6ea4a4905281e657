"""Real delivery, SQLite and PostgreSQL: a budget overrun reaches the manager and the finance
role at an HTTP receiver once per crossing; a holiday inside an SLA window moves the
reminder and the due date; messages show times in the reader's own zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cdmo_workflow import service
from cdmo_workflow.notify.relay import relay_once
from cdmo_workflow.notify.watcher import watch_once
from cdmo_workflow.reports.examples import SimulatedClock, simulated_clock
from cdmo_workflow.service import budget as money_service
from tests.notify.receivers import JsonReceiver

DEFS = Path(__file__).resolve().parents[1] / "fixtures" / "budget"
PASSWORD = "overrun-password-1"
ZURICH = ZoneInfo("Europe/Zurich")
USERS = {
    "pm7": ("Paula Manager", ["pm"]),
    "fin7": ("Fiona Controller", ["fin"]),
    "qa7": ("Dr. Quentin Assurance", ["qa"]),
    "mfg7": ("Mia Production", ["mfg"]),
    "cust7": ("Carl Sponsor", ["customer"]),
}
TEAM = {"pm": ["pm7"], "fin": ["fin7"], "qa": ["qa7"], "mfg": ["mfg7"], "customer": ["cust7"]}


@pytest.fixture
def site(db_url: str, json_receiver: JsonReceiver) -> Iterator[service.Context]:
    ctx = service.open_context(db_url, DEFS)
    for uid, (name, roles) in USERS.items():
        service.provision_user(ctx, uid, name, roles, PASSWORD, [json_receiver.url(f"/{uid}")])
    yield ctx


def _drain(db_url: str, receiver: JsonReceiver) -> list[tuple[str, str, str]]:
    before = len(receiver.messages)
    stats = relay_once(db_url, batch=500, now=datetime(2031, 1, 1, tzinfo=UTC))  # all due
    got = receiver.wait_for(before + stats.sent)[before:]
    assert stats.dead == 0 and len(got) == stats.sent
    return [(m.path.strip("/"), m.body.get("title", ""), m.body.get("message", "")) for m in got]


def test_an_overrun_is_delivered_once_per_crossing(
    site: service.Context, db_url: str, json_receiver: JsonReceiver
) -> None:
    code = f"OV-{db_url[:4].upper()}"
    service.start_project(site, code, "costed", "Helix Bio", TEAM, "pm7", password=PASSWORD)
    money_service.set_quote(site, code, "build", "1000", "pm7", password=PASSWORD)
    _drain(db_url, json_receiver)  # the start's messages
    result = money_service.add_cost(
        site, code, "build", "1100", "committed", "PO-1", "fin7", password=PASSWORD
    )
    assert not [e for e in result.events if e.name == "budget.overrun"]  # at 110 %: not past
    result = money_service.add_cost(
        site, code, "build", "0.01", "actual", "INV-1", "fin7", password=PASSWORD
    )
    assert [e.phase for e in result.events if e.name == "budget.overrun"] == ["build", None]
    got = _drain(db_url, json_receiver)
    assert sorted({who for who, _, _ in got}) == ["fin7", "pm7"]  # manager and finance role
    subjects = sorted({title for _, title, _ in got})
    assert subjects == [
        f"[{code}] Budget overrun: Build at 110 % of its quote",
        f"[{code}] Budget overrun: project total at 110 % of its quote",
    ]
    body = next(text for who, title, text in got if who == "pm7" and "Build" in title)
    assert "CHF 1,100.01 against a quote of CHF 1,000.00 (110 %; threshold 110%)" in body
    assert "Committed: CHF 1,100.00" in body and "Over the quote by: CHF 100.01" in body
    # Still over: more cost is not announced again.
    money_service.add_cost(site, code, "build", "50", "actual", "INV-2", "pm7", password=PASSWORD)
    assert _drain(db_url, json_receiver) == []


def test_a_holiday_moves_the_reminder_and_the_due_date(
    site: service.Context, db_url: str, json_receiver: JsonReceiver
) -> None:
    code = f"CAL-{db_url[:4].upper()}"
    service.set_time_zone(site, "qa7", "Europe/Zurich", password=PASSWORD)
    clock = SimulatedClock()
    with simulated_clock(clock):
        clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=ZURICH).astimezone(UTC))
        service.start_project(site, code, "costed", "Helix Bio", TEAM, "pm7", password=PASSWORD)
        # The gate opens on Monday 7 December 2026 at 09:00 in Basel; Tuesday 8 is a holiday.
        clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=ZURICH).astimezone(UTC))
        for d in ("d1", "d2"):
            service.submit_deliverable(site, code, "build", d, "mfg7", "DMS-1", password=PASSWORD)
    _drain(db_url, json_receiver)
    status = service.project_status(site, code)
    opened = datetime.fromisoformat(status["gates"][0]["opened_at"].replace("Z", "+00:00"))
    assert opened.astimezone(ZURICH).strftime("%a %d %H:%M") == "Mon 07 09:00"

    def watch(day: int, after: float = 1.0) -> tuple[int, int]:
        """Run the watcher ``after`` seconds past the opening time of day on ``day``."""
        local = opened.astimezone(ZURICH).replace(day=day) + timedelta(seconds=after)
        stats = watch_once(db_url, now=local.astimezone(UTC))
        return stats.reminders, stats.escalations

    # remind_every: 1bd. Without the calendar the first reminder would go on Tuesday.
    assert watch(8) == (0, 0)
    assert watch(8, after=8 * 3600) == (0, 0)
    assert watch(9, after=-1) == (0, 0)
    assert watch(9) == (2, 0)  # Wednesday: qa and the customer are missing
    got = _drain(db_url, json_receiver)
    assert sorted(who for who, _, _ in got) == ["cust7", "qa7"]
    to_qa = next(text for who, _, text in got if who == "qa7")
    to_customer = next(text for who, _, text in got if who == "cust7")
    # decide_within: 3bd -> Wednesday, Thursday, Friday 11 December at 09:00 in Basel.
    assert "Decision due by 2026-12-11 09:00 CET (Europe/Zurich)" in to_qa
    assert "open since 2026-12-07 09:00 CET (Europe/Zurich)" in to_qa
    assert "Decision due by 2026-12-11 08:00 UTC" in to_customer  # no zone chosen: UTC
    # Thursday (the weekend-only due day): the second reminder, no escalation.
    assert watch(10) == (2, 0)
    # Friday at the due instant: the third reminder; overdue strictly after it.
    assert watch(11, after=0) == (2, 0)
    assert watch(11) == (0, 1)
    escalated = _drain(db_url, json_receiver)
    assert [who for who, title, _ in escalated if "Escalation" in title] == ["pm7"]
    assert "was due by 2026-12-11 08:00 UTC" in escalated[-1][2]
