"""Accounts: the first administrator, users, roles, one-time codes, sessions, targets.

Every command here runs through the runner and lands in the system chain. No administrator ever
chooses or sees a credential of someone else: a new account and a reset get a one-time code
that goes only to the user's own notification targets (Part 11.300, segregation of duties).
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.limits import check_text
from cdmo_workflow.domain.project import Change
from cdmo_workflow.identity import (
    UNUSABLE_PASSWORD,
    check_password_rules,
    hash_password,
    verify_password,
)
from cdmo_workflow.service.authority import ADMIN_ROLE
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import (
    Credential,
    new_code,
    new_session_token,
    normalise_code,
    token_hash,
)
from cdmo_workflow.service.notices import code_notice, notice
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Command, Step, execute

if TYPE_CHECKING:
    from cdmo_workflow.store.users import StoredUser

CODE_VALID_HOURS = 24


def system_actor() -> str:
    """Who ran a command that names no user: the operating-system account."""
    try:
        return f"os:{getpass.getuser()}"
    except Exception:  # pragma: no cover - no passwd entry in some containers
        return "os:unknown"


def _check_new_user(user_id: str, name: str, roles: Sequence[str]) -> None:
    check_text("user id", user_id)
    if not name.strip():
        raise RuleViolation("name-required", "a printed name is required (--name)", user=user_id)
    check_text("printed name", name)
    if not roles:
        raise RuleViolation("role-required", "a user needs at least one role (--role)")


def _has_target(step: Step, user_id: str, extra: Sequence[str] = ()) -> bool:
    if extra or step.uow.users.targets(user_id):
        return True
    from cdmo_workflow.notify.targets import config_file

    config = config_file()
    return bool(config is not None and config.has(user_id))


def _create(
    step: Step,
    user_id: str,
    name: str,
    roles: Sequence[str],
    pw_hash: str,
    notify: Sequence[str],
    time_zone: str | None = None,
) -> dict[str, Any]:
    from cdmo_workflow.store import DuplicateUser

    zone = {"time_zone": time_zone} if time_zone else {}
    try:
        step.uow.users.add(user_id, name.strip(), list(dict.fromkeys(roles)), pw_hash, **zone)
    except DuplicateUser:
        raise RuleViolation(
            "user-exists",
            f"user id {user_id!r} already exists; user ids are never reused",
            user=user_id,
        ) from None
    for url in notify:
        step.uow.users.add_target(user_id, url)
    return {
        "user": user_id,
        "name": name.strip(),
        "roles": list(roles),
        "targets": len(notify),
        **zone,
    }


def _new_code(step: Step, user_id: str, purpose: str) -> None:
    code = new_code()
    step.uow.codes.add(
        token_hash(code), user_id, purpose, step.now + timedelta(hours=CODE_VALID_HOURS)
    )
    step.notices.append(code_notice(user_id, purpose, code, CODE_VALID_HOURS))


# ---------------------------------------------------------------------- bootstrap


def admin_init(
    ctx: Context, user_id: str, name: str, password: str, notify: Sequence[str] = ()
) -> CommandResult:
    """The first administrator; refused once an active administrator exists."""

    def apply(step: Step) -> Change:
        if step.uow.users.any_active_with_role(ADMIN_ROLE):
            raise RuleViolation(
                "admin-exists",
                "an administrator already exists: ask them to add accounts with `cdmo users add`",
                user=user_id,
            )
        _check_new_user(user_id, name, [ADMIN_ROLE])
        new = _create(step, user_id, name, [ADMIN_ROLE], hash_password(password), notify)
        return Change("admin.init", user_id, None, new)

    return execute(
        ctx,
        Command(
            "admin.init",
            None,
            user_id,
            {"user": user_id, "name": name},
            apply,
            actor_label=system_actor(),
        ),
    )


def provision_user(
    ctx: Context,
    user_id: str,
    name: str,
    roles: Sequence[str],
    password: str,
    notify: Sequence[str] = (),
    actor: str | None = None,
) -> CommandResult:
    """Seed an account with a known password: for `cdmo up`'s demo and for tests only.

    No command line, flow or form reaches it; using it needs write access to the database,
    which can change anything anyway. It is audited like any account creation.
    """

    def apply(step: Step) -> Change:
        _check_new_user(user_id, name, roles)
        new = _create(step, user_id, name, roles, hash_password(password), notify)
        return Change("user.provision", user_id, None, new)

    return execute(
        ctx,
        Command(
            "user.provision",
            None,
            user_id,
            {"user": user_id, "name": name, "roles": list(roles)},
            apply,
            actor_label=f"provision:{actor or system_actor()}",
        ),
    )


# ---------------------------------------------------------------------- administration


def add_user(
    ctx: Context,
    user_id: str,
    name: str,
    roles: Sequence[str],
    notify: Sequence[str],
    by: str,
    *,
    password: str | None = None,
    session: str | None = None,
    time_zone: str | None = None,
) -> CommandResult:
    """An administrator adds an account; its first password is set with a one-time code.
    ``time_zone`` (IANA) is the zone the user reads times in; default UTC."""

    def apply(step: Step) -> Change:
        _check_new_user(user_id, name, roles)
        if time_zone is not None:
            check_zone(time_zone, user_id)
        for url in notify:
            _check_url(url, user_id)
        if not _has_target(step, user_id, notify):
            raise RuleViolation(
                "no-notification-target",
                f"user {user_id!r} needs a notification target (--notify URL, or a tag in "
                "CDMO_APPRISE_CONFIG) to receive the one-time code that sets the first password",
                user=user_id,
            )
        new = _create(step, user_id, name, roles, UNUSABLE_PASSWORD, notify, time_zone)
        _new_code(step, user_id, "enrol")
        return Change("user.add", user_id, None, new)

    return execute(
        ctx,
        Command(
            "user.add",
            Credential(by, password, session),
            user_id,
            {
                "user": user_id,
                "name": name,
                "roles": list(roles),
                "targets": len(notify),
                **({"time_zone": time_zone} if time_zone else {}),
            },
            apply,
        ),
    )


def check_zone(zone: str, user_id: str) -> str:
    """An IANA time zone, or rule ``unknown-time-zone`` naming the field."""
    from cdmo_workflow.spec.zones import UnknownTimeZone, check_time_zone

    try:
        return check_time_zone(zone)
    except UnknownTimeZone as exc:
        raise RuleViolation(
            "unknown-time-zone", f"--tz: {exc}", field="time zone", user=user_id
        ) from None


def set_time_zone(
    ctx: Context,
    user_id: str,
    zone: str,
    by: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """The user sets the zone their messages and reports show times in (``UTC`` clears it).
    Only the user themselves (``by`` defaults to ``user_id``)."""
    credential = Credential(by or user_id, password, session)

    def apply(step: Step) -> Change:
        account = step.require_actor()
        if account.user_id != user_id:
            raise RuleViolation(
                "not-own-account",
                f"only {user_id!r} may change their own time zone (asked by {account.user_id!r})",
                user=account.user_id,
            )
        chosen = check_zone(zone, user_id)
        stored = None if chosen == "UTC" else chosen
        step.uow.users.set_time_zone(user_id, stored)
        return Change(
            "user.set-timezone",
            user_id,
            {"time_zone": account.time_zone},
            {"time_zone": stored or "UTC"},
        )

    return execute(
        ctx, Command("user.set-timezone", credential, user_id, {"time_zone": zone}, apply)
    )


def _check_url(url: str, user_id: str) -> None:
    from cdmo_workflow.notify.targets import check_apprise_url

    check_apprise_url(url)


AdminApply = Callable[[Step, "StoredUser"], tuple[dict[str, Any] | None, dict[str, Any] | None]]


def _admin_command(
    ctx: Context,
    action: str,
    user_id: str,
    by: str,
    password: str | None,
    session: str | None,
    apply: AdminApply,
    arguments: dict[str, Any] | None = None,
    tell: str | None = None,
) -> CommandResult:
    """An administrator's change to another account; the user is told (``tell``)."""
    verb = action.split(".", 1)[1].replace("-", " ")

    def run(step: Step) -> Change:
        if by == user_id:
            raise RuleViolation(
                "self-administration",
                f"an administrator cannot {verb} their own account (segregation of duties)",
                user=by,
            )
        user = step.uow.users.get(user_id)
        if user is None:
            raise NotFound("user", user_id, "see `cdmo users list`")
        old, new = apply(step, user)
        if tell:
            step.notices.append(
                notice(user_id, action.split(".", 1)[1], f"[cdmo] Your account: {tell}", tell)
            )
        return Change(action, user_id, old, new)

    return execute(
        ctx,
        Command(
            action,
            Credential(by, password, session),
            user_id,
            {"user": user_id, **(arguments or {})},
            run,
        ),
    )


