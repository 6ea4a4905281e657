"""Errors raised by the store. One root, each error carrying its facts as attributes."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every store error."""


class ConcurrentUpdate(StoreError):
    """Another unit of work changed the same row (project version, audit chain, key) first.

    The caller rolls back and retries the whole command against the fresh state.
    """

    def __init__(self, code: str, expected_version: int | None = None, detail: str = "") -> None:
        self.code = code
        self.expected_version = expected_version
        self.detail = detail
        msg = f"concurrent update of {code!r}"
        if expected_version is not None:
            msg += f" (expected version {expected_version})"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class DuplicateProject(StoreError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"project {code!r} already exists")


class DuplicateUser(StoreError):
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(f"user {user_id!r} already exists (user ids are never reused)")


class UnknownUser(StoreError):
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(f"no user {user_id!r}")


class DatabaseUnavailable(StoreError):
    """The database cannot be reached. The message holds no password and no traceback."""

    def __init__(self, url_masked: str, reason: str) -> None:
        self.url_masked = url_masked
        self.reason = reason
        super().__init__(f"database unavailable at {url_masked}: {reason}")
