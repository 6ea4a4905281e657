"""The one command runner: every state-changing command of the CLI, the flows and the UI.

``execute`` does, once for all commands and in this order: authenticate the actor (password or
session; a failure is counted towards the lockout and audited), then in one unit of work check
the idempotency key (bound to actor, command and arguments), the global role the command needs,
load the project, apply the pure core, append the audit row, queue the outbox rows, save with
the optimistic version check and commit; then the post-commit hooks. A lost race retries the
whole unit of work against fresh state. Any engine error rolls everything back and is audited
in its own transaction, so every refused command leaves exactly one audit row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.events import NOTIFY_EVENT_OF, SECURITY_ALERT, DomainEvent
from cdmo_workflow.domain.history import completed_runs
from cdmo_workflow.domain.limits import check_text
from cdmo_workflow.domain.project import Change, Project
from cdmo_workflow.domain.records import sha256_of
from cdmo_workflow.domain.views import status as status_view
from cdmo_workflow.identity import (
    AuthenticationFailed,
    IdentityError,
    WeakPassword,
    authenticate,
    needs_rehash,
    rehash,
)
from cdmo_workflow.service.authority import ADMIN_ROLE, AUTHORITY, Authority
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential, token_hash
from cdmo_workflow.service.errors import Refused
from cdmo_workflow.service.ports import UnitOfWork
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.spec.models import ProcessSnapshot

if TYPE_CHECKING:
    from cdmo_workflow.store.projects import StoredProject
    from cdmo_workflow.store.users import StoredUser

SYSTEM_CHAIN = "_system"
MAX_RETRIES = 20
COUNTED_RULES = frozenset({"code-invalid"})
"""Refusals that count as a failed sign-in of the named user (guessing a one-time code)."""

log = logging.getLogger("cdmo_workflow")


@dataclass
class Step:
    """What an ``apply`` function works with inside the command's unit of work."""

    ctx: Context
    uow: UnitOfWork
    now: datetime
    actor: StoredUser | None
    project: Project | None = None
    prepared: Any = None
    created: Project | None = None
    notices: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def require_project(self) -> Project:
        assert self.project is not None, "a project command without its project"
        return self.project

    def require_actor(self) -> StoredUser:
        assert self.actor is not None, "a command without an authenticated actor"
        return self.actor


Apply = Callable[[Step], Change]


@dataclass
class Command:
    """One request: the action (a key of ``AUTHORITY``), who asks, and what it would change."""

    action: str
    credential: Credential | None
    subject: str
    arguments: dict[str, Any]
    apply: Apply
    project: str | None = None
    """The existing project the command changes (its chain); None for system commands."""
    idempotency_key: str | None = None
    actor_label: str | None = None
    """Who the audit names when no credential is involved (bootstrap, provisioning)."""
    prepare: Callable[[], Any] | None = None
    """Work done before the transaction (loading definitions); refused like the rest."""

    @property
    def authority(self) -> Authority:
        return AUTHORITY[self.action]

    @property
    def actor(self) -> str:
        if self.credential is not None:
            return self.credential.user
        return self.actor_label or "unknown"

    def fingerprint(self) -> str:
        """What an idempotency key is bound to: actor, command, project and arguments."""
        return sha256_of(
            {
                "actor": self.actor,
                "action": self.action,
                "project": self.project,
                "subject": self.subject,
                "arguments": self.arguments,
            }
        )


# ---------------------------------------------------------------------- the runner


def project_command(
    ctx: Context,
    action: str,
    code: str,
    subject: str,
    arguments: dict[str, Any],
    credential: Credential,
    apply: Callable[[Project, Step], Change],
    idempotency_key: str | None,
    prepare: Callable[[], Any] | None = None,
) -> CommandResult:
    """Run a command on one project: ``apply`` gets the loaded project and the step."""
    return execute(
        ctx,
        Command(
            action,
            credential,
            subject,
            arguments,
            lambda step: apply(step.require_project(), step),
            project=code,
            idempotency_key=idempotency_key,
            prepare=prepare,
        ),
    )


