"""Sign-in sessions and one-time codes. Only hashes of tokens and codes are ever stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cdmo_workflow.store import tables as t

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class StoredSession:
    token_hash: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class StoredCode:
    code_hash: str
    user_id: str
    purpose: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


class SessionRepository:
    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def add(self, token_hash: str, user_id: str, expires_at: datetime) -> None:
        now = self._now()
        self._s.execute(
            sa.insert(t.sessions).values(
                token_hash=token_hash,
                user_id=user_id,
                created_at=now,
                last_used_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
        )

    def get(self, token_hash: str) -> StoredSession | None:
        c = t.sessions.c
        row = self._s.execute(sa.select(t.sessions).where(c.token_hash == token_hash))
        found = row.mappings().first()
        return StoredSession(**found) if found is not None else None

    def touch(self, token_hash: str) -> None:
        c = t.sessions.c
        self._s.execute(
            sa.update(t.sessions).where(c.token_hash == token_hash).values(last_used_at=self._now())
        )

    def revoke(self, token_hash: str) -> bool:
        c = t.sessions.c
        result = self._s.execute(
            sa.update(t.sessions)
            .where(c.token_hash == token_hash, c.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        return bool(getattr(result, "rowcount", 0))

    def revoke_all(self, user_id: str) -> int:
        """End every live session of ``user_id`` (lockout, deactivation, password change)."""
        c = t.sessions.c
        result = self._s.execute(
            sa.update(t.sessions)
            .where(c.user_id == user_id, c.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        return int(getattr(result, "rowcount", 0) or 0)


class OneTimeCodeRepository:
    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def add(self, code_hash: str, user_id: str, purpose: str, expires_at: datetime) -> None:
        """A new code; any earlier unused code of the user for any purpose stops working."""
        c = t.one_time_codes.c
        now = self._now()
        self._s.execute(
            sa.update(t.one_time_codes)
            .where(c.user_id == user_id, c.used_at.is_(None))
            .values(used_at=now)
        )
        self._s.execute(
            sa.insert(t.one_time_codes).values(
                code_hash=code_hash,
                user_id=user_id,
                purpose=purpose,
                created_at=now,
                expires_at=expires_at,
                used_at=None,
            )
        )

    def live(self, user_id: str) -> StoredCode | None:
        """The user's one unused code, if any (expired or not: the caller checks)."""
        c = t.one_time_codes.c
        row = self._s.execute(
            sa.select(t.one_time_codes)
            .where(c.user_id == user_id, c.used_at.is_(None))
            .order_by(c.created_at.desc())
            .limit(1)
        )
        found = row.mappings().first()
        return StoredCode(**found) if found is not None else None

    def use(self, code_hash: str) -> None:
        c = t.one_time_codes.c
        self._s.execute(
            sa.update(t.one_time_codes).where(c.code_hash == code_hash).values(used_at=self._now())
        )
