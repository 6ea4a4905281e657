"""The one SLA rule (cdmo_workflow.domain.sla): due instant, overdue, due soon, missing quotas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cdmo_workflow.domain.sla import (
    due_at,
    gate_due_at,
    is_overdue,
    missing_quotas,
    sla_status,
)
from cdmo_workflow.spec.models import GateDef

OPENED = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # a Friday


def gate(**sla: str) -> GateDef:
    return GateDef.model_validate(
        {
            "schema": "cdmo-workflow/v1",
            "kind": "gate",
            "id": "g",
            "name": "G",
            "signoffs": [{"role": "qa", "min": 2}, {"role": "pm"}],
            **({"sla": sla} if sla else {}),
        }
    )


def test_overdue_strictly_after_the_due_instant() -> None:
    due = due_at(OPENED, "5d")
    assert due == OPENED + timedelta(days=5)
    assert not is_overdue(due, due)  # deciding at the due instant is on time
    assert is_overdue(due, due + timedelta(microseconds=1))
    assert not is_overdue(None, due + timedelta(days=999))  # no SLA: never overdue


def test_business_days_skip_the_weekend() -> None:
    assert gate_due_at(gate(decide_within="3bd"), OPENED) == OPENED + timedelta(days=5)
    assert gate_due_at(gate(), OPENED) is None
    assert gate_due_at(gate(remind_every="1d"), OPENED) is None


def test_status_on_time_due_soon_overdue() -> None:
    due = OPENED + timedelta(days=4)
    assert sla_status(OPENED, None, OPENED) == ("no SLA", None)
    assert sla_status(OPENED, "4d", OPENED + timedelta(days=2)) == ("on time", due)
    assert sla_status(OPENED, "4d", OPENED + timedelta(days=3)) == ("due soon", due)  # 1/4 left
    assert sla_status(OPENED, "4d", due) == ("due soon", due)
    assert sla_status(OPENED, "4d", due + timedelta(seconds=1)) == ("overdue", due)


def test_missing_quotas_counts_signatures_per_role() -> None:
    g = gate()
    assert missing_quotas(g, []) == [{"role": "qa", "needed": 2}, {"role": "pm", "needed": 1}]
    assert missing_quotas(g, ["qa", None, "other"]) == [
        {"role": "qa", "needed": 1},
        {"role": "pm", "needed": 1},
    ]
    assert missing_quotas(g, ["qa", "pm", "qa"]) == []
