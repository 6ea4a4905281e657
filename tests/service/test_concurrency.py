"""Concurrent commands from real processes, on SQLite and PostgreSQL.

Two sign-offs that complete a quota at the same moment produce exactly one decision; commands
racing on one project never lose an update; an idempotency key applies a command once.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cdmo_workflow import service

DEFS = Path(__file__).parent / "defs"
PASSWORD = "concurrency-pass-1"


def _ctx(db_url: str) -> service.Context:
    return service.open_context(db_url=db_url, definitions=DEFS)


def _setup(db_url: str, code: str, qa_users: int = 2) -> service.Context:
    ctx = _ctx(db_url)
    service.provision_user(ctx, "pm", "Pat Manager", ["pm"], PASSWORD)
    for i in range(1, qa_users + 1):
        service.provision_user(ctx, f"qa{i}", f"QA Person {i}", ["qa"], PASSWORD)
    service.provision_user(ctx, "mfg", "Max Production", ["mfg"], PASSWORD)
    team = {"pm": ["pm"], "qa": [f"qa{i}" for i in range(1, qa_users + 1)], "mfg": ["mfg"]}
    service.start_project(ctx, code, "mini", "Acme", team, "pm", password=PASSWORD)
    return ctx


def _open_gate(ctx: service.Context, code: str) -> None:
    for d in ("d1", "d2", "d3", "d4"):
        service.submit_deliverable(ctx, code, "build", d, "mfg", f"DMS-{d}", password=PASSWORD)


def _worker(args: tuple[str, str, str, str, str, Any]) -> str:
    """Runs in a fresh process: wait for the others, then sign."""
    db_url, code, user, role, decision, barrier = args
    ctx = _ctx(db_url)
    barrier.wait(timeout=60)
    try:
        service.sign_gate(ctx, code, "build-go", user, PASSWORD, role, decision, "approval")
        return "accepted"
    except service.Refused as exc:
        return exc.rule


def _submit_worker(args: tuple[str, str, str, Any]) -> str:
    db_url, code, deliverable, barrier = args
    ctx = _ctx(db_url)
    barrier.wait(timeout=60)
    service.submit_deliverable(
        ctx, code, "build", deliverable, "mfg", f"DMS-{deliverable}", password=PASSWORD
    )
    return "ok"


def _run_parallel(fn: Any, jobs: list[tuple[Any, ...]]) -> list[str]:
    spawn = mp.get_context("spawn")
    with spawn.Manager() as manager:
        barrier = manager.Barrier(len(jobs))
        with spawn.Pool(len(jobs)) as pool:
            return pool.map(fn, [(*job, barrier) for job in jobs])


def _audit(db_url: str, code: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT seq, action, outcome, rule, events FROM audit_events "
                "WHERE chain = :c ORDER BY seq"
            ),
            {"c": code},
        ).mappings()
        out = [dict(r) for r in rows]
    engine.dispose()
    return out


def _events(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    found = []
    for r in rows:
        events = r["events"]
        if isinstance(events, str):
            events = json.loads(events)
        found.extend(e for e in events or [] if e["name"] == name)
    return found


def _decisions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _events(rows, "gate.decided")


def test_two_signers_of_one_quota_at_once_give_one_decision(db_url: str) -> None:
    """qa1 and qa2 both try to fill the single qa slot: one wins, the other is refused."""
    ctx = _setup(db_url, "RACE-1")
    _open_gate(ctx, "RACE-1")
    service.sign_gate(ctx, "RACE-1", "build-go", "mfg", PASSWORD, "mfg", "go", "approval")
    results = _run_parallel(
        _worker,
        [(db_url, "RACE-1", "qa1", "qa", "go"), (db_url, "RACE-1", "qa2", "qa", "go")],
    )
    assert sorted(results) in (["accepted", "gate-not-open"], ["accepted", "quota-met"])
    status = service.project_status(ctx, "RACE-1")
    gate = next(g for g in status["gates"] if g["id"] == "build-go")
    assert gate["state"] == "decided"
    assert len(gate["signatures"]) == 2
    rows = _audit(db_url, "RACE-1")
    assert len(_decisions(rows)) == 1
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert sum(1 for r in rows if r["outcome"] == "refused") == 1
    assert service.verify_audit(ctx, "RACE-1").ok


def test_last_two_quotas_signed_at_once_decide_exactly_once(db_url: str) -> None:
    """qa and mfg sign simultaneously; both count and exactly one decision follows."""
    ctx = _setup(db_url, "RACE-2", qa_users=1)
    _open_gate(ctx, "RACE-2")
    results = _run_parallel(
        _worker,
        [(db_url, "RACE-2", "qa1", "qa", "go"), (db_url, "RACE-2", "mfg", "mfg", "go")],
    )
    assert results == ["accepted", "accepted"]
    rows = _audit(db_url, "RACE-2")
    decided = _decisions(rows)
    assert len(decided) == 1
    assert decided[0]["data"]["outcome"] == "go"
    status = service.project_status(ctx, "RACE-2")
    assert {p["id"]: p["state"] for p in status["phases"]} == {
        "build": "completed",
        "release": "active",
    }


def test_concurrent_submissions_lose_no_update(db_url: str) -> None:
    ctx = _setup(db_url, "RACE-3", qa_users=1)
    results = _run_parallel(
        _submit_worker, [(db_url, "RACE-3", d) for d in ("d1", "d2", "d3", "d4")]
    )
    assert results == ["ok"] * 4
    status = service.project_status(ctx, "RACE-3")
    build = next(p for p in status["phases"] if p["id"] == "build")
    assert all(d["submitted"] is not None for d in build["deliverables"])
    assert build["state"] == "gate-review"  # the last of the four opened the gate, once
    rows = _audit(db_url, "RACE-3")
    opened = [
        e
        for r in rows
        for e in (
            r["events"]
            if not isinstance(r["events"], str)
            else __import__("json").loads(r["events"])
        )
        if e["name"] == "gate.opened"
    ]
    assert len(opened) == 1


def test_idempotency_key_applies_a_command_once(db_url: str) -> None:
    ctx = _setup(db_url, "IDEM-1", qa_users=1)
    first = service.submit_deliverable(
        ctx, "IDEM-1", "build", "d1", "mfg", "DMS-1", idempotency_key="k-1", password=PASSWORD
    )
    again = service.submit_deliverable(
        ctx, "IDEM-1", "build", "d1", "mfg", "DMS-1", idempotency_key="k-1", password=PASSWORD
    )
    assert not first.replayed
    assert again.replayed
    assert again.audit_seq == first.audit_seq
    actions = [r["action"] for r in _audit(db_url, "IDEM-1")]
    assert actions.count("deliverable.submit") == 1
    _open_gate(ctx, "IDEM-1")
    service.sign_gate(
        ctx, "IDEM-1", "build-go", "qa1", PASSWORD, "qa", "go", "approval", idempotency_key="s-1"
    )
    again_sig = service.sign_gate(
        ctx, "IDEM-1", "build-go", "qa1", PASSWORD, "qa", "go", "approval", idempotency_key="s-1"
    )
    assert again_sig.replayed
    rows = _audit(db_url, "IDEM-1")
    assert sum(1 for r in rows if r["action"] == "gate.sign") == 1


def test_a_refused_command_changes_nothing_but_the_audit_trail(db_url: str) -> None:
    ctx = _setup(db_url, "REF-1", qa_users=1)
    before = service.project_status(ctx, "REF-1")
    with pytest.raises(service.Refused) as refused:
        service.submit_deliverable(ctx, "REF-1", "build", "d1", "qa1", "DMS-1", password=PASSWORD)
    assert refused.value.rule == "not-assigned-to-role"
    assert service.project_status(ctx, "REF-1") == before
    rows = _audit(db_url, "REF-1")
    assert [(r["action"], r["outcome"], r["rule"]) for r in rows] == [
        ("project.start", "accepted", None),
        ("deliverable.submit", "refused", "not-assigned-to-role"),
    ]
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        outbox = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE project='REF-1'")).scalar()
    engine.dispose()
    started_rows = outbox
    assert started_rows is not None and started_rows > 0  # only the start's notifications
    with pytest.raises(service.Refused):
        service.submit_deliverable(ctx, "REF-1", "build", "nope", "mfg", "DMS-1", password=PASSWORD)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE project='REF-1'")).scalar()
    engine.dispose()
    assert after == started_rows
