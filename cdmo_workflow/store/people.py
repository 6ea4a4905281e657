"""What the people commands read and write: delegations, and the projects a person is on.

``uow.delegations`` keeps the ``delegations`` table (a row is revoked, never deleted or
edited otherwise); ``uow.people`` finds the projects whose team names a person, from the
listing summary (``Project.summary()["people"]``) before it reads any document, so a task
list reads the documents of that person's projects only.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cdmo_workflow.domain.delegation import Delegation
from cdmo_workflow.store.tables import delegations, projects

Clock = Callable[[], datetime]

_CHUNK = 500


def _of(row: Any) -> Delegation:
    return Delegation(
        id=f"D{row.id}",
        delegator=row.delegator,
        delegate=row.delegate,
        role=row.role,
        project=row.project,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        granted_by=row.granted_by,
        granted_at=row.granted_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
    )


def number_of(delegation_id: str) -> int | None:
    """``D7`` (or ``7``) -> 7; None for anything else."""
    text = delegation_id.strip()
    text = text[1:] if text[:1] in ("D", "d") else text
    return int(text) if text.isdigit() and len(text) <= 9 else None


class DelegationRepository:
    """``uow.delegations``."""

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def add(self, d: Delegation) -> Delegation:
        """Insert ``d`` (its ``id`` is ignored); returns it with the id the table gave it."""
        c = delegations.c
        new_id = self._s.execute(
            sa.insert(delegations)
            .values(
                delegator=d.delegator,
                delegate=d.delegate,
                role=d.role,
                project=d.project,
                starts_at=d.starts_at,
                ends_at=d.ends_at,
                reason=d.reason,
                granted_by=d.granted_by,
                granted_at=d.granted_at,
            )
            .returning(c.id)
        ).scalar_one()
        return self.get(f"D{new_id}") or d

    def get(self, delegation_id: str) -> Delegation | None:
        number = number_of(delegation_id)
        if number is None:
            return None
        row = self._s.execute(sa.select(delegations).where(delegations.c.id == number)).first()
        return _of(row) if row is not None else None

    def revoke(self, d: Delegation) -> None:
        """Record the revocation ``d`` carries (``revoked_at``, ``revoked_by``, reason)."""
        number = number_of(d.id)
        self._s.execute(
            sa.update(delegations)
            .where(delegations.c.id == number, delegations.c.revoked_at.is_(None))
            .values(revoked_at=d.revoked_at, revoked_by=d.revoked_by, revoke_reason=d.revoke_reason)
        )

    def of(self, users: Iterable[str] | None = None) -> builtins.list[Delegation]:
        """Delegations given or received by ``users`` (every one when None), oldest first."""
        c = delegations.c
        stmt = sa.select(delegations).order_by(c.id)
        if users is not None:
            wanted = sorted(set(users))
            if not wanted:
                return []
            stmt = stmt.where(sa.or_(c.delegator.in_(wanted), c.delegate.in_(wanted)))
        return [_of(r) for r in self._s.execute(stmt)]

    def by_delegator(self, delegator: str, role: str) -> builtins.list[Delegation]:
        """Every delegation ``delegator`` gave for ``role`` (the overlap check reads them)."""
        c = delegations.c
        stmt = sa.select(delegations).where(c.delegator == delegator, c.role == role).order_by(c.id)
        return [_of(r) for r in self._s.execute(stmt)]

    def between(self, delegator: str, delegate: str) -> builtins.list[Delegation]:
        """Every delegation from ``delegator`` to ``delegate`` (a signature picks one)."""
        c = delegations.c
        stmt = (
            sa.select(delegations)
            .where(c.delegator == delegator, c.delegate == delegate)
            .order_by(c.id)
        )
        return [_of(r) for r in self._s.execute(stmt)]


class PeopleRepository:
    """``uow.people``: the projects whose team names one of some people."""

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def project_codes(
        self, users: Iterable[str] | None, states: Sequence[str] = ("active", "on-hold")
    ) -> builtins.list[str]:
        """Codes of the projects in ``states`` whose listing summary names one of ``users``
        (every one when None); a project stored before summaries named people is kept."""
        p = projects.c
        wanted = None if users is None else set(users)
        out: list[str] = []
        query = sa.select(p.code, p.summary).where(p.state.in_(list(states))).order_by(p.code)
        for code, summary in self._s.execute(query):
            people = (summary or {}).get("people")
            if wanted is None or people is None or wanted & set(people):
                out.append(code)
        return out

    def documents(self, codes: Sequence[str]) -> builtins.list[tuple[dict[str, Any], str]]:
        """(document, version_hash) of ``codes``, in code order, read in chunks."""
        p = projects.c
        out: list[tuple[dict[str, Any], str]] = []
        for start in range(0, len(codes), _CHUNK):
            chunk = list(codes[start : start + _CHUNK])
            stmt = sa.select(p.document, p.version_hash).where(p.code.in_(chunk)).order_by(p.code)
            out.extend((r.document, r.version_hash) for r in self._s.execute(stmt))
        return out
