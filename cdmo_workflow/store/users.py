"""``uow.users``: accounts, their credentials' hashes, roles and notification targets."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session

from cdmo_workflow.store import tables as t
from cdmo_workflow.store.errors import (
    DuplicateUser,
    UnknownUser,
)
from cdmo_workflow.store.sql import Clock


@dataclass(frozen=True)
class StoredUser:
    user_id: str
    name: str
    roles: list[str]
    password_hash: str
    password_changed_at: datetime
    failed_attempts: int
    locked: bool
    locked_at: datetime | None
    active: bool
    created_at: datetime
    must_change_password: bool = False
    time_zone: str | None = None
    """IANA zone the user reads times in (messages, reports); None is UTC."""


class UserRepository:
    """Users are never deleted and a user id is never reused (deactivate instead)."""

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def get(self, user_id: str) -> StoredUser | None:
        u = t.users.c
        row = self._s.execute(sa.select(t.users).where(u.user_id == user_id)).mappings().first()
        if row is None:
            return None
        data = dict(row)
        data["roles"] = list(data["roles"] or [])
        return StoredUser(**data)

    def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """Printed names of several users in one query (for notification messages)."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        u = t.users.c
        rows = self._s.execute(sa.select(u.user_id, u.name).where(u.user_id.in_(ids)))
        return {r.user_id: r.name for r in rows}

    def list(self) -> list[StoredUser]:
        rows = self._s.execute(sa.select(t.users).order_by(t.users.c.user_id)).mappings()
        return [StoredUser(**{**r, "roles": list(r["roles"] or [])}) for r in rows]

    def add(
        self,
        user_id: str,
        name: str,
        roles: Iterable[str],
        password_hash: str,
        time_zone: str | None = None,
    ) -> StoredUser:
        if self.get(user_id) is not None:
            raise DuplicateUser(user_id)
        now = self._now()
        values = {
            "time_zone": time_zone,
            "user_id": user_id,
            "name": name,
            "roles": list(roles),
            "password_hash": password_hash,
            "password_changed_at": now,
            "failed_attempts": 0,
            "locked": False,
            "locked_at": None,
            "active": True,
            "created_at": now,
        }
        try:
            self._s.execute(sa.insert(t.users).values(**values))
        except exc.IntegrityError:
            raise DuplicateUser(user_id) from None
        return StoredUser(**values)  # type: ignore[arg-type]

    def _update(self, user_id: str, **values: Any) -> None:
        result: Any = self._s.execute(
            sa.update(t.users).where(t.users.c.user_id == user_id).values(**values)
        )
        if result.rowcount != 1:
            raise UnknownUser(user_id)

    def record_failure(self, user_id: str, lock_after: int = 5) -> tuple[int, bool]:
        """Count a failed sign-in; lock at ``lock_after``. (attempts, locked by this call)."""
        u = t.users.c
        result: Any = self._s.execute(
            sa.update(t.users)
            .where(u.user_id == user_id)
            .values(failed_attempts=u.failed_attempts + 1)
        )
        if result.rowcount != 1:
            return (0, False)
        attempts, locked = self._s.execute(
            sa.select(u.failed_attempts, u.locked).where(u.user_id == user_id)
        ).one()
        if not locked and attempts >= lock_after:
            self._update(user_id, locked=True, locked_at=self._now())
            return (attempts, True)
        return (attempts, False)

    def reset_failures(self, user_id: str) -> None:
        self._update(user_id, failed_attempts=0)

    def unlock(self, user_id: str) -> None:
        self._update(user_id, failed_attempts=0, locked=False, locked_at=None)

    def set_password(self, user_id: str, password_hash: str, *, must_change: bool = False) -> None:
        """A new password; ``must_change`` after an administrator's reset. Also unlocks."""
        self._update(
            user_id,
            password_hash=password_hash,
            password_changed_at=self._now(),
            must_change_password=must_change,
            failed_attempts=0,
            locked=False,
            locked_at=None,
        )

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Store a stronger hash of the same password (transparent upgrade at sign-in)."""
        self._update(user_id, password_hash=password_hash)

    def any_active_with_role(self, role: str) -> bool:
        return any(u.active and role in u.roles for u in self.list())

    def set_active(self, user_id: str, active: bool) -> None:
        self._update(user_id, active=active)

    def set_roles(self, user_id: str, roles: Iterable[str]) -> None:
        self._update(user_id, roles=list(roles))

    def set_name(self, user_id: str, name: str) -> None:
        self._update(user_id, name=name)

    def set_time_zone(self, user_id: str, time_zone: str | None) -> None:
        self._update(user_id, time_zone=time_zone)

    def zones(self, user_ids: Iterable[str]) -> dict[str, str]:
        """user id -> IANA zone of the users that chose one (one query)."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        u = t.users.c
        rows = self._s.execute(
            sa.select(u.user_id, u.time_zone).where(u.user_id.in_(ids), u.time_zone.is_not(None))
        )
        return {r.user_id: r.time_zone for r in rows}

    def targets(self, user_id: str) -> builtins.list[str]:
        c = t.user_targets.c
        return list(
            self._s.execute(sa.select(c.url).where(c.user_id == user_id).order_by(c.id)).scalars()
        )

    def add_target(self, user_id: str, url: str) -> None:
        """Add an apprise URL (a secret: never logged; display it with ``mask_target``)."""
        if self.get(user_id) is None:
            raise UnknownUser(user_id)
        if url in self.targets(user_id):
            return
        self._s.execute(
            sa.insert(t.user_targets).values(user_id=user_id, url=url, created_at=self._now())
        )

    def remove_target(self, user_id: str, url: str) -> bool:
        c = t.user_targets.c
        result: Any = self._s.execute(
            sa.delete(t.user_targets).where(c.user_id == user_id, c.url == url)
        )
        return bool(result.rowcount)


def mask_target(url: str) -> str:
    """Show an apprise URL without its secrets: scheme and the first characters only."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    return f"{scheme}://{rest[:3]}***" if len(rest) > 6 else f"{scheme}://***"
