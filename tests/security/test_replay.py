"""Idempotency keys are bound to the actor, the command and its arguments (SQLite, PostgreSQL).

A replay of the same request returns the first result, after the actor authenticates again;
anything else sent with a used key is refused and audited.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cdmo_workflow import service

DEFS = Path(__file__).resolve().parents[1] / "service" / "defs"
PW = "replay-password-1"


def _ctx(db_url: str) -> service.Context:
    return service.open_context(db_url=db_url, definitions=DEFS)


def _setup(db_url: str, qa: int = 8) -> service.Context:
    ctx = _ctx(db_url)
    service.provision_user(ctx, "pm", "Pat Manager", ["pm"], PW)
    service.provision_user(ctx, "mfg", "Max Production", ["mfg"], PW)
    for i in range(1, qa + 1):
        service.provision_user(ctx, f"qa{i}", f"QA {i}", ["qa"], PW)
    team = {"pm": ["pm"], "qa": [f"qa{i}" for i in range(1, qa + 1)], "mfg": ["mfg"]}
    service.start_project(ctx, "RP-1", "mini", "Acme", team, "pm", password=PW)
    for d in ("d1", "d2", "d3", "d4"):
        service.submit_deliverable(ctx, "RP-1", "build", d, "mfg", "DMS", password=PW)
    return ctx


def _refusals(db_url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT actor, rule FROM audit_events WHERE chain = 'RP-1' "
                "AND outcome = 'refused' ORDER BY seq"
            )
        ).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def _sign(ctx: service.Context, user: str, decision: str, pw: str = PW, key: str = "k") -> Any:
    return service.sign_gate(
        ctx, "RP-1", "build-go", user, pw, "qa", decision, "approval", idempotency_key=key
    )


def test_a_used_key_refuses_anything_but_the_same_request(db_url: str) -> None:
    ctx = _setup(db_url)
    first = _sign(ctx, "qa1", "go")
    assert not first.replayed
    again = _sign(ctx, "qa1", "go")
    assert again.replayed and again.audit_seq == first.audit_seq
    attempts = {
        "another decision": lambda: _sign(ctx, "qa1", "hold"),
        "another user": lambda: _sign(ctx, "qa2", "go"),
        "another command": lambda: service.submit_deliverable(
            ctx, "RP-1", "build", "d1", "mfg", "DMS", idempotency_key="k", password=PW
        ),
    }
    for what, attempt in attempts.items():
        with pytest.raises(service.Refused) as refused:
            attempt()
        assert refused.value.rule == "idempotency-key-reused", what
        assert "idempotency key 'k' already used for another command" in str(refused.value)
    with pytest.raises(service.Refused) as wrong:
        _sign(ctx, "qa1", "go", pw="not-the-password")  # a replay authenticates first
    assert wrong.value.rule == "authentication-failed"
    with pytest.raises(service.Refused) as ghost:
        _sign(ctx, "nobody", "go")
    assert ghost.value.rule == "authentication-failed"
    assert _refusals(db_url) == [
        ("qa1", "idempotency-key-reused"),
        ("qa2", "idempotency-key-reused"),
        ("mfg", "idempotency-key-reused"),
        ("qa1", "authentication-failed"),
        ("nobody", "authentication-failed"),
    ]
    signatures = service.project_status(ctx, "RP-1")["gates"][0]["signatures"]
    assert [(s["user"], s["decision"]) for s in signatures] == [("qa1", "go")]


def _replay_worker(args: tuple[str, str, Any]) -> str:
    db_url, user, barrier = args
    ctx = _ctx(db_url)
    barrier.wait(timeout=60)
    try:
        _sign(ctx, user, "go", key="shared-key")
        return "accepted"
    except service.Refused as exc:
        return exc.rule


def test_eight_signers_racing_on_one_key_give_one_success(db_url: str) -> None:
    _setup(db_url)
    spawn = mp.get_context("spawn")
    users = [f"qa{i}" for i in range(1, 9)]
    with spawn.Manager() as manager:
        barrier = manager.Barrier(len(users))
        with spawn.Pool(len(users)) as pool:
            outcomes = pool.map(_replay_worker, [(db_url, u, barrier) for u in users])
    assert sorted(outcomes) == ["accepted"] + ["idempotency-key-reused"] * 7
    refused = [r for r in _refusals(db_url) if r[1] == "idempotency-key-reused"]
    assert len(refused) == 7
    status = service.project_status(_ctx(db_url), "RP-1")
    assert len(status["gates"][0]["signatures"]) == 1
