"""Who may do what: the one table of commands, the authority each needs and its credential.

The README's command reference is checked against this table (tests/service/test_authority.py).
Global roles are checked by the runner; project roles come from the pinned definition and are
checked by the domain (the rule ids named here), so a definition can give, say, a deliverable to
any role it declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ADMIN_ROLE = "admin"

CredentialKind = Literal["none", "password-or-session", "password", "one-time-code"]


@dataclass(frozen=True)
class Authority:
    action: str
    command: str
    who: str
    credential: CredentialKind
    global_roles: tuple[str, ...] = ()
    rule: str = ""
    """The rule id a refusal names when the actor lacks the authority."""


_ROWS = (
    Authority(
        "admin.init",
        "cdmo admin init",
        "anyone, once: refused as soon as an active administrator exists",
        "none",
        rule="admin-exists",
    ),
    Authority(
        "user.provision",
        "(library only: `cdmo up`'s demo and the tests)",
        "code with write access to the database; no command line, flow or form reaches it",
        "none",
    ),
    Authority(
        "user.add",
        "cdmo users add",
        "an administrator (global role admin)",
        "password-or-session",
        (ADMIN_ROLE,),
        "not-admin",
    ),
    Authority(
        "user.grant",
        "cdmo users grant",
        "an administrator, never for their own account",
        "password-or-session",
        (ADMIN_ROLE,),
        "not-admin",
    ),
    Authority(
        "user.revoke",
        "cdmo users revoke",
        "an administrator, never for their own account",
        "password-or-session",
        (ADMIN_ROLE,),
        "not-admin",
    ),
    Authority(
        "user.unlock",
        "cdmo users unlock",
        "an administrator, never for their own account",
        "password-or-session",
        (ADMIN_ROLE,),
        "not-admin",
    ),
    Authority(
        "user.reset-password",
        "cdmo users reset-password",
        "an administrator, never for their own account; the code goes to the user",
        "password-or-session",
        (ADMIN_ROLE,),
        "not-admin",
    ),
    Authority(
        "user.deactivate",
        "cdmo users deactivate",
        "an administrator, never for their own account",
        "password-or-session",
        (ADMIN_ROLE,),
        "not-admin",
    ),
    Authority(
        "audit.rotate-key",
        "cdmo audit rotate-key",
        "an administrator (global role admin)",
        "password-or-session",
        (ADMIN_ROLE,),
        "not-admin",
    ),
    Authority(
        "user.activate",
        "cdmo users activate",
        "the user, with the one-time code sent to their own targets",
        "one-time-code",
        rule="code-invalid",
    ),
    Authority(
        "user.passwd",
        "cdmo users passwd",
        "the user, with their current password",
        "password",
        rule="authentication-failed",
    ),
    Authority(
        "user.notify-add",
        "cdmo users notify add",
        "the user themselves (the old targets are told)",
        "password-or-session",
        rule="not-own-account",
    ),
    Authority(
        "user.notify-remove",
        "cdmo users notify remove",
        "the user themselves (the old targets are told)",
        "password-or-session",
        rule="not-own-account",
    ),
    Authority(
        "session.login",
        "cdmo login",
        "the user, with their password",
        "password",
        rule="authentication-failed",
    ),
    Authority(
        "session.logout",
        "cdmo logout",
        "the session's owner",
        "password-or-session",
        rule="session-invalid",
    ),
    Authority(
        "project.start",
        "cdmo project start",
        "the person named for the process's manager role in --team",
        "password-or-session",
        rule="not-project-manager",
    ),
    Authority(
        "deliverable.submit",
        "cdmo deliverable submit",
        "a person assigned to the deliverable's owner role on the project",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "check.confirm",
        "cdmo check confirm",
        "a person assigned to the check's confirmed_by role on the project",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "condition.close",
        "cdmo condition close",
        "the phase owner or the project manager on the project",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "project.hold",
        "cdmo project hold",
        "the project manager on the project",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "project.resume",
        "cdmo project resume",
        "the project manager on the project",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "gate.sign",
        "cdmo gate sign",
        "a person assigned to a role the gate's quota needs; administrators only with "
        "CDMO_ADMINS_MAY_SIGN=1",
        "password",
        rule="not-assigned-to-role",
    ),
)

AUTHORITY: dict[str, Authority] = {row.action: row for row in _ROWS}
"""``action`` -> its authority; every command the runner executes has a row."""
