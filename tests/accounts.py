"""Accounts for tests, made the way a site makes them: `cdmo admin init`, then `users add` by
the administrator, the one-time code delivered to a real HTTP receiver, `users activate`.

``enrol_cli`` drives the CLI (typer's runner, in-process); ``seed`` uses the library's
provisioning path for tests that are about something else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tests.notify.receivers import JsonReceiver

CODE = re.compile(r"one-time code is ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})")


def code_in(message: Any) -> str:
    """The one-time code in a message the receiver got (apprise json: title + message)."""
    body = message.body if hasattr(message, "body") else message
    text = f"{body.get('title', '')}\n{body.get('message', '')}"
    found = CODE.search(text)
    assert found, f"no one-time code in {text!r}"
    return found.group(1)


def codes_by_user(receiver: JsonReceiver, count: int) -> dict[str, str]:
    """user id -> latest code, from messages posted to ``/<user id>`` paths."""
    out: dict[str, str] = {}
    for m in receiver.wait_for(count):
        text = f"{m.body.get('title', '')}\n{m.body.get('message', '')}"
        if CODE.search(text):
            out[m.path.strip("/")] = code_in(m)
    return out


def enrol_cli(
    cdmo: Callable[..., str],
    users: Mapping[str, tuple[str, Sequence[str]]],
    password: str,
    *,
    admin: str = "admin1",
    admin_name: str = "Ada Admin",
) -> JsonReceiver:
    """Create ``admin`` with ``admin init`` and every other user through the real enrolment.

    ``cdmo(*args, env={...})`` runs one command (exit 0 expected). Returns the running
    receiver (stop it when done); every user's target is ``receiver.url('/<user id>')``.
    """
    receiver = JsonReceiver().start()
    cdmo("admin", "init", admin, "--name", admin_name, env={"CDMO_PASSWORD": password})
    others = {u: v for u, v in users.items() if u != admin}
    for uid, (name, roles) in others.items():
        args = ["users", "add", uid, "--name", name, "--by", admin]
        for r in roles:
            args += ["--role", r]
        args += ["--notify", receiver.url(f"/{uid}")]
        cdmo(*args, env={"CDMO_PASSWORD": password})
    cdmo("notify", "relay", "--once")
    codes = codes_by_user(receiver, len(others))
    assert set(codes) == set(others), f"codes for {sorted(codes)}, wanted {sorted(others)}"
    for uid, code in codes.items():
        cdmo(
            "users",
            "activate",
            uid,
            env={"CDMO_ONE_TIME_CODE": code, "CDMO_NEW_PASSWORD": password},
        )
    return receiver


def seed(
    ctx: Any, users: Mapping[str, tuple[str, Sequence[str]]], password: str, **targets: Any
) -> None:
    """Provision accounts with a known password (library path, for tests about other things)."""
    from cdmo_workflow import service

    for uid, (name, roles) in users.items():
        service.provision_user(ctx, uid, name, list(roles), password, targets.get(uid, ()))


# ---------------------------------------------------------------------- hostile-input tests

PASSWORD = "bad-input-password-1"
ADMIN = "site-admin"

Run = Callable[[list[str], dict[str, str]], tuple[int, str]]


def user_add_args(
    user_id: str, name: str, roles: Sequence[str], notify: Sequence[str] = ()
) -> list[str]:
    """`cdmo users add` by :data:`ADMIN` (whose password is :data:`PASSWORD`)."""
    args = ["users", "add", user_id, "--name", name, "--by", ADMIN]
    for role in roles:
        args += ["--role", role]
    for url in notify or [f"json://127.0.0.1:9/{user_id}"]:
        args += ["--notify", url]
    return args


def set_password(db_url: str, user_id: str, password: str = PASSWORD) -> None:
    """What `users activate` does with the code the user received, done behind the CLI for
    tests that are about something else (the real path is in tests/security)."""
    from cdmo_workflow.identity import hash_password
    from cdmo_workflow.store import Database

    with Database(db_url).unit_of_work() as uow:
        uow.users.set_password(user_id, hash_password(password))
        uow.commit()


def cli_add_user(
    run: Run,
    user_id: str,
    name: str,
    roles: Sequence[str],
    notify: Sequence[str] = (),
    db_url: str | None = None,
) -> tuple[int, str]:
    """``cdmo users add`` by the site's administrator (made on first use); with ``db_url``
    the new user's password is then :data:`PASSWORD`."""
    run(["admin", "init", ADMIN, "--name", "Site Admin"], {"CDMO_PASSWORD": PASSWORD})
    code, out = run(user_add_args(user_id, name, roles, notify), {"CDMO_PASSWORD": PASSWORD})
    if code == 0 and db_url is not None:
        set_password(db_url, user_id)
    return code, out
