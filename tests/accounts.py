"""The one place tests of bad input create users (so an authentication change adapts here).

``cli_add_user`` runs ``cdmo users add`` through any runner that takes ``(args, env)`` and
returns ``(exit_code, output)``; ``service_add_user`` calls the service directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

PASSWORD = "bad-input-password-1"

Run = Callable[[list[str], dict[str, str]], tuple[int, str]]


def user_add_args(
    user_id: str, name: str, roles: Sequence[str], notify: Sequence[str] = ()
) -> list[str]:
    args = ["users", "add", user_id, "--name", name]
    for role in roles:
        args += ["--role", role]
    for url in notify:
        args += ["--notify", url]
    return args


def cli_add_user(
    run: Run, user_id: str, name: str, roles: Sequence[str], notify: Sequence[str] = ()
) -> tuple[int, str]:
    """``cdmo users add``; the new user's password is :data:`PASSWORD`."""
    return run(user_add_args(user_id, name, roles, notify), {"CDMO_PASSWORD": PASSWORD})


def service_add_user(
    ctx: Any, user_id: str, name: str, roles: Sequence[str], notify: Sequence[str] = ()
) -> Any:
    from cdmo_workflow import service

    return service.add_user(ctx, user_id, name, list(roles), PASSWORD, list(notify))
