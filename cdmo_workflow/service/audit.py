"""Reading the audit trail: verify the chains, export a project's trail."""

from __future__ import annotations

from typing import Any, Literal

from cdmo_workflow.domain.errors import NotFound
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.runner import SYSTEM_CHAIN


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
