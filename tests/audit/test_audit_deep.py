"""`cdmo audit verify --deep`: each project document against its accepted audit rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from audit_support import behind_the_engine, open_ctx, rehash_from, report, rows_of_typed
from programme import add_team, run_programme
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from cdmo_workflow import service
from cdmo_workflow.cli import app
from cdmo_workflow.store.tables import audit_events, projects

CODE = "P-DEEP"


@pytest.fixture
def ctx(db_url: str) -> service.Context:
    c = open_ctx(db_url)
    add_team(c)
    run_programme(c, CODE)
    return c


def _document(conn: Connection) -> dict[str, Any]:
    doc = conn.execute(sa.select(projects.c.document).where(projects.c.code == CODE)).scalar_one()
    return json.loads(doc) if isinstance(doc, str) else dict(doc)


def _save(conn: Connection, doc: dict[str, Any]) -> None:
    conn.execute(sa.update(projects).where(projects.c.code == CODE).values(document=doc))


def test_a_programme_run_by_the_engine_matches_its_trail(ctx: service.Context) -> None:
    rep = report(ctx, deep=True)
    assert rep.ok, rep.problems
    assert rep.summary().endswith("every project document matches its trail")


def test_a_signature_deleted_from_the_trail_but_kept_in_the_document(
    ctx: service.Context,
) -> None:
    def drop_signature(conn: Connection) -> None:
        rows = rows_of_typed(conn, CODE)
        sign = next(r for r in rows if r["action"] == "gate.sign" and r["actor"] == "qa-user")
        conn.execute(sa.delete(audit_events).where(audit_events.c.id == sign["id"]))
        for r in rows:  # close the gap and recompute: the hash chain alone would be fooled
            if r["seq"] > sign["seq"]:
                conn.execute(
                    sa.update(audit_events)
                    .where(audit_events.c.id == r["id"])
                    .values(seq=r["seq"] - 1)
                )
        rehash_from(conn, CODE, sign["seq"])
        drop_signature.gate = sign["new"]["gate"]  # type: ignore[attr-defined]

    behind_the_engine(ctx, drop_signature)
    gate = drop_signature.gate  # type: ignore[attr-defined]
    shallow = report(ctx, CODE)
    assert not shallow.ok  # the checkpoints see the rewrite
    rep = report(ctx, CODE, deep=True)
    expected = (
        f"project {CODE}: the document holds a signature by qa-user on gate {gate} (review 1) "
        "that has no accepted row in the audit trail"
    )
    assert expected in rep.problems, rep.problems


def test_a_document_edited_behind_the_engine(ctx: service.Context) -> None:
    def edit(conn: Connection) -> None:
        doc = _document(conn)
        review = doc["reviews"][0]
        review["signatures"][0]["decision"] = "kill"
        doc["phases"][-1]["state"] = "active"
        _save(conn, doc)
        edit.who = (review["signatures"][0]["user"], review["gate"])  # type: ignore[attr-defined]
        edit.phase = doc["phases"][-1]["id"]  # type: ignore[attr-defined]

    behind_the_engine(ctx, edit)
    user, gate = edit.who  # type: ignore[attr-defined]
    assert report(ctx, CODE).ok  # the chain and its checkpoints are untouched
    rep = report(ctx, CODE, deep=True)
    assert rep.status == "broken"
    assert any(
        p.startswith(f"project {CODE}: the signature by {user} on gate {gate} (review 1) differs")
        and p.endswith("in decision")
        for p in rep.problems
    ), rep.problems
    assert (
        f"project {CODE}: the document says phase {edit.phase} is active, but its audit trail "  # type: ignore[attr-defined]
        "leaves it completed"
    ) in rep.problems
    env = {
        "CDMO_DATABASE_URL": ctx.settings.database_url,
        "CDMO_CHECKPOINT_DIR": str(ctx.settings.checkpoint_dir),
        "CDMO_AUDIT_KEY_FILE": str(ctx.settings.audit_key_file),
    }
    runner = CliRunner()
    shallow = runner.invoke(app, ["audit", "verify", CODE], env=env, catch_exceptions=False)
    assert shallow.exit_code == 0, shallow.output
    deep = runner.invoke(app, ["audit", "verify", CODE, "--deep"], env=env, catch_exceptions=False)
    assert deep.exit_code == 1
    assert deep.output.splitlines()[0] == f"audit trail BROKEN: {rep.problems[0]}"
    assert "Traceback" not in deep.output and "{'" not in deep.output


def test_a_signature_removed_from_the_document(ctx: service.Context) -> None:
    def edit(conn: Connection) -> None:
        doc = _document(conn)
        removed = doc["reviews"][1]["signatures"].pop()
        _save(conn, doc)
        edit.removed = (removed["user"], doc["reviews"][1]["gate"])  # type: ignore[attr-defined]

    behind_the_engine(ctx, edit)
    user, gate = edit.removed  # type: ignore[attr-defined]
    rep = report(ctx, CODE, deep=True)
    assert any(
        p.startswith(f"project {CODE}: audit row seq ")
        and p.endswith(
            f"records a signature by {user} on gate {gate} (review 1) that the "
            "document does not hold"
        )
        for p in rep.problems
    ), rep.problems


def test_a_row_the_rules_refuse_is_named_by_the_replay(ctx: service.Context) -> None:
    """A row written through the store (checkpointed, hash-correct) but that the pure core
    would refuse: only the replay sees it."""
    with ctx.db.unit_of_work() as uow:
        uow.audit.append(
            chain=CODE,
            actor="pd-user",
            action="gate.sign",
            subject="scoping-go#1",
            new={
                "gate": "scoping-go",
                "review": 1,
                "user": "pd-user",
                "name": "Pedro Developer",
                "role": "qa",
                "decision": "go",
                "meaning": "approval",
                "signed_at": "2026-12-01T10:00:00.000000Z",
                "record_hash": "0" * 64,
                "comment": None,
                "conditions": [],
            },
        )
        seq = uow.audit.last(CODE).seq  # type: ignore[union-attr]
        uow.commit()
    assert report(ctx, CODE).ok  # the chain and its checkpoints hold
    rep = report(ctx, CODE, deep=True)
    assert rep.problems[0].startswith(
        f"project {CODE}: audit row seq {seq} (gate.sign by pd-user) is refused by the "
        "engine's rules when replayed: "
    ), rep.problems
