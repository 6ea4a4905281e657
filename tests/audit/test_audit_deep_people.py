"""`cdmo audit verify --deep` reproduces a project that used every people command (team
changes, delegated signatures, condition close/accept/reject, phase and project quality holds
and their signed releases, a path recycle, carried deliverables), and names what was changed
behind the engine: a delegation edited in its table, a delegated signature edited in the
document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from audit_support import behind_the_engine, report
from sqlalchemy.engine import Connection

from cdmo_workflow import service
from cdmo_workflow.store.tables import delegations, projects
from tests import people_scenario as sc


def test_every_people_command_replays_and_tampering_is_named(db_url: str, tmp_path: Path) -> None:
    sc.seed(db_url)
    cli = sc.Cli(db_url, tmp_path)
    sc.run(cli)
    ctx = service.open_context(
        db_url,
        sc.DEFS,
        checkpoint_dir_override=tmp_path / "checkpoints",
        audit_key_file_override=tmp_path / "audit-key.pem",
    )
    actions = {r[1] for r in cli.audit_rows() if r[2] == "accepted"}
    assert {
        "team.add",
        "team.replace",
        "gate.sign",
        "condition.close",
        "condition.accept",
        "condition.reject",
        "project.hold",
        "project.release",
        "deliverable.carry",
    } <= actions
    system = {r[1] for r in cli.audit_rows("_system") if r[2] == "accepted"}
    assert {"delegation.grant", "delegation.revoke"} <= system
    rep = report(ctx, sc.CODE, deep=True)
    assert rep.ok, rep.problems

    # a delegation's end moved behind the engine (the table is not the trail)
    def stretch(conn: Connection) -> None:
        conn.execute(
            sa.update(delegations)
            .where(delegations.c.id == 2)
            .values(ends_at=delegations.c.starts_at)
        )

    behind_the_engine(ctx, stretch)
    rep = report(ctx, sc.CODE, deep=True)
    assert (
        "delegation D2 differs from its delegation.grant row in ends_at: it was edited behind "
        "the engine"
    ) in rep.problems, rep.problems

    # the delegated signature rewritten as qa9's own in the document
    def own(conn: Connection) -> None:
        doc: Any = conn.execute(
            sa.select(projects.c.document).where(projects.c.code == sc.CODE)
        ).scalar_one()
        doc = json.loads(doc) if isinstance(doc, str) else dict(doc)
        review = next(r for r in doc["reviews"] if r["gate"] == "methods-go")
        sig = review["signatures"][1]
        assert sig["on_behalf_of"] == "qa1"
        sig["on_behalf_of"] = None
        conn.execute(sa.update(projects).where(projects.c.code == sc.CODE).values(document=doc))

    behind_the_engine(ctx, own)
    rep = report(ctx, sc.CODE, deep=True)
    assert any(
        p.startswith(f"project {sc.CODE}: the signature by qa9 on gate methods-go (review 1) ")
        and p.endswith("in on_behalf_of")
        for p in rep.problems
    ), rep.problems
