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
        "user.set-timezone",
        "cdmo users tz",
        "the user themselves",
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
        "the condition's owner (a person, or someone in its owner role); a condition raised "
        "before owners existed: the phase owner or the project manager",
        "password-or-session",
        rule="not-condition-owner",
    ),
    Authority(
        "condition.accept",
        "cdmo condition accept",
        "someone in the raiser's role or the quality role, never whoever closed it",
        "password-or-session",
        rule="own-closure",
    ),
    Authority(
        "condition.reject",
        "cdmo condition reject",
        "someone in the raiser's role or the quality role, never whoever closed it",
        "password-or-session",
        rule="own-closure",
    ),
    Authority(
        "project.hold",
        "cdmo project hold",
        "the project manager (the whole project) or the quality role (the project or one "
        "phase, at any time)",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "project.release",
        "cdmo project release",
        "someone assigned to the quality role: a quality hold is released with a signature",
        "password",
        rule="not-quality-role",
    ),
    Authority(
        "team.add",
        "cdmo team add",
        "the project manager (or an administrator); the new member holds the global role",
        "password-or-session",
        rule="not-project-manager",
    ),
    Authority(
        "team.replace",
        "cdmo team replace",
        "the project manager (or an administrator); the new member holds the global role",
        "password-or-session",
        rule="not-project-manager",
    ),
    Authority(
        "team.remove",
        "cdmo team remove",
        "the project manager (or an administrator)",
        "password-or-session",
        rule="not-project-manager",
    ),
    Authority(
        "delegation.grant",
        "cdmo delegate",
        "the delegator (or an administrator, never to themselves); the delegate holds the "
        "same global role",
        "password-or-session",
        rule="not-delegator",
    ),
    Authority(
        "delegation.revoke",
        "cdmo delegate revoke",
        "the delegator, the delegate or an administrator",
        "password-or-session",
        rule="not-delegation-party",
    ),
    Authority(
        "deliverable.carry",
        "cdmo deliverable carry",
        "the phase owner role on the project, after a recycle",
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
        "budget.set-quote",
        "cdmo budget set",
        "the project manager on the project, for the first quote of a phase; a change needs "
        "an approved change request with a cost impact (--change)",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "plan.set",
        "cdmo plan set",
        "the project manager on the project, before the first gate decision",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "cost.add",
        "cdmo cost add",
        "the project manager, or the process's finance_role, on the project",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "cost.import",
        "cdmo cost import",
        "the project manager, or the process's finance_role, on the project",
        "password-or-session",
        rule="not-assigned-to-role",
    ),
    Authority(
        "gate.sign",
        "cdmo gate sign",
        "a person assigned to a role the gate's quota needs, or their delegate (--on-behalf-of) "
        "under a delegation in force; administrators only with CDMO_ADMINS_MAY_SIGN=1",
        "password",
        rule="not-assigned-to-role",
    ),
    Authority(
        "change.propose",
        "cdmo change propose",
        "a person on the project team",
        "password-or-session",
        rule="not-on-team",
    ),
    Authority(
        "change.submit",
        "cdmo change submit",
        "the request's proposer or the project manager",
        "password-or-session",
        rule="not-proposer",
    ),
    Authority(
        "change.withdraw",
        "cdmo change withdraw",
        "the request's proposer or the project manager",
        "password-or-session",
        rule="not-proposer",
    ),
    Authority(
        "change.sign",
        "cdmo change sign",
        "a person assigned to an approver role the request needs; administrators only with "
        "CDMO_ADMINS_MAY_SIGN=1",
        "password",
        rule="role-not-approver",
    ),
    Authority(
        "project.migrate",
        "cdmo project migrate",
        "the project manager, under an approved change request naming the version",
        "password-or-session",
        rule="no-approved-change",
    ),
)

AUTHORITY: dict[str, Authority] = {row.action: row for row in _ROWS}
"""``action`` -> its authority; every command the runner executes has a row."""
