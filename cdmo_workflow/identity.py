"""Users and credentials for Part 11 signatures: argon2id passwords, re-authentication, lockout.

``authenticate`` only checks and raises. A failed attempt must be counted even though the
command that asked for the signature rolls back, so the caller records it in its own
transaction with ``record_failed_sign_in``::

    try:
        with db.unit_of_work() as uow:
            user = authenticate(uow, user_id, password)
            ...
            uow.commit()
    except AuthenticationFailed as err:
        if err.reason == "wrong-password":
            with db.unit_of_work() as uow:
                attempts, locked_now = record_failed_sign_in(uow, user_id)
                uow.audit.append(...)            # the refused attempt, who/when/why
                uow.commit()
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from argon2 import PasswordHasher
from argon2 import Type as Argon2Type
from argon2.exceptions import InvalidHashError, VerificationError

if TYPE_CHECKING:
    from cdmo_workflow.store.users import StoredUser, UserRepository


class UnitOfWork(Protocol):
    """What authentication needs of a unit of work: the users and the database clock."""

    users: UserRepository

    def now(self) -> datetime: ...


MEANINGS = ("approval", "review", "responsibility", "authorship")
MIN_PASSWORD_LENGTH = 8
LOCK_AFTER = 5


AuthReason = Literal[
    "unknown-user",
    "wrong-password",
    "locked",
    "inactive",
    "password-change-required",
    "password-expired",
    "no-password",
]


class IdentityError(Exception):
    """Root of the identity errors."""


class WeakPassword(IdentityError):
    def __init__(self, rule: str, minimum: int = MIN_PASSWORD_LENGTH) -> None:
        self.rule = rule
        self.minimum = minimum
        super().__init__(f"password refused: {rule}")


class InvalidMeaning(IdentityError):
    def __init__(self, meaning: str) -> None:
        self.meaning = meaning
        super().__init__(
            f"unknown signature meaning {meaning!r}; expected one of {', '.join(MEANINGS)}"
        )


class AuthenticationFailed(IdentityError):
    """Re-authentication failed. ``reason`` is for the audit trail; tell the user less."""

    def __init__(self, user_id: str, reason: AuthReason, attempts: int, locked: bool) -> None:
        self.user_id = user_id
        self.reason = reason
        self.attempts = attempts
        self.locked = locked
        text = {
            "unknown-user": "unknown user id or wrong password",
            "wrong-password": "unknown user id or wrong password",
            "locked": "the account is locked after repeated failed sign-ins; ask an administrator",
            "inactive": "the account is deactivated",
            "password-change-required": "the password was reset by an administrator; "
            "set a new one with `cdmo users passwd`",
            "password-expired": "the password has expired; set a new one with `cdmo users passwd`",
            "no-password": "the account has no password yet or was reset; set one with "
            "`cdmo users activate` and the one-time code sent to your notification target",
        }[reason]
        super().__init__(f"authentication failed for {user_id!r}: {text}")


# --------------------------------------------------------------------------- passwords


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"it must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() == "":
        raise WeakPassword("it must not be blank")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# OWASP Password Storage Cheat Sheet (2024/25): argon2id with m >= 19 MiB, t >= 2, p = 1.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    type=Argon2Type.ID,
)
UNUSABLE_PASSWORD = "!"
"""Stored for an account that has no password yet (enrolment) or lost it (reset)."""


def hash_password(password: str) -> str:
    """An argon2id PHC string (checks the password rules first)."""
    check_password_rules(password)
    return _hasher.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Legacy ``scrypt$N$r$p$salt$hash`` hashes; upgraded to argon2id at the next sign-in."""
    try:
        scheme, n, r, p, salt_b64, key_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(key_b64, validate=True)
        key = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key, expected)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return _verify_scrypt(password, stored)


def rehash(password: str) -> str:
    """Today's hash of a password that just verified (no rules: it is already in use)."""
    return _hasher.hash(password)


