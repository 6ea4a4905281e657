"""One function per command, shared by the CLI and the Prefect flows.

Each command runs in one unit of work: load the project, apply the pure core, append one
audit row, queue the outbox rows, save with an optimistic version check, commit. A lost race
retries the whole command against fresh state. A refusal rolls everything back and is then
audited in its own transaction, so every refused command leaves exactly one trace.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from .config import Settings, get_settings
from .domain.errors import EngineError, NotFound, RuleViolation
from .domain.events import SECURITY_ALERT, DomainEvent
from .domain.project import Change, Project, Signer
from .domain.views import status as status_view
from .spec.models import ProcessSnapshot

SYSTEM_CHAIN = "_system"
ADMIN_ROLE = "admin"
MAX_RETRIES = 20


class Refused(EngineError):
    """A command a rule refused; the refusal is already in the audit trail."""

    def __init__(self, violation: RuleViolation | NotFound, *, audited: bool = True) -> None:
        self.violation = violation
        self.audited = audited
        self.rule = getattr(violation, "rule", "not-found")
        super().__init__(str(violation))


@dataclass
class CommandResult:
    """What an accepted command did: the audit change, its events and the new project status."""

    project: str | None
    change: Change | None
    events: list[DomainEvent] = field(default_factory=list)
    status: dict[str, Any] | None = None
    audit_seq: int | None = None
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        change = self.change
        return {
            "project": self.project,
            "action": change.action if change else None,
            "subject": change.subject if change else None,
            "new": change.new if change else None,
            "events": [e.to_dict() for e in self.events],
            "audit_seq": self.audit_seq,
        }


AfterCommit = Callable[[CommandResult], None]


@dataclass
class Context:
    """Wires the adapters: settings, database, definitions and post-commit hooks."""

    settings: Settings
    after_commit: list[AfterCommit] = field(default_factory=list)
    _db: Any = None
    _snapshots: dict[str, ProcessSnapshot] = field(default_factory=dict)

    @property
    def db(self) -> Any:
        if self._db is None:
            from .audit import checkpoint_listeners
            from .store import Database

            listeners = checkpoint_listeners(self.settings)  # signed heads after each commit
            self._db = Database(self.settings.database_url, commit_listeners=listeners)
        return self._db

    @property
    def definitions_dir(self) -> Path:
        return self.settings.definitions_dir


def open_context(
    db_url: str | None = None,
    definitions: str | Path | None = None,
    *,
    prefect_hooks: bool = True,
    **overrides: Any,
) -> Context:
    """A context from the environment, with CLI or flow overrides.

    With ``prefect_hooks`` (the default) and a Prefect API configured (``PREFECT_API_URL`` or
    the file ``cdmo up`` writes), commits also update the Prefect UI (see
    ``orchestration.hooks``); without one this costs an environment lookup and a ``stat``.
    """
    base = get_settings()
    changes: dict[str, Any] = dict(overrides)
    if db_url:
        changes["database_url"] = db_url
    if definitions:
        changes["definitions_dir"] = Path(definitions)
    if changes:
        from dataclasses import replace

        base = replace(base, **changes)
    ctx = Context(settings=base)
    if prefect_hooks:
        from .orchestration.hooks import install_if_configured

        install_if_configured(ctx)
    return ctx


def system_actor() -> str:
    """Who ran a command that names no user (user creation): the operating-system account."""
    try:
        return f"os:{getpass.getuser()}"
    except Exception:  # pragma: no cover - no passwd entry in some containers
        return "os:unknown"


# ---------------------------------------------------------------------- internals


def _snapshot(ctx: Context, uow: Any, version_hash: str) -> ProcessSnapshot:
    snap = ctx._snapshots.get(version_hash)
    if snap is None:
        doc = uow.snapshots.get(version_hash)
        if doc is None:
            raise NotFound("process snapshot", version_hash)
        snap = ProcessSnapshot.model_validate(doc)
        ctx._snapshots[version_hash] = snap
    return snap


def _load(ctx: Context, uow: Any, code: str) -> tuple[Project, Any]:
    stored = uow.projects.get(code)
    if stored is None:
        raise NotFound("project", code, "see `cdmo project list`")
    snap = _snapshot(ctx, uow, stored.version_hash)
    return Project.from_dict(stored.document, snap), stored


def _outbox_rows(
    uow: Any, project: Project, events: list[DomainEvent], seq: int
) -> list[dict[str, Any]]:
    """Notifications for the events of one command, with printed names for the messages."""
    from .domain.events import NOTIFY_EVENT_OF
    from .notify.routing import outbox_rows

    if not any(e.name in NOTIFY_EVENT_OF for e in events):
        return []
    people = uow.users.names(u for users in project.team.values() for u in users)
    context = {"customer": project.customer, "project_name": project.code, "people": people}
    return outbox_rows(events, project.snapshot, project.team, seq, context=context)


def _require_user(uow: Any, user_id: str) -> Any:
    user = uow.users.get(user_id)
    if user is None:
        raise NotFound("user", user_id, "add it with `cdmo users add`")
    if not getattr(user, "active", True):
        raise RuleViolation("user-inactive", f"user {user_id!r} is deactivated", user=user_id)
    return user


def _fire(ctx: Context, result: CommandResult) -> None:
    for hook in ctx.after_commit:
        try:
            hook(result)
        except Exception:  # a hook (artifact, Prefect event) never undoes a committed command
            import logging

            logging.getLogger("cdmo_workflow").warning(
                "post-commit hook %r failed", getattr(hook, "__name__", hook), exc_info=True
            )


def _audit_refusal(
    ctx: Context,
    chain: str,
    actor: str,
    action: str,
    subject: str,
    violation: RuleViolation | NotFound,
    attempted: dict[str, Any] | None,
    extra_events: Sequence[DomainEvent] = (),
    project: Project | None = None,
) -> None:
    """Write the refusal in its own transaction (the refused command was rolled back)."""
    from .store import ConcurrentUpdate

    for _ in range(MAX_RETRIES):
        try:
            with ctx.db.unit_of_work() as uow:
                rec = uow.audit.append(
                    chain=chain,
                    actor=actor,
                    action=action,
                    subject=subject,
                    outcome="refused",
                    rule=getattr(violation, "rule", "not-found"),
                    reason=str(violation),
                    old=None,
                    new=attempted,
                    events=[e.to_dict() for e in extra_events],
                )
                if extra_events and project is not None:
                    uow.outbox.add(_outbox_rows(uow, project, list(extra_events), rec.seq))
                uow.commit()
                return
        except ConcurrentUpdate:
            continue


def _run(
    ctx: Context,
    code: str,
    actor: str,
    action: str,
    subject: str,
    attempted: dict[str, Any],
    apply: Callable[[Project, datetime, Any], Change],
    idempotency_key: str | None = None,
) -> CommandResult:
    """Run one project command with retries on lost races; audit a refusal."""
    from .store import ConcurrentUpdate

    for _ in range(MAX_RETRIES):
        try:
            with ctx.db.unit_of_work() as uow:
                if idempotency_key:
                    cached = uow.idempotency.get(idempotency_key)
                    if cached is not None:
                        return CommandResult(
                            project=code,
                            change=None,
                            status=cached.get("status"),
                            audit_seq=cached.get("audit_seq"),
                            replayed=True,
                        )
                project, stored = _load(ctx, uow, code)
                now = uow.now()
                change = apply(project, now, uow)
                result = _commit(uow, project, stored.version, change, actor, idempotency_key)
            _fire(ctx, result)
            return result
        except ConcurrentUpdate:
            continue
        except (RuleViolation, NotFound) as violation:
            chain = code if _project_exists(ctx, code) else SYSTEM_CHAIN
            _audit_refusal(ctx, chain, actor, action, subject, violation, attempted)
            raise Refused(violation) from None
    raise RuleViolation(
        "too-much-contention",
        f"project {code} is being changed by many commands at once; try again",
        project=code,
    )


def _commit(
    uow: Any,
    project: Project,
    expected_version: int | None,
    change: Change,
    actor: str,
    idempotency_key: str | None,
    *,
    new: bool = False,
) -> CommandResult:
    events = project.drain_events()
    rec = uow.audit.append(
        chain=project.code,
        actor=actor,
        action=change.action,
        subject=change.subject,
        old=change.old,
        new=change.new,
        events=[e.to_dict() for e in events],
    )
    uow.outbox.add(_outbox_rows(uow, project, events, rec.seq))
    status = status_view(project)
    if new:
        uow.projects.add(
            project.code,
            project.process_id,
            project.snapshot.version_hash,
            project.customer,
            project.state.value,
            project.to_dict(),
            summary=project.summary(),
        )
    else:
        uow.projects.save(
            project.code,
            project.to_dict(),
            project.state.value,
            expected_version,
            summary=project.summary(),
        )
    result = CommandResult(
        project=project.code, change=change, events=events, status=status, audit_seq=rec.seq
    )
    if idempotency_key:
        uow.idempotency.put(
            idempotency_key,
            change.action,
            project.code,
            {"status": status, "audit_seq": rec.seq},
        )
    uow.commit()
    return result


def _project_exists(ctx: Context, code: str) -> bool:
    with ctx.db.unit_of_work() as uow:
        return uow.projects.get(code) is not None


# ---------------------------------------------------------------------- users


def add_user(
    ctx: Context,
    user_id: str,
    name: str,
    roles: Sequence[str],
    password: str,
    notify: Sequence[str] = (),
    actor: str | None = None,
) -> dict[str, Any]:
    """Create a user with a hashed password. Ids are never reused (no delete path exists)."""
    from .identity import check_password_rules, hash_password
    from .store import DuplicateUser

    actor = actor or system_actor()
    try:
        _check_user_id(user_id)
        if not name.strip():
            raise RuleViolation("name-required", "a printed name is required (--name)")
        if not roles:
            raise RuleViolation("role-required", "a user needs at least one role (--role)")
        check_password_rules(password)
        pw_hash = hash_password(password)
        with ctx.db.unit_of_work() as uow:
            try:
                uow.users.add(user_id, name.strip(), list(dict.fromkeys(roles)), pw_hash)
            except DuplicateUser:
                raise RuleViolation(
                    "user-exists",
                    f"user id {user_id!r} already exists; user ids are never reused",
                    user=user_id,
                ) from None
            for url in notify:
                uow.users.add_target(user_id, url)
            uow.audit.append(
                chain=SYSTEM_CHAIN,
                actor=actor,
                action="user.add",
                subject=user_id,
                new={
                    "user": user_id,
                    "name": name.strip(),
                    "roles": list(roles),
                    "targets": len(notify),
                },
            )
            uow.commit()
    except RuleViolation as v:
        attempted = {"user": user_id, "name": name, "roles": list(roles)}
        _audit_refusal(ctx, SYSTEM_CHAIN, actor, "user.add", user_id, v, attempted)
        raise Refused(v) from None
    return {"user": user_id, "name": name.strip(), "roles": list(roles), "targets": len(notify)}


def _check_user_id(user_id: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", user_id or ""):
        raise RuleViolation(
            "invalid-user-id",
            f"invalid user id {user_id!r}: use letters, digits, dot, dash, underscore or @",
            user=user_id,
        )


def unlock_user(ctx: Context, user_id: str, by: str) -> dict[str, Any]:
    """An administrator unlocks an account locked after failed sign-ins (audited)."""

    def apply(uow: Any, user: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        uow.users.unlock(user_id)
        return (
            {"locked": bool(user.locked), "failed_attempts": user.failed_attempts},
            {"locked": False, "failed_attempts": 0},
        )

    _admin_action(ctx, by, user_id, "user.unlock", apply)
    return {"user": user_id, "locked": False}


def _admin_action(
    ctx: Context,
    by: str,
    user_id: str,
    action: str,
    apply: Callable[[Any, Any], tuple[dict[str, Any] | None, dict[str, Any] | None]],
) -> None:
    """An administrator's change to another account: authority check, audit, or audited refusal."""
    try:
        with ctx.db.unit_of_work() as uow:
            admin = _require_user(uow, by)
            if ADMIN_ROLE not in admin.roles:
                raise RuleViolation(
                    "not-admin",
                    f"user {by!r} does not hold the global role 'admin' and cannot "
                    f"{action.split('.', 1)[1].replace('-', ' ')} accounts",
                    user=by,
                )
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound("user", user_id, "see `cdmo users list`")
            if by == user_id:
                raise RuleViolation(
                    "self-administration",
                    f"an administrator cannot {action.split('.', 1)[1].replace('-', ' ')} "
                    "their own account (segregation of duties)",
                    user=by,
                )
            old, new = apply(uow, user)
            uow.audit.append(
                chain=SYSTEM_CHAIN, actor=by, action=action, subject=user_id, old=old, new=new
            )
            uow.commit()
    except (RuleViolation, NotFound) as v:
        _audit_refusal(ctx, SYSTEM_CHAIN, by, action, user_id, v, {"user": user_id})
        raise Refused(v) from None


