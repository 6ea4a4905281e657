"""The command runner's rules, on the fake unit of work (pure, milliseconds each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdmo_workflow import service
from cdmo_workflow.domain.project import Change
from cdmo_workflow.identity import hash_password
from tests.service.fakes import FakeDatabase, FakeProjects

DEFS = Path(__file__).parent / "defs"
PW = "fake-password-1"


@pytest.fixture
def ctx() -> service.Context:
    c = service.open_context(definitions=DEFS)
    c.database = FakeDatabase()
    for uid, roles in (("pm", ["pm"]), ("qa1", ["qa"]), ("mfg", ["mfg"]), ("root", ["admin"])):
        service.provision_user(c, uid, uid.upper(), roles, PW)
    service.start_project(
        c, "F-1", "mini", "Acme", {"pm": ["pm"], "qa": ["qa1"], "mfg": ["mfg"]}, "pm", password=PW
    )
    return c


def _db(ctx: service.Context) -> FakeDatabase:
    assert isinstance(ctx.database, FakeDatabase)
    return ctx.database


def _refusals(ctx: service.Context) -> list[tuple[str, str, str | None]]:
    return [
        (r["actor"], r["action"], r.get("rule"))
        for r in _db(ctx).state.audit
        if r.get("outcome") == "refused"
    ]


def test_every_refusal_leaves_exactly_one_row_and_nothing_else(ctx: service.Context) -> None:
    before = copy_of(ctx)
    cases = {
        "credential-required": lambda: service.hold_project(ctx, "F-1", "pm", "x"),
        "authentication-failed": lambda: service.hold_project(ctx, "F-1", "pm", "x", password="no"),
        "not-assigned-to-role": lambda: service.hold_project(ctx, "F-1", "mfg", "x", password=PW),
        "reason-required": lambda: service.deactivate_user(ctx, "qa1", "root", " ", password=PW),
        "weak-password": lambda: service.change_password(ctx, "qa1", PW, "short"),
        "admin-exists": lambda: service.admin_init(ctx, "adm2", "A", "long-enough-pw"),
        "not-found": lambda: service.hold_project(ctx, "NOPE", "pm", "x", password=PW),
    }
    for rule, attempt in cases.items():
        with pytest.raises(service.Refused) as refused:
            attempt()
        assert refused.value.rule == rule
    got = [r[2] for r in _refusals(ctx)]
    assert got == list(cases)
    assert len(got) == len(cases)
    after = _db(ctx).state
    assert after.projects["F-1"].version == before["version"]  # nothing half-written
    assert "adm2" not in after.users


def copy_of(ctx: service.Context) -> dict[str, int]:
    state = _db(ctx).state
    return {"version": state.projects["F-1"].version, "outbox": len(state.outbox)}


def test_a_lost_race_retries_against_fresh_state(ctx: service.Context) -> None:
    FakeProjects.lose_next_save = 2
    try:
        result = service.hold_project(ctx, "F-1", "pm", "supplier audit", password=PW)
    finally:
        FakeProjects.lose_next_save = 0
    assert result.status is not None and result.status["state"] == "on-hold"
    assert [r["action"] for r in _db(ctx).state.audit if r["chain"] == "F-1"][-1] == "project.hold"


def test_idempotency_is_bound_to_the_request(ctx: service.Context) -> None:
    first = service.hold_project(ctx, "F-1", "pm", "audit", "k1", password=PW)
    again = service.hold_project(ctx, "F-1", "pm", "audit", "k1", password=PW)
    assert again.replayed and again.audit_seq == first.audit_seq
    with pytest.raises(service.Refused) as other:
        service.resume_project(ctx, "F-1", "pm", "audit", "k1", password=PW)
    assert other.value.rule == "idempotency-key-reused"


def test_a_global_role_is_checked_before_the_command(ctx: service.Context) -> None:
    with pytest.raises(service.Refused) as refused:
        service.unlock_user(ctx, "qa1", "pm", password=PW)
    assert refused.value.rule == "not-admin"
    assert "'admin'" in str(refused.value) and "cdmo users unlock" in str(refused.value)


def test_a_custom_command_goes_through_the_same_runner(ctx: service.Context) -> None:
    """Adding a command is one apply function: the runner does the rest."""

    def apply(step: service.Step) -> Change:
        return Change("project.hold", "F-1", None, {"note": step.require_actor().name})

    cmd = service.Command(
        "project.hold", service.Credential("pm", PW), "F-1", {"note": 1}, apply, project="F-1"
    )
    result = service.execute(ctx, cmd)
    assert result.change is not None and result.change.new == {"note": "PM"}


def test_an_old_hash_is_upgraded_at_the_next_sign_in(ctx: service.Context) -> None:
    import base64
    import hashlib

    salt = b"fedcba9876543210"
    key = hashlib.scrypt(PW.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    legacy = f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    state = _db(ctx).state
    from dataclasses import replace

    state.users["pm"] = replace(state.users["pm"], password_hash=legacy)
    service.hold_project(ctx, "F-1", "pm", "x", password=PW)
    assert _db(ctx).state.users["pm"].password_hash.startswith("$argon2id$")
    assert hash_password(PW) != _db(ctx).state.users["pm"].password_hash