def execute(ctx: Context, command: Command) -> CommandResult:
    """Run ``command`` through authentication, the core, audit, outbox and commit."""
    from cdmo_workflow.store import ConcurrentUpdate

    if not _encodable(command):
        clean = replace(
            command,
            subject=_clean(command.subject),
            arguments=_clean(command.arguments),
            credential=None,
            actor_label=_clean(command.actor),
        )
        _refuse(
            ctx,
            clean,
            RuleViolation(
                "invalid-text",
                "the command holds text that is not valid UTF-8 (a lone surrogate or a "
                "broken byte); retype it",
                user=clean.actor,
            ),
        )
    account, session = _authenticate(ctx, command)
    if command.idempotency_key is not None:
        try:
            check_text("idempotency key", command.idempotency_key)
        except RuleViolation as violation:
            _refuse(ctx, command, violation)
    prepared = None
    if command.prepare is not None:
        try:
            prepared = command.prepare()
        except (RuleViolation, NotFound) as violation:
            _refuse(ctx, command, violation)
    for _ in range(MAX_RETRIES):
        try:
            with ctx.db.unit_of_work() as uow:
                step = Step(ctx=ctx, uow=uow, now=uow.now(), actor=account, prepared=prepared)
                stored = None
                if command.project is not None:
                    # The project first, then the key: under READ COMMITTED each statement
                    # sees what was committed before it began, so a racer whose signature this
                    # load already sees has its key seen too (the other order let a racer's
                    # commit fall between the two reads: a refusal by the rules, not a replay).
                    step.project, stored = load(ctx, uow, command.project)
                replay = _replayed(uow, command)
                if replay is not None:
                    return replay
                _check_global_roles(command, account)
                change = command.apply(step)
                _after_authentication(uow, command, account, session)
                result = _commit(uow, command, step, stored, change)
            fire(ctx, result)
            return result
        except ConcurrentUpdate:
            continue
        except (RuleViolation, NotFound) as violation:
            _refuse(ctx, command, violation)
        except WeakPassword as weak:
            _refuse(ctx, command, RuleViolation("weak-password", str(weak), user=command.actor))
        except IdentityError as err:
            _refuse(ctx, command, RuleViolation("identity", str(err), user=command.actor))
    raise RuleViolation(
        "too-much-contention",
        f"{command.project or 'the system'} is being changed by many commands at once; try again",
        project=command.project,
    )


