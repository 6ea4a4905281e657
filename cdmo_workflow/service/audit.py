"""Reading the audit trail: verify the chains, export a project's trail."""

from __future__ import annotations

from typing import Any, Literal

from cdmo_workflow.domain.errors import NotFound
from cdmo_workflow.domain.project import Change
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import SYSTEM_CHAIN, Command, Step, execute


def _require_chain(ctx: Context, code: str | None) -> None:
    if code is None or code == SYSTEM_CHAIN:
        return
    with ctx.db.unit_of_work(read_only=True) as uow:
        if uow.projects.get(code) is None:
            raise NotFound("project", code, "see `cdmo project list`")


def verify_audit(ctx: Context, code: str | None = None, *, deep: bool = False) -> Any:
    """Each chain (or one) against its signed checkpoints; ``deep`` replays the documents."""
    from cdmo_workflow import audit

    _require_chain(ctx, code)
    return audit.verify_all(ctx.db, ctx.settings, code, deep=deep)


def export_audit(ctx: Context, code: str, fmt: Literal["csv", "json"]) -> str:
    from cdmo_workflow import audit

    _require_chain(ctx, code)
    return audit.export(ctx.db.engine, code, fmt)


def rotate_audit_key(
    ctx: Context, by: str, *, password: str | None = None, session: str | None = None
) -> CommandResult:
    """An administrator replaces the checkpoint signing key; old public keys stay in the
    keyring, so older checkpoints still verify. ``result.data`` names both keys."""
    from pathlib import Path

    from cdmo_workflow.audit.keys import (
        KEYS_FILE,
        add_to_keyring,
        keyring_path,
        load_or_create,
        rotate,
    )

    def apply(step: Step) -> Change:
        s = ctx.settings
        old, new = rotate(s.audit_key_file)
        key = load_or_create(s.audit_key_file)
        Path(s.checkpoint_dir).mkdir(parents=True, exist_ok=True)
        add_to_keyring(Path(s.checkpoint_dir) / KEYS_FILE, key.public)
        for listener in getattr(ctx.db, "commit_listeners", []):  # sign with the new key
            getattr(listener, "reload", lambda: None)()
        keyring = str(keyring_path(s.audit_key_file))
        step.data.update(old_key=old, new_key=new, keyring=keyring)
        return Change("audit.rotate-key", new, {"key": old}, {"key": new, "keyring": keyring})

    return execute(
        ctx,
        Command("audit.rotate-key", Credential(by, password, session), "audit-key", {}, apply),
    )
