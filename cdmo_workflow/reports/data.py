"""Read what the reports need from the database, through the unit of work (read-only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from ..domain.project import Project
from ..spec.models import ProcessSnapshot

PORTFOLIO_STATES = ("active", "on-hold")


def parse_today(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 time; None for "now"."""
    if not text:
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"invalid date {text!r}: use YYYY-MM-DD or an ISO 8601 time such as "
            "2026-11-25T12:00:00Z"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class AuditSummary:
    """The chain verification of one project, as the reports show it."""

    ok: bool
    checked: int
    first_broken: dict[str, Any] | None


def _snapshot(uow: Any, cache: dict[str, ProcessSnapshot], version_hash: str) -> ProcessSnapshot:
    snap = cache.get(version_hash)
    if snap is None:
        from ..domain.errors import NotFound

        doc = uow.snapshots.get(version_hash)
        if doc is None:
            raise NotFound("process snapshot", version_hash)
        snap = ProcessSnapshot.model_validate(doc)
        cache[version_hash] = snap
    return snap


def load_project(ctx: Any, code: str) -> tuple[Project, datetime]:
    """The project and the database server's time (the default "today")."""
    from ..domain.errors import NotFound

    with ctx.db.unit_of_work(read_only=True) as uow:
        stored = uow.projects.get(code)
        if stored is None:
            raise NotFound("project", code, "see `cdmo project list`")
        cache: dict[str, ProcessSnapshot] = getattr(ctx, "_snapshots", {})
        snap = _snapshot(uow, cache, stored.version_hash)
        return Project.from_dict(stored.document, snap), uow.now()


def verify_chain(ctx: Any, code: str) -> AuditSummary:
    from .. import audit

    result = audit.verify(ctx.db.engine, code)
    broken = dict(result.first_broken) if result.first_broken else None
    return AuditSummary(ok=result.ok, checked=result.checked, first_broken=broken)


def load_portfolio(
    ctx: Any, states: Sequence[str] = PORTFOLIO_STATES
) -> tuple[list[Project], datetime]:
    """Every project in ``states`` (one query for the documents) and the server's time."""
    cache: dict[str, ProcessSnapshot] = getattr(ctx, "_snapshots", {})
    out: list[Project] = []
    with ctx.db.unit_of_work(read_only=True) as uow:
        for document, version_hash in uow.projects.documents(states):
            snap = _snapshot(uow, cache, version_hash)
            out.append(Project.from_dict(document, snap))
        return out, uow.now()


def load_history(ctx: Any, projects: Sequence[Project]) -> dict[str, list[float]]:
    """The site's completed runs of the phases (by id and by kind) of ``projects``, across
    every project in the database, as ratios of actual to planned length (one query)."""
    from ..domain.montecarlo import ratios

    ids: set[str] = set()
    kinds: set[str] = set()
    for project in projects:
        for pdef in project.snapshot.process.phases:
            ids.add(pdef.id)
            if pdef.kind:
                kinds.add(pdef.kind)
    with ctx.db.unit_of_work(read_only=True) as uow:
        runs = uow.history.runs(ids, kinds)
    return ratios(runs)


def load_names(ctx: Any, user_ids: Sequence[str]) -> dict[str, str]:
    """user id -> printed name, in one query (the customer report shows names, not ids)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        names: dict[str, str] = uow.users.names(user_ids)
        return names


def hold_history(ctx: Any, code: str) -> list[dict[str, Any]]:
    """Every hold of a project, from its audit trail: when, who, why, and when it ended.

    ``{held_at, by, reason, gate, resumed_at, resumed_by, resume_reason}``, oldest first;
    ``resumed_at`` is None while the hold lasts. A gate's Hold decision names the gate.
    """
    holds: list[dict[str, Any]] = []
    with ctx.db.unit_of_work(read_only=True) as uow:
        for row in uow.audit.rows(code):
            if row["outcome"] != "accepted":
                continue
            for event in row["events"] or []:
                name, data = event.get("name"), event.get("data") or {}
                if name == "project.on-hold":
                    holds.append(
                        {
                            "held_at": row["at"],
                            "by": data.get("by"),
                            "reason": data.get("reason"),
                            "gate": event.get("gate"),
                            "resumed_at": None,
                            "resumed_by": None,
                            "resume_reason": None,
                        }
                    )
                elif name == "project.resumed" and holds and holds[-1]["resumed_at"] is None:
                    holds[-1].update(
                        resumed_at=row["at"],
                        resumed_by=data.get("by"),
                        resume_reason=data.get("reason"),
                    )
    return holds