def _encodable(command: Command) -> bool:
    try:
        for text in (command.actor, command.subject, str(command.arguments)):
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(value: Any) -> Any:
    """Text that UTF-8 cannot hold, made storable (``\\udcff``) for the refusal's row."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def load(ctx: Context, uow: UnitOfWork, code: str) -> tuple[Project, StoredProject]:
    """The aggregate and its stored row (for the version check)."""
    stored = uow.projects.get(code)
    if stored is None:
        raise NotFound("project", code, "see `cdmo project list`")
    return Project.from_dict(stored.document, snapshot(ctx, uow, stored.version_hash)), stored


def snapshot(ctx: Context, uow: UnitOfWork, version_hash: str) -> ProcessSnapshot:
    snap = ctx.snapshots.get(version_hash)
    if snap is None:
        doc = uow.snapshots.get(version_hash)
        if doc is None:
            raise NotFound("process snapshot", version_hash)
        snap = ProcessSnapshot.model_validate(doc)
        ctx.snapshots[version_hash] = snap
    return snap


def fire(ctx: Context, result: CommandResult) -> None:
    """Post-commit hooks; a failing hook never undoes a committed command."""
    for hook in ctx.after_commit:
        try:
            hook(result)
        except Exception as exc:
            log.warning(
                "post-commit hook %s failed: %s: %s",
                getattr(hook, "__name__", type(hook).__name__),
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )


# ---------------------------------------------------------------------- steps


def _replayed(uow: UnitOfWork, command: Command) -> CommandResult | None:
    key = command.idempotency_key
    if not key:
        return None
    cached = uow.idempotency.get(key)
    if cached is None:
        return None
    if cached.get("fingerprint") != command.fingerprint():
        raise RuleViolation(
            "idempotency-key-reused",
            f"idempotency key {key!r} already used for another command",
            key=key,
            user=command.actor,
        )
    return CommandResult(
        project=command.project or cached.get("project"),
        change=None,
        status=cached.get("status"),
        audit_seq=cached.get("audit_seq"),
        replayed=True,
    )


def _check_global_roles(command: Command, account: StoredUser | None) -> None:
    needed = command.authority.global_roles
    if not needed:
        return
    held = list(account.roles) if account is not None else []
    if not set(needed) & set(held):
        raise RuleViolation(
            command.authority.rule or "role-required",
            f"user {command.actor!r} does not hold the global role "
            f"{' or '.join(repr(r) for r in needed)} needed to run `{command.authority.command}`",
            user=command.actor,
            role=needed[0],
        )


def _after_authentication(
    uow: UnitOfWork, command: Command, account: StoredUser | None, session: str | None
) -> None:
    """Clear the failure count, touch the session and upgrade an old hash, in the command's
    own transaction (so a refused command leaves them as they were)."""
    if account is None:
        return
    if account.failed_attempts:
        uow.users.reset_failures(account.user_id)
    if session is not None:
        uow.sessions.touch(session)
    cred = command.credential
    if cred is not None and cred.password is not None and needs_rehash(account.password_hash):
        uow.users.set_password_hash(account.user_id, rehash(cred.password))


def _commit(
    uow: UnitOfWork,
    command: Command,
    step: Step,
    stored: StoredProject | None,
    change: Change,
) -> CommandResult:
    project = step.created or step.project
    events = project.drain_events() if project is not None else []
    chain = project.code if project is not None else SYSTEM_CHAIN
    rec = uow.audit.append(
        chain=chain,
        actor=command.actor,
        action=change.action,
        subject=change.subject,
        old=change.old,
        new=change.new,
        events=[e.to_dict() for e in events],
        at=step.now,  # the core's own time: `audit verify --deep` replays with it
    )
    rows = outbox_rows(uow, project, events, rec.seq) if project is not None else []
    if project is not None:
        runs = completed_runs(project, events)  # the forecast's history (phase_runs)
        if runs:
            uow.history.add(runs)
    for index, notice in enumerate(step.notices):
        rows.append({**notice, "dedup_key": f"{chain}:{rec.seq}:n{index}:{notice['recipient']}"})
    if rows:
        uow.outbox.add(rows)
    status = None
    if project is not None:
        status = status_view(project)
        if step.created is not None:
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
            assert stored is not None
            moved = project.snapshot.version_hash != stored.version_hash
            uow.projects.save(
                project.code,
                project.to_dict(),
                project.state.value,
                stored.version,
                summary=project.summary(),
                version_hash=project.snapshot.version_hash if moved else None,
            )
    if command.idempotency_key:
        uow.idempotency.put(
            command.idempotency_key,
            change.action,
            project.code if project is not None else None,
            {
                "fingerprint": command.fingerprint(),
                "project": project.code if project is not None else None,
                "status": status,
                "audit_seq": rec.seq,
            },
        )
    uow.commit()
    return CommandResult(
        project=project.code if project is not None else None,
        change=change,
        events=events,
        status=status,
        audit_seq=rec.seq,
        aggregate=project,
        data=step.data,
    )


def outbox_rows(
    uow: UnitOfWork, project: Project, events: Sequence[DomainEvent], seq: int
) -> list[dict[str, Any]]:
    """Notifications for the events of one command, with printed names for the messages."""
    from cdmo_workflow.notify.routing import outbox_rows as route

    if not any(e.name in NOTIFY_EVENT_OF for e in events):
        return []
    people = uow.users.names(u for users in project.team.values() for u in users)
    context = {"customer": project.customer, "project_name": project.code, "people": people}
    return route(list(events), project.snapshot, project.team, seq, context=context)


# ---------------------------------------------------------------------- authentication


def _authenticate(ctx: Context, command: Command) -> tuple[StoredUser | None, str | None]:
    """The authenticated account and the session hash used, or an audited refusal."""
    needed = command.authority.credential
    if needed in ("none", "one-time-code"):
        return None, None
    cred = command.credential
    user = cred.user if cred is not None else command.actor
    if needed == "password" and (cred is None or cred.password is None):
        _refuse(
            ctx,
            command,
            RuleViolation(
                "password-required",
                f"`{command.authority.command}` needs the password of {user!r} "
                "(CDMO_PASSWORD or the prompt) at every use; a session is not enough "
                "(an electronic signature re-authenticates, Part 11.200)",
                user=user,
            ),
        )
    if cred is None or cred.kind == "none":
        _refuse(
            ctx,
            command,
            RuleViolation(
                "credential-required",
                f"`{command.authority.command}` needs the credential of {user!r}: the password "
                "(CDMO_PASSWORD or the prompt) or a session from `cdmo login`",
                user=user,
            ),
        )
    settings = ctx.settings
    if cred.password is not None:
        failure: AuthenticationFailed | None = None
        with ctx.db.unit_of_work(read_only=True) as uow:
            try:
                account = authenticate(
                    uow,
                    cred.user,
                    cred.password,
                    lock_after=settings.lock_after,
                    max_age_days=settings.password_max_age_days,
                    for_password_change=command.action == "user.passwd",
                )
            except AuthenticationFailed as exc:
                failure = exc
        if failure is not None:
            _refuse_sign_in(ctx, command, failure)
        return account, None
    assert cred.session is not None
    digest = token_hash(cred.session)
    with ctx.db.unit_of_work(read_only=True) as uow:
        now = uow.now()
        found = uow.sessions.get(digest)
        holder = uow.users.get(cred.user)
    problem: tuple[str, str] | None = None
    if found is None or holder is None or found.user_id != cred.user:
        problem = ("session-invalid", f"the session is not one of {cred.user!r}; sign in again")
    elif found.revoked_at is not None:
        problem = ("session-revoked", f"the session of {cred.user!r} was ended; sign in again")
    elif now > found.expires_at:
        problem = ("session-expired", f"the session of {cred.user!r} has expired; sign in again")
    elif now - found.last_used_at > timedelta(minutes=settings.session_idle_minutes):
        problem = (
            "session-expired",
            f"the session of {cred.user!r} was idle for more than "
            f"{settings.session_idle_minutes} minutes; sign in again with `cdmo login`",
        )
    elif not holder.active:
        problem = ("user-inactive", f"the account {cred.user!r} is deactivated")
    elif holder.locked or holder.failed_attempts >= settings.lock_after:
        problem = ("account-locked", f"account {cred.user!r} is locked; ask an administrator")
    if problem is not None:
        _refuse(
            ctx,
            command,
            RuleViolation(problem[0], problem[1], user=cred.user),
            count_failure=problem[0] == "session-invalid",
        )
    return holder, digest


SIGN_IN_RULES = {
    "unknown-user": "authentication-failed",
    "wrong-password": "authentication-failed",
    "locked": "account-locked",
    "inactive": "user-inactive",
    "no-password": "no-password",
    "password-change-required": "password-change-required",
    "password-expired": "password-expired",
}


def _refuse_sign_in(ctx: Context, command: Command, failure: AuthenticationFailed) -> NoReturn:
    user = failure.user_id
    if failure.reason == "locked":
        message = f"account {user!r} is locked after repeated failed sign-ins; ask an administrator"
    elif failure.reason in (
        "inactive",
        "no-password",
        "password-change-required",
        "password-expired",
    ):
        message = str(failure)
    else:
        message = f"sign-in failed for user {user!r}: wrong user id or password"
    violation = RuleViolation(
        SIGN_IN_RULES.get(failure.reason, "authentication-failed"), message, user=user
    )
    _refuse(ctx, command, violation, count_failure=failure.reason == "wrong-password")


# ---------------------------------------------------------------------- refusals


def _refuse(
    ctx: Context,
    command: Command,
    violation: RuleViolation | NotFound,
    *,
    count_failure: bool = False,
) -> NoReturn:
    """Audit the refusal in its own transaction (one row), then raise ``Refused``."""
    from cdmo_workflow.store import ConcurrentUpdate

    rule = getattr(violation, "rule", "not-found")
    count_failure = count_failure or rule in COUNTED_RULES
    user = command.actor
    for _ in range(MAX_RETRIES):
        try:
            with ctx.db.unit_of_work() as uow:
                attempts, locked_now = 0, False
                if count_failure and uow.users.get(user) is not None:
                    attempts, locked_now = uow.users.record_failure(
                        user, lock_after=ctx.settings.lock_after
                    )
                    if locked_now:
                        uow.sessions.revoke_all(user)
                if attempts and isinstance(violation, RuleViolation):
                    violation = _with_attempts(violation, attempts, locked_now, ctx)
                stored = uow.projects.get(command.project) if command.project else None
                chain = stored.code if stored is not None else SYSTEM_CHAIN
                events: list[DomainEvent] = []
                project: Project | None = None
                is_sign_in = rule in SIGN_IN_RULES.values() or rule.startswith("session-")
                if stored is not None and (count_failure or is_sign_in):
                    project = Project.from_dict(
                        stored.document, snapshot(ctx, uow, stored.version_hash)
                    )
                    gate = command.subject if command.subject in project.snapshot.gates else None
                    events.append(
                        DomainEvent(
                            SECURITY_ALERT,
                            project.code,
                            gate=gate,
                            data={
                                "user": user,
                                "attempts": attempts,
                                "locked": locked_now or rule == "account-locked",
                                "customer": project.customer,
                                "reason": getattr(violation, "message", str(violation)),
                            },
                        )
                    )
                rec = uow.audit.append(
                    chain=chain,
                    actor=user,
                    action=command.action,
                    subject=command.subject,
                    outcome="refused",
                    rule=rule,
                    reason=getattr(violation, "message", str(violation)),
                    old=None,
                    new=command.arguments or None,
                    events=[e.to_dict() for e in events],
                )
                if project is not None and events:
                    uow.outbox.add(outbox_rows(uow, project, events, rec.seq))
                uow.commit()
                break
        except ConcurrentUpdate:
            continue
    raise Refused(violation)


def _with_attempts(
    violation: RuleViolation, attempts: int, locked_now: bool, ctx: Context
) -> RuleViolation:
    message = f"{violation.message} (failed attempt {attempts} of {ctx.settings.lock_after})"
    if locked_now:
        message += "; the account is now locked"
    return RuleViolation(violation.rule, message, **{**violation.facts, "attempts": attempts})


def is_admin(account: StoredUser | None) -> bool:
    return account is not None and ADMIN_ROLE in account.roles
