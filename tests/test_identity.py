"""Credentials: scrypt hashes, password rules, authentication and lockout (both databases)."""

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
    record_failed_sign_in,
    verify_password,
)
from cdmo_workflow.store import Database, DuplicateUser

PASSWORD = "correct horse battery"


def test_hash_format_and_verify() -> None:
    stored = hash_password(PASSWORD)
    scheme, n, r, p, salt, _key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    import base64

    assert len(base64.b64decode(salt)) == 16
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert hash_password(PASSWORD) != stored  # salted
    for broken in ("", "scrypt$1$2", "bcrypt$16384$8$1$AA==$AA==", "scrypt$x$8$1$AA==$AA=="):
        assert not verify_password(PASSWORD, broken)


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
        authenticate(uow, "jdoe", PASSWORD)  # success clears the count
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
