"""A database owner with the triggers off cannot rewrite the trail unnoticed: every tamper
is named in one sentence by `cdmo audit verify` (real SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from audit_support import (
    CODE,
    PASSWORD,
    behind_the_engine,
    lose_checkpoints,
    open_ctx,
    rehash_from,
    report,
    rows_of_typed,
    small_trail,
)
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.hashing import record_hash
from cdmo_workflow.store.tables import audit_events

ROWS = 6
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


@pytest.fixture
def ctx(db_url: str):  # type: ignore[no-untyped-def]
    c = open_ctx(db_url)
    small_trail(c, CODE, ROWS)
    return c


def cli(ctx, *args: str, code: int) -> str:  # type: ignore[no-untyped-def]
    env = {
        "CDMO_DATABASE_URL": ctx.settings.database_url,
        "CDMO_CHECKPOINT_DIR": str(ctx.settings.checkpoint_dir),
        "CDMO_AUDIT_KEY_FILE": str(ctx.settings.audit_key_file),
    }
    result = CliRunner().invoke(app, ["audit", *args], env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert "{'" not in result.output  # never a Python dict
    return result.output


def only_problem(ctx, code: str | None = None) -> str:  # type: ignore[no-untyped-def]
    rep = report(ctx, code)
    assert rep.status == "broken" and not rep.ok
    return rep.problems[0]


def test_an_untouched_trail_is_intact(ctx) -> None:  # type: ignore[no-untyped-def]
    rep = report(ctx)
    assert rep.ok and rep.status == "intact", rep.problems
    by_chain = {c.chain: c for c in rep.chains}
    assert by_chain[CODE].rows == ROWS and by_chain[CODE].checkpoints == ROWS
    assert by_chain["_system"].rows == 8
    out = cli(ctx, "verify", code=0)
    assert out.startswith("audit trail intact: 2 chains, 14 rows")
    assert rep.keys[0] in out
    # a checkpoint file per chain, one signed line per commit
    lines = (ctx.settings.checkpoint_dir / f"{CODE}.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, ROWS + 1))


@pytest.mark.parametrize("deleted", [1, 3])
def test_tail_delete_is_named(ctx, deleted: int) -> None:  # type: ignore[no-untyped-def]
    behind_the_engine(
        ctx,
        lambda c: c.execute(
            sa.delete(audit_events).where(
                audit_events.c.chain == CODE, audit_events.c.seq > ROWS - deleted
            )
        ),
    )
    problem = only_problem(ctx)
    assert re.fullmatch(
        rf"chain {CODE} ends at seq {ROWS - deleted}, but the checkpoint of {TIME} records "
        rf"seq {ROWS} with hash [0-9a-f]{{12}}…: rows were deleted from its tail",
        problem,
    ), problem
    out = cli(ctx, "verify", CODE, code=1)
    assert out.splitlines()[0] == f"audit trail BROKEN: {problem}"


def test_the_next_command_does_not_hide_a_truncated_tail(ctx) -> None:  # type: ignore[no-untyped-def]
    from programme import user_of

    from cdmo_workflow import service

    behind_the_engine(
        ctx,
        lambda c: c.execute(
            sa.delete(audit_events).where(audit_events.c.chain == CODE, audit_events.c.seq > 3)
        ),
    )
    service.submit_deliverable(
        ctx, CODE, "scoping", "feasibility", user_of("pm"), "DMS-F", password=PASSWORD
    )
    rep = report(ctx, CODE)
    assert rep.status == "broken"
    assert (
        rep.problems[0].startswith(f"chain {CODE} ends at seq 4, but the checkpoint of ")
        and f"records seq {ROWS} with hash" in rep.problems[0]
    ), rep.problems
    assert rep.problems[1].startswith(f"chain {CODE}: row seq 4 has hash "), rep.problems
    assert rep.problems[2].startswith(f"chain {CODE}: the checkpoints of "), rep.problems
    assert "different hashes for seq 4" in rep.problems[2]


def test_chain_delete_is_named(ctx) -> None:  # type: ignore[no-untyped-def]
    behind_the_engine(
        ctx, lambda c: c.execute(sa.delete(audit_events).where(audit_events.c.chain == CODE))
    )
    problem = only_problem(ctx)
    assert re.fullmatch(
        rf"chain {CODE} has no rows, but the checkpoint of {TIME} records seq {ROWS} with "
        r"hash [0-9a-f]{12}…: the chain was deleted or truncated",
        problem,
    ), problem
    cli(ctx, "verify", CODE, code=1)  # the chain is still known from its checkpoints


def test_truncate_is_named(ctx) -> None:  # type: ignore[no-untyped-def]
    def truncate(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("TRUNCATE audit_events")
        else:
            conn.exec_driver_sql("DELETE FROM audit_events")

    behind_the_engine(ctx, truncate)
    rep = report(ctx)
    assert rep.status == "broken"
    assert [p.split(",")[0] for p in rep.problems] == [
        f"chain {CODE} has no rows",
        "chain _system has no rows",
    ]
    assert f"records seq {ROWS} with hash" in rep.problems[0]
    assert "records seq 8 with hash" in rep.problems[1]


def test_forged_append_with_a_recomputed_hash_is_named(ctx) -> None:  # type: ignore[no-untyped-def]
    def forge(conn: Connection) -> None:
        head = rows_of_typed(conn, CODE)[-1]
        fields = {
            **{k: head[k] for k in ("chain", "at", "actor", "outcome", "rule", "reason")},
            "seq": head["seq"] + 1,
            "action": "gate.sign",
            "subject": "scoping-complete#1",
            "old": None,
            "new": {"user": "qa-user", "decision": "go"},
            "events": [],
        }
        digest = record_hash(fields, head["hash"])
        conn.execute(sa.insert(audit_events).values(**fields, prev_hash=head["hash"], hash=digest))

    behind_the_engine(ctx, forge)
    assert {c.chain: c.ok for c in report(ctx).chains} == {CODE: False, "_system": True}
    problem = only_problem(ctx)
    assert problem.startswith(
        f"chain {CODE}: row seq {ROWS + 1} is newer than its last checkpoint (seq {ROWS}, "
    ), problem
    assert problem.endswith(
        "written without the engine (a forged append) or its checkpoint was lost"
    )


def test_fully_recomputed_chain_is_named(ctx) -> None:  # type: ignore[no-untyped-def]
    def rewrite(conn: Connection) -> None:
        rows = rows_of_typed(conn, CODE)
        target = rows[1]
        new = dict(target["new"])
        new["evidence"] = "DMS-FORGED"
        conn.execute(
            sa.update(audit_events).where(audit_events.c.id == target["id"]).values(new=new)
        )
        rehash_from(conn, CODE, 2)

    behind_the_engine(ctx, rewrite)
    with ctx.db.unit_of_work(read_only=True) as uow:  # the hash chain alone is fooled
        from cdmo_workflow import audit

        assert audit.verify(uow, CODE).ok
    problem = only_problem(ctx)
    assert re.fullmatch(
        rf"chain {CODE}: row seq 2 has hash [0-9a-f]{{12}}…, but the checkpoint of {TIME} "
        r"records hash [0-9a-f]{12}… for seq 2: the chain was rewritten from there on",
        problem,
    ), problem


def test_reorder_is_named(ctx) -> None:  # type: ignore[no-untyped-def]
    def swap(conn: Connection) -> None:
        c = audit_events.c
        rows = rows_of_typed(conn, CODE)
        a, b = rows[2], rows[3]
        conn.execute(sa.update(audit_events).where(c.id == a["id"]).values(seq=-1))
        conn.execute(sa.update(audit_events).where(c.id == b["id"]).values(seq=3))
        conn.execute(sa.update(audit_events).where(c.id == a["id"]).values(seq=4))

    behind_the_engine(ctx, swap)
    problem = only_problem(ctx)
    assert re.fullmatch(
        rf"chain {CODE}: row seq 3 \(id \d+\) does not link to the row before it: rows were "
        r"deleted, inserted or reordered there",
        problem,
    ), problem


def test_middle_edit_is_named(ctx) -> None:  # type: ignore[no-untyped-def]
    def edit(conn: Connection) -> None:
        rows = rows_of_typed(conn, CODE)
        conn.execute(
            sa.update(audit_events)
            .where(audit_events.c.id == rows[2]["id"])
            .values(actor="someone-else")
        )

    behind_the_engine(ctx, edit)
    problem = only_problem(ctx)
    assert re.fullmatch(
        rf"chain {CODE}: row seq 3 \(id \d+\) does not match its hash: it was changed after it "
        "was written",
        problem,
    ), problem


def test_middle_delete_is_named(ctx) -> None:  # type: ignore[no-untyped-def]
    behind_the_engine(
        ctx,
        lambda c: c.execute(
            sa.delete(audit_events).where(audit_events.c.chain == CODE, audit_events.c.seq == 3)
        ),
    )
    problem = only_problem(ctx)
    assert re.match(rf"chain {CODE}: row id \d+ has seq 4 where seq 3 was expected", problem)


def test_lost_checkpoints_are_never_intact(ctx) -> None:  # type: ignore[no-untyped-def]
    lose_checkpoints(ctx)
    rep = report(ctx)
    assert rep.status == "no checkpoints" and not rep.ok
    assert rep.problems[0].startswith(f"no checkpoints in {ctx.settings.checkpoint_dir}")
    out = cli(ctx, "verify", code=1)
    assert (
        out.strip() == f"audit trail NOT verified: no checkpoints in {ctx.settings.checkpoint_dir}"
    )
    data = json.loads(cli(ctx, "verify", "--json", code=1))
    assert data["status"] == "no checkpoints" and data["ok"] is False
    one = cli(ctx, "verify", CODE, code=1)
    assert one.strip() == (
        f"audit trail NOT verified: no checkpoints for chain {CODE} in "
        f"{ctx.settings.checkpoint_dir}"
    )
    ctx.settings.checkpoint_dir.mkdir(parents=True)  # an empty folder is no better
    assert report(ctx).status == "no checkpoints"


def test_an_edited_checkpoint_fails_its_signature(ctx) -> None:  # type: ignore[no-untyped-def]
    path = ctx.settings.checkpoint_dir / f"{CODE}.jsonl"
    lines = path.read_text().splitlines()
    cp = json.loads(lines[-1])
    cp["hash"] = "0" * 64
    lines[-1] = json.dumps(cp)
    path.write_text("\n".join(lines) + "\n")
    problem = only_problem(ctx)
    assert problem.startswith(
        f"the checkpoint on line {ROWS} of {CODE}.jsonl (chain {CODE}, seq {ROWS}) has a bad "
        "signature (key "
    ), problem


def test_json_names_every_chain(ctx) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli(ctx, "verify", "--json", code=0))
    assert data["status"] == "intact"
    assert {c["chain"]: c["rows"] for c in data["chains"]} == {CODE: ROWS, "_system": 8}
    assert "error: " in cli(ctx, "verify", "NOPE", code=1)
