"""Part 11 account controls: password change, administrator reset, deactivation, ageing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cdmo_workflow import service
from cdmo_workflow.notify.relay import relay_once
from tests.accounts import code_in
from tests.notify.receivers import JsonReceiver

DEFS = Path(__file__).parent / "defs"
PW = "first-password-1"


def _ctx(db_url: str, **settings: object) -> service.Context:
    return service.open_context(db_url=db_url, definitions=DEFS, **settings)


@pytest.fixture
def receiver() -> Iterator[JsonReceiver]:
    r = JsonReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def ctx(db_url: str, receiver: JsonReceiver) -> service.Context:
    c = _ctx(db_url)
    service.provision_user(c, "pm", "Pat Manager", ["pm"], PW)
    service.provision_user(c, "qa1", "Dr. Q. One", ["qa"], PW, [receiver.url("/qa1")])
    service.provision_user(c, "mfg", "Max Production", ["mfg"], PW)
    service.provision_user(c, "root", "Ada Admin", ["admin"], PW)
    service.start_project(
        c,
        "ACC-1",
        "mini",
        "Acme",
        {"pm": ["pm"], "qa": ["qa1"], "mfg": ["mfg"]},
        "pm",
        password=PW,
    )
    for d in ("d1", "d2", "d3", "d4"):
        service.submit_deliverable(c, "ACC-1", "build", d, "mfg", "DMS", password=PW)
    return c


def _sign(c: service.Context, password: str) -> service.CommandResult:
    return service.sign_gate(c, "ACC-1", "build-go", "qa1", password, "qa", "go", "approval")


def _actions(db_url: str) -> list[tuple[str, str, str, str | None]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT actor, action, outcome, rule FROM audit_events "
                "WHERE chain = '_system' ORDER BY seq"
            )
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_reset_sends_a_code_to_the_user_and_the_old_password_stops(
    ctx: service.Context, db_url: str, receiver: JsonReceiver
) -> None:
    service.reset_password(ctx, "qa1", "root", password=PW)
    with pytest.raises(service.Refused) as refused:
        _sign(ctx, PW)  # the old password is gone at once
    assert refused.value.rule == "no-password"
    before = len(receiver.messages)
    relay_once(ctx.db)
    [message] = [
        m for m in receiver.wait_for(before + 1)[before:] if "one-time code" in str(m.body)
    ]
    assert message.path == "/qa1"
    code = code_in(message)
    with pytest.raises(service.Refused) as wrong:
        service.activate_account(ctx, "qa1", "AAAA-BBBB-CCCC", "my-own-secret-22")
    assert wrong.value.rule == "code-invalid"
    service.activate_account(ctx, "qa1", code, "my-own-secret-22")
    with pytest.raises(service.Refused) as spent:
        service.activate_account(ctx, "qa1", code, "another-secret-33")
    assert spent.value.rule == "code-invalid"
    with pytest.raises(service.Refused) as reused:
        service.change_password(ctx, "qa1", "my-own-secret-22", "my-own-secret-22")
    assert reused.value.rule == "password-reused"
    assert _sign(ctx, "my-own-secret-22").change is not None
    actions = _actions(db_url)
    assert ("root", "user.reset-password", "accepted", None) in actions
    assert ("qa1", "user.activate", "refused", "code-invalid") in actions
    assert ("qa1", "user.activate", "accepted", None) in actions
    assert ("qa1", "user.passwd", "refused", "password-reused") in actions


def test_only_another_administrator_may_reset_or_deactivate(
    ctx: service.Context, db_url: str
) -> None:
    with pytest.raises(service.Refused) as not_admin:
        service.reset_password(ctx, "qa1", "pm", password=PW)
    assert not_admin.value.rule == "not-admin"
    with pytest.raises(service.Refused) as own:
        service.deactivate_user(ctx, "root", "root", "test", password=PW)
    assert own.value.rule == "self-administration"
    refused = [a for a in _actions(db_url) if a[2] == "refused"]
    assert [(a[1], a[3]) for a in refused] == [
        ("user.reset-password", "not-admin"),
        ("user.deactivate", "self-administration"),
    ]


def test_deactivated_user_cannot_sign_and_id_is_not_reused(ctx: service.Context) -> None:
    service.deactivate_user(ctx, "qa1", "root", "credentials lost", password=PW)
    with pytest.raises(service.Refused) as refused:
        _sign(ctx, PW)
    assert refused.value.rule == "user-inactive"
    with pytest.raises(service.Refused):
        service.provision_user(ctx, "qa1", "Someone Else", ["qa"], PW)


def test_password_ageing(ctx: service.Context, db_url: str) -> None:
    aged = _ctx(db_url, password_max_age_days=30)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE users SET password_changed_at = :t WHERE user_id = 'qa1'"),
            {"t": "2020-01-01 00:00:00+00:00"},
        )
    engine.dispose()
    with pytest.raises(service.Refused) as refused:
        _sign(aged, PW)
    assert refused.value.rule == "password-expired"
    service.change_password(aged, "qa1", PW, "fresh-password-77")
    assert _sign(aged, "fresh-password-77").change is not None


def test_failed_sign_in_raises_a_security_notification(ctx: service.Context, db_url: str) -> None:
    with pytest.raises(service.Refused) as refused:
        _sign(ctx, "not-the-password")
    assert refused.value.rule == "authentication-failed"
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT recipient, event, payload FROM outbox "
                "WHERE project = 'ACC-1' AND notify_event = 'security'"
            )
        ).all()
        audit = conn.execute(
            sa.text(
                "SELECT actor, outcome, rule FROM audit_events WHERE chain = 'ACC-1' "
                "AND action = 'gate.sign'"
            )
        ).all()
    engine.dispose()
    assert [(r[0], r[1]) for r in rows] == [("pm", "security.alert")]
    assert [tuple(a) for a in audit] == [("qa1", "refused", "authentication-failed")]
