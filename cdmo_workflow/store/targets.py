"""Where notifications go: the apprise URLs stored in ``user_targets``, read for the relay.

URLs are secrets: this module hands them only to the caller that sends (``notify/relay.py``)
or to the listing, which masks them (``notify/targets.py``). Writes stay with the user
administration (``UserRepository.add_target`` / ``remove_target`` in a unit of work).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cdmo_workflow.store.tables import user_targets, users


class TargetRepository:
    """Reads of ``user_targets`` on one connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def urls_of(self, users: Iterable[str]) -> dict[str, list[str]]:
        """user id -> apprise URLs (in insertion order); every asked user is a key."""
        wanted = sorted(set(users))
        found: dict[str, list[str]] = {u: [] for u in wanted}
        if not wanted:
            return found
        query = (
            sa.select(user_targets.c.user_id, user_targets.c.url)
            .where(user_targets.c.user_id.in_(wanted))
            .order_by(user_targets.c.id)
        )
        for user_id, url in self._c.execute(query):
            found[user_id].append(url)
        return found

    def zones_of(self, user_ids: Iterable[str]) -> dict[str, str]:
        """user id -> the IANA zone the user reads times in (users without one are absent)."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        query = sa.select(users.c.user_id, users.c.time_zone).where(
            users.c.user_id.in_(wanted), users.c.time_zone.is_not(None)
        )
        return {str(u): str(z) for u, z in self._c.execute(query)}

    def all(self, user: str | None = None) -> list[tuple[int, str, str]]:
        """(id, user id, URL) of every stored target, by user then insertion (unmasked)."""
        query = sa.select(user_targets.c.id, user_targets.c.user_id, user_targets.c.url).order_by(
            user_targets.c.user_id, user_targets.c.id
        )
        if user is not None:
            query = query.where(user_targets.c.user_id == user)
        return [(int(i), str(u), str(url)) for i, u, url in self._c.execute(query)]