def needs_rehash(stored: str) -> bool:
    """True for hashes weaker than today's parameters (scrypt, older argon2 costs)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


# A fixed hash to check against for unknown users, so timing does not reveal which ids exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


# --------------------------------------------------------------------------- users


def create_user(
    uow: UnitOfWork, user_id: str, name: str, roles: Iterable[str], password: str
) -> StoredUser:
    """Add a user with a hashed password (``DuplicateUser`` if the id was ever used)."""
    if not user_id or not user_id.strip():
        raise IdentityError("a user id must not be empty")
    return uow.users.add(user_id, name, list(roles), hash_password(password))


def authenticate(
    uow: UnitOfWork,
    user_id: str,
    password: str,
    lock_after: int = LOCK_AFTER,
    *,
    max_age_days: int = 0,
    for_password_change: bool = False,
) -> StoredUser:
    """Check user id + password; the user, or ``AuthenticationFailed``.

    Writes nothing: the command runner clears the failure count in the command's own
    transaction and counts a failure in the refusal's.
    """
    user = uow.users.get(user_id)
    if user is None:
        verify_password(password, _DUMMY_HASH)
        raise AuthenticationFailed(user_id, "unknown-user", 0, False)
    if not user.active:
        raise AuthenticationFailed(user_id, "inactive", user.failed_attempts, user.locked)
    if user.password_hash == UNUSABLE_PASSWORD:
        verify_password(password, _DUMMY_HASH)
        raise AuthenticationFailed(user_id, "no-password", user.failed_attempts, user.locked)
    if user.locked or user.failed_attempts >= lock_after:
        raise AuthenticationFailed(user_id, "locked", user.failed_attempts, True)
    if not verify_password(password, user.password_hash):
        raise AuthenticationFailed(user_id, "wrong-password", user.failed_attempts, False)
    if not for_password_change:
        # Only a correct password learns that it must be changed (11.300(b) ageing, resets).
        if user.must_change_password:
            raise AuthenticationFailed(
                user_id, "password-change-required", user.failed_attempts, False
            )
        if max_age_days > 0 and uow.now() - user.password_changed_at > timedelta(days=max_age_days):
            raise AuthenticationFailed(user_id, "password-expired", user.failed_attempts, False)
    return user


def record_failed_sign_in(
    uow: UnitOfWork, user_id: str, lock_after: int = LOCK_AFTER
) -> tuple[int, bool]:
    """Count one failed attempt in ``uow`` (commit it!). (attempts, locked by this attempt)."""
    return uow.users.record_failure(user_id, lock_after=lock_after)


def check_meaning(meaning: str) -> str:
    if meaning not in MEANINGS:
        raise InvalidMeaning(meaning)
    return meaning


def manifestation(
    *,
    name: str,
    signed_at: str,
    meaning: str,
    user: str | None = None,
    role: str | None = None,
    decision: str | None = None,
    record_hash: str | None = None,
    on_behalf_of: str | None = None,
    on_behalf_of_name: str | None = None,
) -> str:
    """The 11.50 manifestation: printed name, UTC time, meaning (and what was signed).

    ``Signed by Dr. Jane Doe (jdoe, role qa) at 2026-11-25T12:00:00Z — meaning: approval —
    decision: go — record sha256:…``; a delegate's signature reads ``Signed by Dr. Jane Doe
    (jdoe, role qa) on behalf of Dr. Quinn Adler (quinn) at ...``.
    """
    who = ", ".join(x for x in (user, f"role {role}" if role else None) if x)
    text = f"Signed by {name}" + (f" ({who})" if who else "")
    if on_behalf_of:
        text += f" on behalf of {on_behalf_of_name or on_behalf_of} ({on_behalf_of})"
    text += f" at {signed_at}"
    text += f" — meaning: {meaning}"
    if decision:
        text += f" — decision: {decision}"
    if record_hash:
        digest = record_hash if record_hash.startswith("sha256:") else f"sha256:{record_hash}"
        text += f" — record {digest}"
    return text
