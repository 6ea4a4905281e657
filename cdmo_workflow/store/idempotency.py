"""``uow.idempotency``: the result of every command under its idempotency key."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session

from cdmo_workflow.store import tables as t
from cdmo_workflow.store.errors import ConcurrentUpdate
from cdmo_workflow.store.sql import Clock, json_ready


class IdempotencyRepository:
    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def get(self, key: str) -> dict[str, Any] | None:
        c = t.idempotency_keys.c
        row = self._s.execute(sa.select(c.result).where(c.key == key)).first()
        if row is None:
            return None
        return row.result if isinstance(row.result, dict) else {"result": row.result}

    def put(self, key: str, command: str, project: str | None, result: dict[str, Any]) -> None:
        try:
            self._s.execute(
                sa.insert(t.idempotency_keys).values(
                    key=key,
                    command=command,
                    project=project,
                    result=json_ready(result),
                    created_at=self._now(),
                )
            )
        except exc.IntegrityError:
            raise ConcurrentUpdate(key, None, "idempotency key already used") from None
