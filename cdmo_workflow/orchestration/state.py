"""Small read-only queries the Prefect layer needs (no Prefect imports).

Everything a gate-review run shows or decides is read from the project database: the run
itself holds no state between suspends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.project import Project
from ..domain.records import ProjectState, ReviewState, iso


@dataclass(frozen=True)
class Attempt:
    """The latest sign-off attempt on a gate, as the audit trail recorded it."""

    seq: int
    at: datetime
    actor: str
    outcome: str
    rule: str | None
    reason: str | None


def last_seq(ctx: Any, code: str) -> int:
    """The last audit sequence number of the project's chain (0 for none)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        rec = uow.audit.last(code)
        return rec.seq if rec is not None else 0


def resume_epoch(ctx: Any, code: str) -> int:
    """Audit seq of the project's last accepted resume (0 if never resumed)."""
    import sqlalchemy as sa

    from ..store import tables as t

    c = t.audit_events.c
    stmt = sa.select(sa.func.max(c.seq)).where(
        c.chain == code, c.action == "project.resume", c.outcome == "accepted"
    )
    with ctx.db.unit_of_work(read_only=True) as uow:
        return int(uow.session.execute(stmt).scalar() or 0)


def last_attempt(ctx: Any, code: str, gate: str, window: int = 200) -> Attempt | None:
    """The latest ``gate.sign`` row (accepted or refused) for ``gate`` in the last rows."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        last = uow.audit.last(code)
        if last is None:
            return None
        rows = uow.audit.list(code, after_seq=max(0, last.seq - window))
    for rec in reversed(rows):
        if rec.action != "gate.sign":
            continue
        if rec.subject == gate or rec.subject.startswith(f"{gate}#"):
            return Attempt(rec.seq, rec.at, rec.actor, rec.outcome, rec.rule, rec.reason)
    return None


def audit_summary(ctx: Any, code: str, last: int = 8) -> dict[str, Any]:
    """Counts of accepted and refused commands, the latest rows and the chain verification."""
    import sqlalchemy as sa

    from .. import audit
    from ..store import tables as t

    c = t.audit_events.c
    with ctx.db.unit_of_work(read_only=True) as uow:
        counts = dict(
            uow.session.execute(
                sa.select(c.outcome, sa.func.count()).where(c.chain == code).group_by(c.outcome)
            ).all()
        )
        tail = []
        rec = uow.audit.last(code)
        if rec is not None:
            tail = uow.audit.list(code, after_seq=max(0, rec.seq - last))
    result = audit.verify(ctx.db.engine, code)
    return {
        "accepted": int(counts.get("accepted", 0)),
        "refused": int(counts.get("refused", 0)),
        "verified": bool(result.ok),
        "checked": result.checked,
        "first_broken": result.first_broken,
        "last": [
            {
                "seq": r.seq,
                "at": iso(r.at),
                "actor": r.actor,
                "action": r.action,
                "subject": r.subject,
                "outcome": r.outcome,
                "rule": r.rule,
            }
            for r in tail
        ],
    }


def review_is_live(project: Project, gate: str, review: int) -> bool:
    """True while the run for (gate, review) must keep waiting: open review, active project."""
    if project.state != ProjectState.ACTIVE:
        return False
    r = project.open_review(gate)
    return r is not None and r.number == review and r.state == ReviewState.OPEN


def user_names(ctx: Any) -> dict[str, str]:
    """user id → printed name, for descriptions and artifacts."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        return {u.user_id: u.name for u in uow.users.list()}


# ---------------------------------------------------------------- bulk reads (reconcile)
# Read queries for the reconcile pass over every open gate at once. They belong in a store
# repository (``uow.projects`` / ``uow.audit``); they live here until the store grows them.


@dataclass(frozen=True)
class LiveReview:
    """One open gate review of an active project, as the projects table lists it."""

    project: str
    customer: str
    gate: str
    review: int


def live_reviews(ctx: Any) -> dict[tuple[str, str, int], LiveReview]:
    """(project, gate, review) → :class:`LiveReview` for every open review of every active
    project: one query over the projects table's listing summary (no document load)."""
    import sqlalchemy as sa

    from ..store import tables as t

    p = t.projects.c
    stmt = sa.select(p.code, p.customer, p.summary).where(p.state == ProjectState.ACTIVE.value)
    out: dict[tuple[str, str, int], LiveReview] = {}
    with ctx.db.unit_of_work(read_only=True) as uow:
        for code, customer, summary in uow.session.execute(stmt):
            for g in (summary or {}).get("open_gates", []):
                key = (code, str(g["gate"]), int(g["review"]))
                out[key] = LiveReview(code, customer, key[1], key[2])
    return out


def open_review_count(ctx: Any, code: str) -> int:
    """Open gate reviews of one active project (0 otherwise): one primary-key read."""
    import sqlalchemy as sa

    from ..store import tables as t

    p = t.projects.c
    stmt = sa.select(p.state, p.summary).where(p.code == code)
    with ctx.db.unit_of_work(read_only=True) as uow:
        row = uow.session.execute(stmt).first()
    if row is None or row[0] != ProjectState.ACTIVE.value:
        return 0
    return len((row[1] or {}).get("open_gates", []))


def project_states(ctx: Any, codes: set[str]) -> dict[str, str]:
    """project code → state, for the given codes (missing codes are absent)."""
    import sqlalchemy as sa

    from ..store import tables as t

    if not codes:
        return {}
    p = t.projects.c
    out: dict[str, str] = {}
    with ctx.db.unit_of_work(read_only=True) as uow:
        for chunk in _chunks(sorted(codes), 500):
            stmt = sa.select(p.code, p.state).where(p.code.in_(chunk))
            out.update({c: s for c, s in uow.session.execute(stmt)})
    return out


def last_seqs(ctx: Any, codes: set[str] | None = None) -> dict[str, int]:
    """project code → last audit sequence number (one grouped query)."""
    import sqlalchemy as sa

    from ..store import tables as t

    c = t.audit_events.c
    stmt = sa.select(c.chain, sa.func.max(c.seq)).group_by(c.chain)
    with ctx.db.unit_of_work(read_only=True) as uow:
        rows = {chain: int(seq or 0) for chain, seq in uow.session.execute(stmt)}
    return rows if codes is None else {k: v for k, v in rows.items() if k in codes}


def resume_epochs(ctx: Any) -> dict[str, int]:
    """project code → audit seq of its last accepted resume (absent: never resumed)."""
    import sqlalchemy as sa

    from ..store import tables as t

    c = t.audit_events.c
    stmt = (
        sa.select(c.chain, sa.func.max(c.seq))
        .where(c.action == "project.resume", c.outcome == "accepted")
        .group_by(c.chain)
    )
    with ctx.db.unit_of_work(read_only=True) as uow:
        return {chain: int(seq or 0) for chain, seq in uow.session.execute(stmt)}


def _chunks(items: list[str], n: int) -> list[list[str]]:
    return [items[i : i + n] for i in range(0, len(items), n)]