def reset_password(ctx: Context, user_id: str, by: str, temporary_password: str) -> None:
    """An administrator sets a temporary password; the user must change it before signing.

    The reset is audited and never lets the administrator sign as the user unseen: the
    temporary password only works for `cdmo users passwd` (11.300, segregation of duties).
    """
    from .identity import check_password_rules, hash_password

    check_password_rules(temporary_password)
    pw_hash = hash_password(temporary_password)

    def apply(uow: Any, user: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        uow.users.set_password(user_id, pw_hash, must_change=True)
        return (
            {"locked": bool(user.locked), "failed_attempts": user.failed_attempts},
            {"must_change_password": True, "locked": False},
        )

    _admin_action(ctx, by, user_id, "user.reset-password", apply)


def deactivate_user(ctx: Context, user_id: str, by: str, reason: str) -> None:
    """Withdraw an account (lost credentials, leaver). Its id stays reserved forever."""
    if not reason.strip():
        raise RuleViolation("reason-required", "a reason is required (--reason)")

    def apply(uow: Any, user: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        uow.users.set_active(user_id, False)
        return {"active": bool(user.active)}, {"active": False, "reason": reason}

    _admin_action(ctx, by, user_id, "user.deactivate", apply)


def change_password(ctx: Context, user_id: str, old_password: str, new_password: str) -> None:
    """The user sets a new password, proving the old one (also after a reset or expiry)."""
    from .identity import (
        AuthenticationFailed,
        authenticate,
        check_password_rules,
        hash_password,
        verify_password,
    )

    failure: AuthenticationFailed | None = None
    with ctx.db.unit_of_work(read_only=True) as uow:
        try:
            account = authenticate(
                uow,
                user_id,
                old_password,
                lock_after=ctx.settings.lock_after,
                for_password_change=True,
            )
        except AuthenticationFailed as exc:
            failure = exc
    if failure is not None:
        _refuse_sign_in(
            ctx, SYSTEM_CHAIN, "", user_id, failure, {"user": user_id}, action="user.passwd"
        )
    try:
        check_password_rules(new_password)
        if verify_password(new_password, account.password_hash):
            raise RuleViolation(
                "password-reused", "the new password must differ from the old one", user=user_id
            )
    except RuleViolation as v:
        _audit_refusal(ctx, SYSTEM_CHAIN, user_id, "user.passwd", user_id, v, None)
        raise Refused(v) from None
    pw_hash = hash_password(new_password)
    with ctx.db.unit_of_work() as uow:
        uow.users.set_password(user_id, pw_hash)
        uow.audit.append(
            chain=SYSTEM_CHAIN,
            actor=user_id,
            action="user.passwd",
            subject=user_id,
            old={"must_change_password": bool(account.must_change_password)},
            new={"must_change_password": False},
        )
        uow.commit()


def list_users(ctx: Context) -> list[dict[str, Any]]:
    from .notify.masking import mask_url

    with ctx.db.unit_of_work() as uow:
        return [
            {
                "user": u.user_id,
                "name": u.name,
                "roles": list(u.roles),
                "locked": bool(u.locked),
                "failed_attempts": u.failed_attempts,
                "targets": [mask_url(t) for t in uow.users.targets(u.user_id)],
            }
            for u in uow.users.list()
        ]


# ---------------------------------------------------------------------- projects


def start_project(
    ctx: Context,
    code: str,
    process_id: str,
    customer: str,
    team: dict[str, list[str]],
    by: str,
    idempotency_key: str | None = None,
) -> CommandResult:
    """Start a project on the current definitions, pinning their snapshot and version hash."""
    from .spec.loader import load_catalog
    from .store import DuplicateProject

    attempted = {"code": code, "process": process_id, "customer": customer, "team": team}
    try:
        catalog = load_catalog(ctx.definitions_dir)
        try:
            snapshot = catalog.snapshot(process_id)
        except KeyError:
            known = ", ".join(sorted(catalog.processes)) or "none"
            raise NotFound("process", process_id, f"known processes: {known}") from None
        with ctx.db.unit_of_work() as uow:
            if idempotency_key:
                cached = uow.idempotency.get(idempotency_key)
                if cached is not None:
                    return CommandResult(
                        project=code, change=None, status=cached.get("status"), replayed=True
                    )
            actor_user = _require_user(uow, by)
            if uow.projects.get(code) is not None:
                raise RuleViolation(
                    "project-exists", f"project {code!r} already exists", project=code
                )
            for role, users in team.items():
                for uid in users:
                    member = _require_user(uow, uid)
                    if role not in member.roles and ADMIN_ROLE not in member.roles:
                        raise RuleViolation(
                            "role-not-held",
                            f"user {uid!r} does not hold the role {role!r} "
                            f"(holds: {', '.join(member.roles)}); "
                            "add the role to the user before assigning it",
                            user=uid,
                            role=role,
                        )
            now = uow.now()
            project, change = Project.start(
                code,
                customer,
                snapshot,
                team,
                by,
                now,
                by_is_admin=ADMIN_ROLE in actor_user.roles,
            )
            uow.snapshots.put(
                snapshot.model_dump(mode="json", by_alias=True),
                snapshot.version_hash,
                snapshot.process.id,
                snapshot.git.commit if snapshot.git else None,
                snapshot.git.dirty if snapshot.git else None,
            )
            try:
                result = _commit(uow, project, None, change, by, idempotency_key, new=True)
            except DuplicateProject:
                raise RuleViolation(
                    "project-exists", f"project {code!r} already exists", project=code
                ) from None
    except (RuleViolation, NotFound) as violation:
        _audit_refusal(ctx, SYSTEM_CHAIN, by, "project.start", code, violation, attempted)
        raise Refused(violation) from None
    _fire(ctx, result)
    return result


def project_status(ctx: Context, code: str) -> dict[str, Any]:
    with ctx.db.unit_of_work() as uow:
        project, _ = _load(ctx, uow, code)
        return status_view(project)


def load_project(ctx: Context, code: str) -> Project:
    """The aggregate itself, read-only (flows render descriptions from it)."""
    with ctx.db.unit_of_work() as uow:
        project, _ = _load(ctx, uow, code)
        return project


def list_projects(ctx: Context, states: Sequence[str] | None = None) -> list[dict[str, Any]]:
    with ctx.db.unit_of_work() as uow:
        rows = uow.projects.list(list(states) if states else None)
        return [
            {
                "code": r.code,
                "process": r.process_id,
                "customer": r.customer,
                "state": r.state,
                "phases": (r.summary or {}).get("phases", []),
                "open_gates": (r.summary or {}).get("open_gates", []),
                "updated_at": r.updated_at.isoformat() if r.updated_at else None,
            }
            for r in rows
        ]


def submit_deliverable(
    ctx: Context,
    code: str,
    phase: str,
    deliverable: str,
    by: str,
    evidence: str,
    idempotency_key: str | None = None,
) -> CommandResult:
    def apply(p: Project, now: datetime, uow: Any) -> Change:
        _require_user(uow, by)
        return p.submit_deliverable(phase, deliverable, by, evidence, now)

    return _run(
        ctx,
        code,
        by,
        "deliverable.submit",
        f"{phase}/{deliverable}",
        {"phase": phase, "deliverable": deliverable, "evidence": evidence},
        apply,
        idempotency_key,
    )


def confirm_check(
    ctx: Context,
    code: str,
    gate: str,
    check: str,
    by: str,
    evidence: str,
    idempotency_key: str | None = None,
) -> CommandResult:
    def apply(p: Project, now: datetime, uow: Any) -> Change:
        _require_user(uow, by)
        return p.confirm_check(gate, check, by, evidence, now)

    return _run(
        ctx,
        code,
        by,
        "check.confirm",
        f"{gate}/{check}",
        {"gate": gate, "check": check, "evidence": evidence},
        apply,
        idempotency_key,
    )


def close_condition(
    ctx: Context,
    code: str,
    condition_id: str,
    by: str,
    evidence: str,
    idempotency_key: str | None = None,
) -> CommandResult:
    def apply(p: Project, now: datetime, uow: Any) -> Change:
        _require_user(uow, by)
        return p.close_condition(condition_id, by, evidence, now)

    return _run(
        ctx,
        code,
        by,
        "condition.close",
        condition_id,
        {"condition": condition_id, "evidence": evidence},
        apply,
        idempotency_key,
    )


def hold_project(
    ctx: Context, code: str, by: str, reason: str, idempotency_key: str | None = None
) -> CommandResult:
    def apply(p: Project, now: datetime, uow: Any) -> Change:
        _require_user(uow, by)
        return p.put_on_hold(by, reason, now)

    return _run(ctx, code, by, "project.hold", code, {"reason": reason}, apply, idempotency_key)


def resume_project(
    ctx: Context, code: str, by: str, reason: str, idempotency_key: str | None = None
) -> CommandResult:
    def apply(p: Project, now: datetime, uow: Any) -> Change:
        _require_user(uow, by)
        return p.resume(by, reason, now)

    return _run(ctx, code, by, "project.resume", code, {"reason": reason}, apply, idempotency_key)


# ---------------------------------------------------------------------- signatures


def sign_gate(
    ctx: Context,
    code: str,
    gate: str,
    user: str,
    password: str,
    role: str,
    decision: str,
    meaning: str,
    comment: str | None = None,
    conditions: Iterable[str] = (),
    idempotency_key: str | None = None,
) -> CommandResult:
    """Re-authenticate the signer (Part 11.200), then record the signature and decide if due.

    Wrong credentials count towards the lockout and are audited as refusals, with a security
    notification when the account locks.
    """
    from .identity import AuthenticationFailed, authenticate

    conds = list(conditions)
    attempted = {
        "gate": gate,
        "role": role,
        "decision": decision,
        "meaning": meaning,
        "comment": comment,
        "conditions": conds,
    }
    if idempotency_key:
        with ctx.db.unit_of_work() as uow:
            cached = uow.idempotency.get(idempotency_key)
            if cached is not None:
                return CommandResult(
                    project=code,
                    change=None,
                    status=cached.get("status"),
                    audit_seq=cached.get("audit_seq"),
                    replayed=True,
                )
    signer: Signer | None = None
    failure: AuthenticationFailed | None = None
    with ctx.db.unit_of_work(read_only=True) as uow:
        try:
            account = authenticate(
                uow,
                user,
                password,
                lock_after=ctx.settings.lock_after,
                max_age_days=ctx.settings.password_max_age_days,
            )
            signer = Signer(user=account.user_id, name=account.name)
        except AuthenticationFailed as exc:
            failure = exc
    if failure is not None:
        _refuse_sign_in(ctx, code, gate, user, failure, attempted)
    assert signer is not None

    def apply(p: Project, now: datetime, uow: Any) -> Change:
        uow.users.reset_failures(user)
        return p.sign(
            gate,
            signer,
            role,
            decision,
            meaning,
            now,
            comment=comment,
            conditions=conds,
        )

    return _run(
        ctx, code, user, "gate.sign", gate, attempted, apply, idempotency_key=idempotency_key
    )


def _refuse_sign_in(
    ctx: Context,
    code: str,
    gate: str,
    user: str,
    failure: Any,
    attempted: dict[str, Any],
    action: str = "gate.sign",
) -> None:
    """Count the failure, audit it, raise a security event on lockout, then refuse."""
    from .identity import record_failed_sign_in

    attempts, locked_now = 0, False
    if failure.reason in ("wrong-password",):
        with ctx.db.unit_of_work() as uow:
            attempts, locked_now = record_failed_sign_in(
                uow, user, lock_after=ctx.settings.lock_after
            )
            uow.commit()
    rule = {
        "unknown-user": "authentication-failed",
        "wrong-password": "authentication-failed",
        "locked": "account-locked",
        "inactive": "user-inactive",
        "password-change-required": "password-change-required",
        "password-expired": "password-expired",
    }.get(failure.reason, "authentication-failed")
    if failure.reason == "locked":
        message = f"account {user!r} is locked after repeated failed sign-ins; ask an administrator"
    elif failure.reason in ("inactive", "password-change-required", "password-expired"):
        message = str(failure)
    else:
        message = f"sign-in failed for user {user!r}: wrong user id or password"
        if attempts:
            message += f" (failed attempt {attempts} of {ctx.settings.lock_after})"
        if locked_now:
            message += "; the account is now locked"
    violation = RuleViolation(rule, message, user=user, gate=gate, attempts=attempts)
    project: Project | None = None
    events: list[DomainEvent] = []
    exists = _project_exists(ctx, code)
    if exists:  # every failed sign-in on a project raises a security event (11.300(d))
        project = load_project(ctx, code)
        events.append(
            DomainEvent(
                SECURITY_ALERT,
                code,
                gate=gate if gate in project.snapshot.gates else None,
                data={
                    "user": user,
                    "attempts": attempts,
                    "locked": locked_now or failure.reason == "locked",
                    "customer": project.customer,
                    "reason": message,
                },
            )
        )
    chain = code if exists else SYSTEM_CHAIN
    _audit_refusal(
        ctx, chain, user, action, gate or user, violation, attempted, events, project=project
    )
    raise Refused(violation)


# ---------------------------------------------------------------------- audit


def verify_audit(ctx: Context, code: str | None = None) -> Any:
    from . import audit

    with ctx.db.unit_of_work() as uow:
        if code is not None and code != SYSTEM_CHAIN and uow.projects.get(code) is None:
            raise NotFound("project", code, "see `cdmo project list`")
    return audit.verify(ctx.db.engine, code)


def export_audit(ctx: Context, code: str, fmt: Literal["csv", "json"]) -> str:
    from . import audit

    with ctx.db.unit_of_work() as uow:
        if code != SYSTEM_CHAIN and uow.projects.get(code) is None:
            raise NotFound("project", code, "see `cdmo project list`")
    return audit.export(ctx.db.engine, code, fmt)
