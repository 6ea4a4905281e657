"""Part 11 account controls: password change, administrator reset, deactivation, ageing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from cdmo_workflow import service

DEFS = Path(__file__).parent / "defs"
PW = "first-password-1"


def _ctx(db_url: str, **settings: object) -> service.Context:
    return service.open_context(db_url=db_url, definitions=DEFS, **settings)


@pytest.fixture
def ctx(db_url: str) -> service.Context:
    c = _ctx(db_url)
    service.provision_user(c, "pm", "Pat Manager", ["pm"], PW)
    service.provision_user(c, "qa1", "Dr. Q. One", ["qa"], PW)
    service.provision_user(c, "mfg", "Max Production", ["mfg"], PW)
    service.provision_user(c, "root", "Ada Admin", ["admin"], PW)
    service.start_project(
        c, "ACC-1", "mini", "Acme", {"pm": ["pm"], "qa": ["qa1"], "mfg": ["mfg"]}, "pm"
    )
    for d in ("d1", "d2", "d3", "d4"):
        service.submit_deliverable(c, "ACC-1", "build", d, "mfg", "DMS")
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


def test_reset_forces_a_new_password_before_signing(ctx: service.Context, db_url: str) -> None:
    service.reset_password(ctx, "qa1", "root", "temporary-pass-9")
    with pytest.raises(service.Refused) as refused:
        _sign(ctx, "temporary-pass-9")
    assert refused.value.rule == "password-change-required"
    with pytest.raises(service.Refused) as reused:
        service.change_password(ctx, "qa1", "temporary-pass-9", "temporary-pass-9")
    assert reused.value.rule == "password-reused"
    service.change_password(ctx, "qa1", "temporary-pass-9", "my-own-secret-22")
    with pytest.raises(service.Refused):
        _sign(ctx, PW)  # the old password is gone
    assert _sign(ctx, "my-own-secret-22").change is not None
    actions = _actions(db_url)
    assert ("root", "user.reset-password", "accepted", None) in actions
    assert ("qa1", "user.passwd", "refused", "password-reused") in actions
    assert ("qa1", "user.passwd", "accepted", None) in actions


def test_only_another_administrator_may_reset_or_deactivate(
    ctx: service.Context, db_url: str
) -> None:
    with pytest.raises(service.Refused) as not_admin:
        service.reset_password(ctx, "qa1", "pm", "temporary-pass-9")
    assert not_admin.value.rule == "not-admin"
    with pytest.raises(service.Refused) as own:
        service.deactivate_user(ctx, "root", "root", "test")
    assert own.value.rule == "self-administration"
    refused = [a for a in _actions(db_url) if a[2] == "refused"]
    assert [(a[1], a[3]) for a in refused] == [
        ("user.reset-password", "not-admin"),
        ("user.deactivate", "self-administration"),
    ]


def test_deactivated_user_cannot_sign_and_id_is_not_reused(ctx: service.Context) -> None:
    service.deactivate_user(ctx, "qa1", "root", "credentials lost")
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
