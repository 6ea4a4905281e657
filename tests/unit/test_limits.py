"""The field limits table and identifier rules (domain/limits.py) and their use in the domain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdmo_workflow.domain.errors import RuleViolation
from cdmo_workflow.domain.limits import LIMITS, FieldRefused, check_text
from cdmo_workflow.domain.project import Project
from cdmo_workflow.store import tables

from .builders import T0, TEAM, complete_work, diamond, signer, start

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("field", "column"),
    [
        ("project code", tables.projects.c.code),
        ("customer", tables.projects.c.customer),
        ("user id", tables.users.c.user_id),
        ("printed name", tables.users.c.name),
        ("idempotency key", tables.idempotency_keys.c.key),
    ],
)
def test_limits_fit_their_columns(field: str, column: object) -> None:
    size = column.type.length  # type: ignore[attr-defined]
    assert LIMITS[field].max_length <= size
    assert LIMITS[field].column == size


def test_every_limit_is_documented() -> None:
    doc = (ROOT / "docs" / "limits.md").read_text()
    for field, lim in LIMITS.items():
        row = next((ln for ln in doc.splitlines() if ln.startswith(f"| {field} |")), None)
        assert row is not None, field
        assert f"| {lim.max_length} |" in row.replace(",", ""), row
        if lim.pattern:
            assert f"`{lim.pattern}`" in row


@pytest.mark.parametrize("code", ["P-001", "A", "BATCH.2025_07", "9" * 32])
def test_good_project_codes(code: str) -> None:
    assert check_text("project code", code) == code


@pytest.mark.parametrize(
    "code", ["p-001", "-P", "P 1", "P\x1b[31m", "=HYPERLINK(1)", "X" * 33, "[/]", "Ä1", ""]
)
def test_bad_project_codes_name_field_and_pattern(code: str) -> None:
    with pytest.raises(FieldRefused) as info:
        check_text("project code", code)
    exc = info.value
    assert exc.field == "project code"
    assert exc.rule in ("invalid-identifier", "field-too-long")
    assert "project code" in exc.message
    if exc.rule == "invalid-identifier":
        assert exc.pattern == LIMITS["project code"].pattern
        assert exc.pattern in exc.message


def test_too_long_names_the_limit_and_not_the_value() -> None:
    with pytest.raises(FieldRefused) as info:
        check_text("evidence", "E" * 501)
    assert info.value.rule == "field-too-long"
    assert info.value.limit == 500
    assert "500" in info.value.message and "EEEE" not in info.value.message
    assert isinstance(info.value, RuleViolation)


def test_user_id_pattern_matches_the_service_rule() -> None:
    pattern = re.compile(LIMITS["user id"].pattern or "")
    for good in ("qa1", "a.b-c_d@site", "X" * 64):
        assert pattern.fullmatch(good)
    for bad in ("", "-a", "a b", "a/b", "X" * 65, "a\x1b"):
        assert not pattern.fullmatch(bad)


def test_project_start_refuses_bad_code_and_long_customer() -> None:
    with pytest.raises(RuleViolation) as info:
        Project.start("p-lower", "Acme", diamond(), dict(TEAM), "pat", T0)
    assert info.value.rule == "invalid-identifier"
    with pytest.raises(RuleViolation) as info:
        Project.start("P-1", "C" * 201, diamond(), dict(TEAM), "pat", T0)
    assert info.value.rule == "field-too-long" and info.value.facts["field"] == "customer"


def test_commands_refuse_over_long_text_and_leave_the_project_unchanged() -> None:
    project = start()
    before = project.to_dict()
    with pytest.raises(RuleViolation, match="evidence"):
        project.submit_deliverable("a", "a-report", "dev1", "E" * 501, T0)
    with pytest.raises(RuleViolation, match="reason"):
        project.put_on_hold("pat", "R" * 2001, T0)
    with pytest.raises(RuleViolation, match="condition id"):
        project.close_condition("C1'; DROP TABLE projects;--", "pat", "DMS-1", T0)
    assert project.to_dict() == before
    complete_work(project, "a", T0)
    before = project.to_dict()
    with pytest.raises(RuleViolation, match="comment"):
        project.sign("g-a", signer("pat"), "pm", "go", "approval", T0, comment="c" * 2001)
    with pytest.raises(RuleViolation, match="condition"):
        project.sign(
            "g-a", signer("pat"), "pm", "conditional-go", "approval", T0, conditions=["x" * 1001]
        )
    assert project.to_dict() == before