def unlock_user(
    ctx: Context,
    user_id: str,
    by: str,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """An administrator unlocks an account locked after failed sign-ins (audited)."""

    def apply(step: Step, user: StoredUser) -> tuple[dict[str, Any], dict[str, Any]]:
        step.uow.users.unlock(user_id)
        return (
            {"locked": bool(user.locked), "failed_attempts": user.failed_attempts},
            {"locked": False, "failed_attempts": 0},
        )

    return _admin_command(
        ctx,
        "user.unlock",
        user_id,
        by,
        password,
        session,
        apply,
        tell=f"your account was unlocked by {by}",
    )


def reset_password(
    ctx: Context,
    user_id: str,
    by: str,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """The old password stops working; a one-time code goes to the user's own targets."""

    def apply(step: Step, user: StoredUser) -> tuple[dict[str, Any], dict[str, Any]]:
        if not _has_target(step, user_id):
            raise RuleViolation(
                "no-notification-target",
                f"user {user_id!r} has no notification target for the one-time code, so the "
                "password cannot be reset: deactivate the account and create a new one "
                "(user ids are never reused)",
                user=user_id,
            )
        step.uow.users.set_password(user_id, UNUSABLE_PASSWORD)
        step.uow.sessions.revoke_all(user_id)
        _new_code(step, user_id, "reset")
        return (
            {"locked": bool(user.locked), "failed_attempts": user.failed_attempts},
            {"password": "reset", "code_sent": True, "locked": False},
        )

    return _admin_command(ctx, "user.reset-password", user_id, by, password, session, apply)


def deactivate_user(
    ctx: Context,
    user_id: str,
    by: str,
    reason: str,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """Withdraw an account (lost credentials, leaver). Its id stays reserved forever."""

    def apply(step: Step, user: StoredUser) -> tuple[dict[str, Any], dict[str, Any]]:
        if not reason.strip():
            raise RuleViolation("reason-required", "a reason is required (--reason)", user=by)
        check_text("reason", reason)
        step.uow.users.set_active(user_id, False)
        step.uow.sessions.revoke_all(user_id)
        return {"active": bool(user.active)}, {"active": False, "reason": reason}

    return _admin_command(
        ctx,
        "user.deactivate",
        user_id,
        by,
        password,
        session,
        apply,
        {"reason": reason},
        tell=f"your account was deactivated by {by}: {reason}",
    )


def grant_role(
    ctx: Context,
    user_id: str,
    role: str,
    by: str,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    def apply(step: Step, user: StoredUser) -> tuple[dict[str, Any], dict[str, Any]]:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", role):
            raise RuleViolation("invalid-role", f"invalid role {role!r}", role=role)
        if role in user.roles:
            raise RuleViolation(
                "role-already-held", f"user {user_id!r} already holds {role!r}", role=role
            )
        step.uow.users.set_roles(user_id, [*user.roles, role])
        return {"roles": list(user.roles)}, {"roles": [*user.roles, role]}

    return _admin_command(
        ctx,
        "user.grant",
        user_id,
        by,
        password,
        session,
        apply,
        {"role": role},
        tell=f"{by} granted you the role {role}",
    )


def revoke_role(
    ctx: Context,
    user_id: str,
    role: str,
    by: str,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    def apply(step: Step, user: StoredUser) -> tuple[dict[str, Any], dict[str, Any]]:
        if role not in user.roles:
            raise RuleViolation("role-not-held", f"user {user_id!r} does not hold {role!r}")
        remaining = [r for r in user.roles if r != role]
        if not remaining:
            raise RuleViolation(
                "role-required", "a user keeps at least one role; deactivate the account instead"
            )
        step.uow.users.set_roles(user_id, remaining)
        return {"roles": list(user.roles)}, {"roles": remaining}

    return _admin_command(
        ctx,
        "user.revoke",
        user_id,
        by,
        password,
        session,
        apply,
        {"role": role},
        tell=f"{by} revoked your role {role}",
    )


# ---------------------------------------------------------------------- the user's own


def activate_account(ctx: Context, user_id: str, code: str, new_password: str) -> CommandResult:
    """Set a password with the one-time code of an enrolment or a reset (then it is spent)."""

    def apply(step: Step) -> Change:
        live = step.uow.codes.live(user_id)
        if (
            live is None
            or live.code_hash != token_hash(normalise_code(code))
            or step.now > live.expires_at
        ):
            raise RuleViolation(
                "code-invalid",
                f"the one-time code for {user_id!r} is wrong, used or expired; "
                "ask an administrator for a new one",
                user=user_id,
            )
        check_password_rules(new_password)
        step.uow.codes.use(live.code_hash)
        step.uow.users.set_password(user_id, hash_password(new_password))
        step.uow.sessions.revoke_all(user_id)
        return Change("user.activate", user_id, None, {"purpose": live.purpose})

    return execute(
        ctx,
        Command(
            "user.activate",
            None,
            user_id,
            {"user": user_id},
            apply,
            actor_label=user_id,
        ),
    )


def change_password(
    ctx: Context, user_id: str, old_password: str, new_password: str
) -> CommandResult:
    """The user sets a new password, proving the current one (also on expiry)."""

    def apply(step: Step) -> Change:
        account = step.require_actor()
        check_password_rules(new_password)
        if verify_password(new_password, account.password_hash):
            raise RuleViolation(
                "password-reused", "the new password must differ from the old one", user=user_id
            )
        step.uow.users.set_password(user_id, hash_password(new_password))
        step.uow.sessions.revoke_all(user_id)
        return Change(
            "user.passwd",
            user_id,
            {"must_change_password": bool(account.must_change_password)},
            {"must_change_password": False},
        )

    return execute(
        ctx,
        Command("user.passwd", Credential(user_id, old_password), user_id, {}, apply),
    )


def _own_target_command(
    ctx: Context,
    action: str,
    user_id: str,
    url: str,
    credential: Credential,
    change: Callable[[Step], bool],
    told: str,
) -> CommandResult:
    def apply(step: Step) -> Change:
        if credential.user != user_id:
            raise RuleViolation(
                "not-own-account",
                f"only {user_id!r} may change their own notification targets",
                user=credential.user,
            )
        before = len(step.uow.users.targets(user_id))
        step.notices.append(notice(user_id, "targets", f"[cdmo] Your account: {told}", told))
        if not change(step):
            raise RuleViolation("target-unchanged", f"nothing to change for {user_id!r}")
        return Change(
            action, user_id, {"targets": before}, {"targets": len(step.uow.users.targets(user_id))}
        )

    return execute(ctx, Command(action, credential, user_id, {"user": user_id}, apply))


def add_target(
    ctx: Context,
    user_id: str,
    url: str,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """Add a notification target; the targets the user had are told."""

    def change(step: Step) -> bool:
        _check_url(url, user_id)
        if url in step.uow.users.targets(user_id):
            return False
        step.uow.users.add_target(user_id, url)
        return True

    return _own_target_command(
        ctx,
        "user.notify-add",
        user_id,
        url,
        Credential(user_id, password, session),
        change,
        "a notification target was added to your account",
    )


def remove_target(
    ctx: Context,
    user_id: str,
    url: str,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    def change(step: Step) -> bool:
        return step.uow.users.remove_target(user_id, url)

    return _own_target_command(
        ctx,
        "user.notify-remove",
        user_id,
        url,
        Credential(user_id, password, session),
        change,
        "a notification target was removed from your account",
    )


def login(ctx: Context, user_id: str, password: str) -> CommandResult:
    """A session for later commands (not for signatures); its token is in ``result.data``."""

    def apply(step: Step) -> Change:
        token = new_session_token()
        expires = step.now + timedelta(hours=ctx.settings.session_max_hours)
        step.uow.sessions.add(token_hash(token), user_id, expires)
        step.data["token"] = token
        step.data["expires_at"] = expires.isoformat()
        return Change("session.login", user_id, None, {"expires_at": expires.isoformat()})

    return execute(ctx, Command("session.login", Credential(user_id, password), user_id, {}, apply))


def logout(ctx: Context, user_id: str, session: str) -> CommandResult:
    def apply(step: Step) -> Change:
        step.uow.sessions.revoke(token_hash(session))
        return Change("session.logout", user_id, None, {"ended": True})

    return execute(
        ctx, Command("session.logout", Credential(user_id, session=session), user_id, {}, apply)
    )


def list_users(ctx: Context) -> list[dict[str, Any]]:
    from cdmo_workflow.notify.masking import mask_url

    with ctx.db.unit_of_work(read_only=True) as uow:
        return [
            {
                "user": u.user_id,
                "name": u.name,
                "roles": list(u.roles),
                "active": bool(u.active),
                "locked": bool(u.locked),
                "failed_attempts": u.failed_attempts,
                "password_set": u.password_hash != UNUSABLE_PASSWORD,
                "time_zone": u.time_zone or "UTC",
                "targets": [mask_url(t) for t in uow.users.targets(u.user_id)],
            }
            for u in uow.users.list()
        ]
