"""Credentials: argon2id hashes (scrypt upgraded), rules, authentication and lockout."""

from __future__ import annotations

import pytest

from cdmo_workflow.identity import (
    MEANINGS,
    AuthenticationFailed,
    InvalidMeaning,
    WeakPassword,
    authenticate,
    check_meaning,
    create_user,
    hash_password,
    needs_rehash,
    record_failed_sign_in,
    verify_password,
)
from cdmo_workflow.store import Database, DuplicateUser

PASSWORD = "correct horse battery"


def test_hash_format_and_verify() -> None:
    stored = hash_password(PASSWORD)
    # OWASP's argon2id minimum: m=19 MiB, t=2, p=1
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert hash_password(PASSWORD) != stored  # salted
    assert not needs_rehash(stored)
    for broken in ("", "scrypt$1$2", "bcrypt$16384$8$1$AA==$AA==", "scrypt$x$8$1$AA==$AA==", "!"):
        assert not verify_password(PASSWORD, broken)


def test_legacy_scrypt_hashes_still_verify_and_ask_for_an_upgrade() -> None:
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    key = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    legacy = "scrypt$16384$8$1$" + base64.b64encode(salt).decode() + "$"
    legacy += base64.b64encode(key).decode()
    assert verify_password(PASSWORD, legacy)
    assert not verify_password("wrong password", legacy)
    assert needs_rehash(legacy)


def test_password_rules() -> None:
    with pytest.raises(WeakPassword) as err:
        hash_password("short")
    assert "8 characters" in str(err.value)
    with pytest.raises(WeakPassword):
        hash_password("        ")


def test_meanings() -> None:
    assert MEANINGS == ("approval", "review", "responsibility", "authorship")
    assert check_meaning("review") == "review"
    with pytest.raises(InvalidMeaning):
        check_meaning("because")


def _fail(db: Database, user_id: str, password: str) -> AuthenticationFailed:
    """A signing command that fails: its transaction rolls back, the failure is kept."""
    with pytest.raises(AuthenticationFailed) as err, db.unit_of_work() as uow:
        authenticate(uow, user_id, password)
        uow.commit()
    if err.value.reason == "wrong-password":
        with db.unit_of_work() as uow:
            attempts, locked_now = record_failed_sign_in(uow, user_id)
            uow.commit()
        err.value.attempts, err.value.locked = attempts, locked_now
    return err.value


def test_authenticate_and_lockout_after_five_failures(database: Database) -> None:
    with database.unit_of_work() as uow:
        create_user(uow, "jdoe", "Dr. Jane Doe", ["qa"], PASSWORD)
        with pytest.raises(DuplicateUser):
            create_user(uow, "jdoe", "Other", [], PASSWORD)
        uow.commit()
    with database.unit_of_work() as uow:
        assert authenticate(uow, "jdoe", PASSWORD).name == "Dr. Jane Doe"

    assert _fail(database, "ghost", PASSWORD).reason == "unknown-user"
    results = [_fail(database, "jdoe", "wrong password") for _ in range(5)]
    assert [r.reason for r in results] == ["wrong-password"] * 5
    assert [r.attempts for r in results] == [1, 2, 3, 4, 5]
    assert [r.locked for r in results] == [False] * 4 + [True]

    locked = _fail(database, "jdoe", PASSWORD)  # even the right password is refused now
    assert (locked.reason, locked.locked) == ("locked", True)

    with database.unit_of_work() as uow:
        uow.users.unlock("jdoe")
        uow.commit()
    _fail(database, "jdoe", "wrong password")
    with database.unit_of_work() as uow:
        authenticate(uow, "jdoe", PASSWORD)  # success: the runner clears the count
        uow.users.reset_failures("jdoe")
        uow.commit()
    with database.unit_of_work() as uow:
        user = uow.users.get("jdoe")
        assert user is not None and user.failed_attempts == 0 and not user.locked
        uow.users.set_active("jdoe", False)
        uow.commit()
    assert _fail(database, "jdoe", PASSWORD).reason == "inactive"


def test_error_message_does_not_reveal_which_part_was_wrong() -> None:
    a = AuthenticationFailed("x", "unknown-user", 0, False)
    b = AuthenticationFailed("x", "wrong-password", 1, False)
    assert str(a) == str(b)
