"""The signing key (0600, created once), rotation with old keys still verifying, the commit
listeners of the unit of work, and the markdown of the latest heads for the reconcile."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from audit_support import CODE, open_ctx, report, small_trail
from programme import PASSWORD, user_of
from typer.testing import CliRunner

from cdmo_workflow import service
from cdmo_workflow.audit import keys
from cdmo_workflow.audit.heads import heads_markdown, latest_heads
from cdmo_workflow.cli import app
from cdmo_workflow.store import AuditHead, Database


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit-key.pem"
    first = keys.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    again = keys.load_or_create(path)
    assert again.fingerprint == first.fingerprint and len(first.fingerprint) == 16
    ring = keys.read_keyring(keys.keyring_path(path))
    assert list(ring) == [first.fingerprint]
    message = b"checkpoint"
    assert ring[first.fingerprint].verify(first.sign(message), message)
    assert not ring[first.fingerprint].verify(first.sign(message), b"other")
    path.write_text("not a key\n")
    with pytest.raises(keys.AuditKeyError, match="is not a PEM private key"):
        keys.load_or_create(path)


def test_rotation_keeps_old_checkpoints_verifiable(sqlite_url: str) -> None:
    ctx = open_ctx(sqlite_url)
    small_trail(ctx, CODE, 3)
    old = report(ctx).keys
    service.provision_user(ctx, "keyadmin", "Kay Admin", ["admin"], PASSWORD)
    env = {
        "CDMO_DATABASE_URL": sqlite_url,
        "CDMO_CHECKPOINT_DIR": str(ctx.settings.checkpoint_dir),
        "CDMO_AUDIT_KEY_FILE": str(ctx.settings.audit_key_file),
        "CDMO_PASSWORD": PASSWORD,
    }
    refused = CliRunner().invoke(
        app, ["audit", "rotate-key", "--by", user_of("pm")], env=env, catch_exceptions=False
    )
    assert refused.exit_code == 1 and "not-admin" in refused.output
    assert report(ctx).keys == old  # nothing rotated
    out = CliRunner().invoke(
        app, ["audit", "rotate-key", "--by", "keyadmin"], env=env, catch_exceptions=False
    )
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"audit key rotated: {old[0]} → ")
    new = out.output.split("→ ")[1].split(";")[0]
    fresh = open_ctx(sqlite_url)  # a new process would load the new key
    service.submit_deliverable(
        fresh, CODE, "scoping", "feasibility", user_of("pm"), "DMS-F", password=PASSWORD
    )
    rep = report(fresh)
    assert rep.ok, rep.problems  # the old key's checkpoints still verify
    assert rep.keys == sorted([old[0], new])
    pinned = report_pinned(fresh, frozenset({new}))
    assert (
        not pinned.ok
        and f"is signed by key {old[0]}, not by the expected {new}" in (pinned.problems[0])
    )
    assert report_pinned(fresh, frozenset({new, old[0]})).ok
    lines = (ctx.settings.checkpoint_dir / f"{CODE}.jsonl").read_text().splitlines()
    assert [json.loads(x)["key"] for x in lines] == [old[0]] * 3 + [new]
    ring = keys.read_keyring(keys.keyring_path(ctx.settings.audit_key_file))
    assert set(ring) == {old[0], new}
    with fresh.db.unit_of_work() as uow:
        rotated = [
            r
            for r in uow.audit.rows("_system")
            if r["action"] == "audit.rotate-key" and r["outcome"] == "accepted"
        ]
    assert rotated and rotated[0]["new"]["key"] == new and rotated[0]["old"] == {"key": old[0]}


def report_pinned(ctx: service.Context, keys_: frozenset[str]) -> Any:
    from cdmo_workflow import audit

    return audit.verify_all(ctx.db, ctx.settings, expect_keys=keys_)


def test_listeners_see_each_chains_newest_head_after_commit_only(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[list[AuditHead]] = []

    def listener(heads: Sequence[AuditHead]) -> None:
        seen.append(list(heads))

    def broken(heads: Sequence[Any]) -> None:
        raise OSError("disk full")

    db = Database(database.url, commit_listeners=[broken, listener])
    with db.unit_of_work() as uow:
        uow.audit.append("A", "x", "a", "s")
        uow.audit.append("A", "x", "a", "s")
        uow.audit.append("B", "x", "a", "s")
        # not committed: rolled back, nobody told
    assert seen == []
    with caplog.at_level(logging.ERROR, logger="cdmo_workflow.store"), db.unit_of_work() as uow:
        uow.audit.append("A", "x", "a", "s")
        uow.audit.append("A", "x", "a", "s")
        rec = uow.audit.append("B", "x", "a", "s")
        uow.commit()
    assert [(h.chain, h.seq) for h in seen[0]] == [("A", 2), ("B", 1)]
    assert seen[0][1].hash == rec.hash
    assert "commit listener" in caplog.text  # the failing one is logged, the commit stands
    with db.unit_of_work() as uow:
        uow.users.list()
        uow.commit()  # no audit rows: no call
    assert len(seen) == 1


def test_heads_markdown_for_the_reconcile_artifact(sqlite_url: str) -> None:
    ctx = open_ctx(sqlite_url)
    small_trail(ctx, CODE, 3)
    heads = {h["chain"]: h for h in latest_heads(ctx.settings.checkpoint_dir)}
    assert heads[CODE]["seq"] == 3 and heads["_system"]["seq"] == 8
    md = heads_markdown(ctx.settings.checkpoint_dir)
    assert "| Chain | Seq | Head hash | Signed at (UTC) | Key |" in md
    assert f"| {CODE} | 3 | `{heads[CODE]['hash']}` |" in md
    assert "**No checkpoints.**" in heads_markdown(ctx.settings.checkpoint_dir / "missing")


def test_store_no_longer_imports_the_audit_package() -> None:
    import ast

    import cdmo_workflow.store as store

    store_dir = Path(store.__file__).parent
    chain = ast.parse((store_dir / "audit_trail.py").read_text())
    assert "cdmo_workflow.hashing" in {
        n.module for n in ast.walk(chain) if isinstance(n, ast.ImportFrom)
    }
    for path in store_dir.glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m and m.startswith("cdmo_workflow.audit") for m in modules), path.name
    audit_dir = store_dir.parent / "audit"
    for path in audit_dir.glob("*.py"):
        text = path.read_text()
        assert "store.tables" not in text and "sa.select" not in text, path.name


def test_concurrent_commits_leave_every_row_covered(database: Database, tmp_path: Path) -> None:
    """Writers racing on one chain: checkpoint lines may land out of seq order; all verify."""
    import threading

    from cdmo_workflow.audit import CheckpointWriter, check_database
    from cdmo_workflow.store import ConcurrentUpdate

    cps, key = tmp_path / "cps", tmp_path / "key.pem"
    db = Database(database.url, commit_listeners=[CheckpointWriter(cps, key)])

    def worker(n: int) -> None:
        done = 0
        while done < 15:
            try:
                with db.unit_of_work() as uow:
                    uow.audit.append("RACE", f"w{n}", "x", "s")
                    uow.commit()
                done += 1
            except ConcurrentUpdate:
                continue

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rep = check_database(db, cps, key, "RACE")
    assert rep.ok, rep.problems
    assert rep.chains[0].rows == 60 and rep.chains[0].checkpoints == 60
