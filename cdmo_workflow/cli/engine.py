"""Engine commands: users, projects, deliverables, checks, conditions and gates (the audit trail
is ``cli/audit.py``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..display import markup, one_line, plain
from .common import (
    DbOption,
    DefinitionsOption,
    JsonOption,
    context,
    credential_of,
    emit_json,
    errors,
    fail,
    password_or_none,
    require_database,
)

users_app = typer.Typer(help="People who sign: ids, printed names, roles, credentials.")
project_app = typer.Typer(help="Start, inspect, hold and resume projects.")
plan_app = typer.Typer(help="The dates agreed with the customer (baseline 0).")
deliverable_app = typer.Typer(help="Submit a phase's deliverables.")
check_app = typer.Typer(help="Confirm a gate's must-meet checks.")
condition_app = typer.Typer(help="Close conditions raised by a Conditional Go.")
gate_app = typer.Typer(help="Sign gates (re-authenticates at every signature).")
admin_app = typer.Typer(help="Set up the first administrator.")

By = Annotated[str, typer.Option("--by", help="User id of the person acting.")]
Evidence = Annotated[
    str, typer.Option("--evidence", help="Reference to the evidence (e.g. a DMS document id).")
]
IdemKey = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="Apply the command once even if it is sent twice."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(project_app, name="project")
    app.add_typer(plan_app, name="plan")
    app.add_typer(deliverable_app, name="deliverable")
    app.add_typer(check_app, name="check")
    app.add_typer(condition_app, name="condition")
    app.add_typer(gate_app, name="gate")
    app.add_typer(admin_app, name="admin")
    app.command("login")(login)
    app.command("logout")(logout)


@admin_app.command("init")
def admin_init(
    user_id: Annotated[str, typer.Argument(help="User id of the first administrator.")],
    name: Annotated[str, typer.Option("--name", help="Printed name.")],
    notify: Annotated[
        list[str] | None, typer.Option("--notify", help="Apprise URL (a secret; repeat).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create the first administrator (password from CDMO_PASSWORD or a prompt). Refused once
    an administrator exists."""
    import os
    import sys

    from ..service import admin_init as init

    password = os.environ.get("CDMO_PASSWORD", "")
    if not password:
        if not sys.stdin.isatty():
            fail("no password given: set CDMO_PASSWORD or run in a terminal", 2)
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with errors():
        init(context(db), user_id, name, password, notify or [])
    typer.echo(f"administrator {user_id} created ({name})")


def login(
    user_id: Annotated[str, typer.Argument(help="Your user id.")],
    db: DbOption = None,
) -> None:
    """Open a session for later commands (your password from CDMO_PASSWORD or a prompt).

    Signatures still ask for the password. The token is kept in CDMO_SESSION_FILE
    (default ~/.cdmo/session, mode 0600); idle timeout 15 minutes, absolute 12 hours."""
    from ..service import login as open_session
    from .common import _database_url
    from .session_file import store_token

    password = password_or_none()
    with errors():
        result = open_session(context(db), user_id, password or "")
    where = store_token(user_id, _database_url(db), result.data["token"])
    typer.echo(f"signed in as {user_id} until {result.data['expires_at']} (session in {where})")


def logout(
    user_id: Annotated[str, typer.Argument(help="Your user id.")],
    db: DbOption = None,
) -> None:
    """End your session (also ended by lockout, deactivation and password change)."""
    from ..service import logout as end_session
    from .common import _database_url
    from .session_file import drop_token

    token = drop_token(user_id, _database_url(db))
    if token is None:
        typer.echo(f"no session of {user_id} here")
        return
    with errors():
        end_session(context(db), user_id, token)
    typer.echo(f"session of {user_id} ended")


def _done(result: Any, json_out: bool, message: str) -> None:
    if json_out:
        emit_json(result.to_dict() if hasattr(result, "to_dict") else result)
        return
    if getattr(result, "replayed", False):
        typer.echo(plain(f"{message} (already applied: idempotency key seen before)"))
        return
    typer.echo(plain(message))
    for event in getattr(result, "events", []) or []:
        text = _describe_event(event)
        if text:
            typer.echo(f"  → {one_line(text)}")


def _describe_event(event: Any) -> str | None:
    d = event.data
    name = event.name
    if name == "phase.activated":
        return f"phase {event.phase} is active"
    if name == "gate.opened":
        need = ", ".join(f"{m['role']}×{m['needed']}" for m in d.get("missing", []))
        return f"gate {event.gate} is open for signature (needs {need})"
    if name == "gate.decided":
        return f"gate {event.gate} decided: {d.get('outcome')}"
    if name == "condition.opened":
        return f"condition {d.get('condition')} opened on phase {event.phase}: {d.get('text')}"
    if name == "phase.reset":
        return f"phase {event.phase} reset to pending (recycled to {d.get('recycled_to')})"
    if name == "condition.closed" and d.get("needs_acceptance"):
        return f"condition {d.get('condition')} closed: it waits for acceptance"
    if name == "condition.accepted":
        return f"condition {d.get('condition')} accepted by {d.get('by')}"
    if name == "condition.rejected":
        return f"condition {d.get('condition')} is open again (closure rejected)"
    if name == "phase.on-hold":
        return f"phase {event.phase} is on quality hold {d.get('hold')}"
    if name == "phase.resumed":
        return f"phase {event.phase}: quality hold {d.get('hold')} released"
    if name == "hold.released":
        still = ", ".join(d.get("still_held_by") or [])
        return f"hold(s) {', '.join(d.get('holds') or [])} released; still on hold ({still})"
    if name == "team.changed":
        return f"team: {d.get('role')} is now {', '.join(d.get('members') or []) or 'nobody'}"
    if name in ("project.completed", "project.killed", "project.on-hold", "project.resumed"):
        return f"project {event.project} {name.split('.', 1)[1]}"
    return None


# ---------------------------------------------------------------------- users


@users_app.command("add")
def users_add(
    user_id: Annotated[str, typer.Argument(help="Unique user id; never reused.")],
    name: Annotated[str, typer.Option("--name", help="Printed name shown on signatures.")],
    role: Annotated[list[str], typer.Option("--role", help="Global role (repeat).")],
    by: By,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            help="Apprise URL for notifications (a secret; repeat). The one-time code that "
            "sets the first password goes there.",
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="IANA time zone the user reads times in, e.g. Europe/Zurich."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Add a user (administrators: your password or session). The new user sets their own
    password with the one-time code sent to their notification target."""
    from ..service import add_user

    with errors():
        add_user(
            context(db),
            user_id,
            name,
            role,
            notify or [],
            by,
            **credential_of(by, db),
            time_zone=tz,
        )
    typer.echo(
        plain(
            f"user {user_id} added ({name}; roles: {', '.join(role)}); a one-time code was "
            f"sent to their notification target: they run `cdmo users activate {user_id}`"
        )
    )


def _admin(action: Any, user_id: str, by: str, db: str | None, message: str, *args: Any) -> None:
    with errors():
        action(context(db), user_id, *args, by=by, **credential_of(by, db))
    typer.echo(message)


@users_app.command("unlock")
def users_unlock(user_id: str, by: By, db: DbOption = None) -> None:
    """Unlock an account locked after repeated failed sign-ins (administrators; audited)."""
    from ..service import unlock_user

    _admin(unlock_user, user_id, by, db, f"user {user_id} unlocked by {by}")


def _new_password(prompt: str) -> str:
    """A new password: CDMO_NEW_PASSWORD, else a prompt without echo, asked twice."""
    import os
    import sys

    env = os.environ.get("CDMO_NEW_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        fail("no new password given: set CDMO_NEW_PASSWORD or run in a terminal", 2)
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("passwd")
def users_passwd(user_id: str, db: DbOption = None) -> None:
    """Change your password: the current one (CDMO_PASSWORD or prompt), then the new one
    (CDMO_NEW_PASSWORD or prompt). Ends your sessions."""
    from ..service import change_password

    old = password_or_none("Current password")
    new = _new_password("New password")
    with errors():
        change_password(context(db), user_id, old or "", new)
    typer.echo(f"password of {user_id} changed")


@users_app.command("activate")
def users_activate(user_id: str, db: DbOption = None) -> None:
    """Set your password with the one-time code sent to you (CDMO_ONE_TIME_CODE or prompt),
    after `users add` or `users reset-password`; the new password from CDMO_NEW_PASSWORD."""
    import os
    import sys

    from ..service import activate_account

    code = os.environ.get("CDMO_ONE_TIME_CODE", "").strip()
    if not code:
        if not sys.stdin.isatty():
            fail("no one-time code given: set CDMO_ONE_TIME_CODE or run in a terminal", 2)
        code = typer.prompt("One-time code", hide_input=True)
    new = _new_password("New password")
    with errors():
        activate_account(context(db), user_id, code, new)
    typer.echo(f"password of {user_id} set; the one-time code is spent")


@users_app.command("reset-password")
def users_reset_password(user_id: str, by: By, db: DbOption = None) -> None:
    """Administrators: the user's password stops working and a one-time code goes to the
    user's own notification targets (never to you). Audited."""
    from ..service import reset_password

    _admin(
        reset_password,
        user_id,
        by,
        db,
        f"password of {user_id} reset by {by}; a one-time code was sent to {user_id}'s "
        "notification target",
    )


@users_app.command("deactivate")
def users_deactivate(
    user_id: str,
    by: By,
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")],
    db: DbOption = None,
) -> None:
    """Withdraw an account (lost credentials, leaver); its id is never reused."""
    from ..service import deactivate_user

    with errors():
        deactivate_user(context(db), user_id, by, reason, **credential_of(by, db))
    typer.echo(f"user {user_id} deactivated by {by}")


@users_app.command("grant")
def users_grant(user_id: str, role: str, by: By, db: DbOption = None) -> None:
    """Give a user a global role (administrators; never yourself)."""
    from ..service import grant_role

    _admin(grant_role, user_id, by, db, f"role {role} granted to {user_id} by {by}", role)


@users_app.command("revoke")
def users_revoke(user_id: str, role: str, by: By, db: DbOption = None) -> None:
    """Take a global role away from a user (administrators; never yourself)."""
    from ..service import revoke_role

    _admin(revoke_role, user_id, by, db, f"role {role} revoked from {user_id} by {by}", role)


notify_targets_app = typer.Typer(help="Your own notification targets (apprise URLs).")
users_app.add_typer(notify_targets_app, name="notify")


@notify_targets_app.command("add")
def users_notify_add(user_id: str, url: str, db: DbOption = None) -> None:
    """Add a notification target to your own account; your other targets are told."""
    from ..service import add_target

    with errors():
        add_target(context(db), user_id, url, **credential_of(user_id, db))
    typer.echo(f"notification target added for {user_id}")


@notify_targets_app.command("remove")
def users_notify_remove(user_id: str, url: str, db: DbOption = None) -> None:
    """Remove one of your own notification targets; your targets are told."""
    from ..service import remove_target

    with errors():
        remove_target(context(db), user_id, url, **credential_of(user_id, db))
    typer.echo(f"notification target removed for {user_id}")


@users_app.command("list")
def users_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List users with roles, lock state and masked notification targets."""
    from ..service import list_users

    require_database(db)
    with errors():
        users = list_users(context(db))
    if json_out:
        emit_json(users)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("user", "name", "roles", "locked", "targets")
    for u in users:
        table.add_row(
            markup(one_line(u["user"])),
            markup(one_line(u["name"])),
            markup(one_line(", ".join(u["roles"]))),
            "locked" if u["locked"] else "",
            "\n".join(markup(one_line(t)) for t in u["targets"]),
        )
    Console().print(table)


# ---------------------------------------------------------------------- projects


def _parse_team(team: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in team:
        role, sep, user = item.partition("=")
        if not sep or not role.strip() or not user.strip():
            fail(f"--team expects ROLE=USER_ID, got {item!r}", 2)
        for uid in user.split(","):
            out.setdefault(role.strip(), []).append(uid.strip())
    return out


@plan_app.command("set")
def plan_set(
    code: str,
    plan: Annotated[str, typer.Argument(help="The plan file (kind: plan YAML).")],
    by: By,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Make the agreed dates baseline 0 (project manager, before the first gate decision).

    Every phase's start and end (both days included) and named milestones; checked against
    the project's process with file:line errors. Later, dates move only through an approved
    change request (cdmo change propose --schedule-impact)."""
    from ..service.projects import set_plan

    with errors():
        result = set_plan(context(db), code, plan, by, idempotency_key, **credential_of(by, db))
    new = (result.change.new or {}) if result.change else {}
    end = max((p["end"][:10] for p in (new.get("phases") or {}).values()), default="?")
    _done(result, json_out, f"plan of {code} agreed: baseline 0 ends {end}")


@project_app.command("start")
def project_start(
    code: str,
    process: Annotated[str, typer.Option("--process", help="Process id from definitions/.")],
    customer: Annotated[str, typer.Option("--customer", help="Customer (sponsor) name.")],
    team: Annotated[list[str], typer.Option("--team", help="ROLE=USER_ID (repeat).")],
    by: By,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="ISO 4217 code of the budget (default: the process's)."),
    ] = None,
    calendar: Annotated[
        str | None,
        typer.Option("--calendar", help="Site calendar id (default: the process's)."),
    ] = None,
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="The agreed plan (kind: plan YAML): baseline 0."),
    ] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    definitions: DefinitionsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Start a project, pinning the current definition version (with its site calendar)."""
    from ..service import start_project

    members = _parse_team(team)
    with errors():
        result = start_project(
            context(db, definitions),
            code,
            process,
            customer,
            members,
            by,
            idempotency_key,
            **credential_of(by, db),
            currency=currency,
            calendar=calendar,
            plan=plan,
        )
    status = result.status or {}
    pin = status.get("process", {})
    _done(
        result,
        json_out,
        f"project {code} started on {process} (version {str(pin.get('version_hash'))[:12]})",
    )


@project_app.command("status")
def project_status(
    code: str,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Phases, gates, signatures (with manifestation) and open conditions of a project."""
    from ..service import project_status as status_of

    require_database(db)
    with errors():
        status = status_of(context(db), code)
    if json_out:
        emit_json(status)
        return
    _print_status(status)


def _print_status(s: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def m(value: Any) -> str:
        return markup(one_line(value))

    console = Console()
    console.print(
        f"[bold]{m(s['code'])}[/bold] · {m(s['customer'])} · {m(s['process']['id'])} "
        f"({m(s['process']['version_hash'][:12])}) · [bold]{m(s['state'])}[/bold]"
    )
    for h in s.get("holds") or []:
        kind = "quality hold" if h.get("quality") else "hold"
        line = (
            f"{kind} {m(h.get('id') or '')} on {m(h.get('held_phase') or 'the project')} by "
            f"{m(h['by'])} at {m(h['at'])}: {m(h['reason'])}"
        )
        if h.get("released_at"):
            sig = h.get("release_signature") or {}
            how = f" (signed, meaning {m(sig.get('meaning'))})" if sig else ""
            line += (
                f" — released by {m(h.get('released_by'))} at {m(h['released_at'])}{how}: "
                f"{m(h.get('release_reason') or '')}"
            )
        else:
            line += " — [bold]active[/bold]"
        console.print(line)
    phases = Table("phase", "state", "started", "completed", "gate")
    gates = {g["phase"]: g for g in s["gates"]}
    for p in s["phases"]:
        g = gates[p["id"]]
        gate_text = g["state"] + (f" ({g['outcome']})" if g.get("outcome") else "")
        phases.add_row(
            m(p["id"]),
            m(p["state"]),
            m(p["started_at"] or ""),
            m(p["completed_at"] or ""),
            m(gate_text),
        )
    console.print(phases)
    for g in s["gates"]:
        earlier = [r for r in g.get("reviews") or [] if r.get("outcome")]
        if not g["signatures"] and g["state"] != "open" and not earlier:
            continue
        console.print(f"[bold]gate {m(g['id'])}[/bold] — {m(g['state'])}")
        sigs = g["signatures"]
        if not sigs and g["state"] != "open" and earlier:
            last = earlier[-1]  # recycled or held: the last decision stays visible
            console.print(
                f"  last decision: {m(last['outcome'])} (review {m(last['number'])}, "
                f"{m(last.get('decided_at') or '')})"
            )
            sigs = last.get("signatures") or []
        for sig in sigs:
            behalf = (
                f" on behalf of {m(sig.get('on_behalf_of_name') or sig['on_behalf_of'])} "
                f"({m(sig['on_behalf_of'])})"
                if sig.get("on_behalf_of")
                else ""
            )
            console.print(
                f"  signed by {m(sig['name'])} ({m(sig['user'])}, {m(sig['role'])}){behalf} at "
                f"{m(sig['signed_at'])} — meaning: {m(sig['meaning'])} — decision: "
                f"{m(sig['decision'])}"
            )
        for miss in g["missing"]:
            console.print(f"  missing: {m(miss['role'])} × {m(miss['needed'])}")
    for c in s["conditions"]:
        owner = c.get("owner") or "phase owner or manager"
        due = f", due {m(c['due_at'])}" if c.get("due_at") else ""
        line = (
            f"condition {m(c['id'])} \\[{m(c['state'])}] blocks "
            f"{m(', '.join(c.get('phases') or [c['phase']]))} (owner {m(owner)}{due}): "
            f"{m(c['text'])}"
        )
        if c.get("evidence"):
            line += f" — evidence {m(c['evidence'])} by {m(c.get('closed_by'))}"
        if c.get("accepted_by"):
            line += f" — accepted by {m(c['accepted_by'])}"
        console.print(line)
    for cr in s.get("change_requests") or []:
        missing = ", ".join(f"{m(x['role'])} × {m(x['needed'])}" for x in cr["missing"])
        console.print(
            f"change request {m(cr['id'])} \\[{m(cr['state'])}]: {m(cr['title'])}"
            + (f" (missing: {missing})" if missing else "")
        )
    baselines = s.get("baselines") or []
    if len(baselines) > 1:
        b = baselines[-1]
        console.print(
            f"baseline {m(b['number'])} ({m(b['change'])}, set {m(b['at'])}); earlier: "
            + ", ".join(m(x["number"]) for x in baselines[:-1])
        )
    _print_open_items(console, s.get("open_items") or [], m)
    from .budget_view import print_budget

    print_budget(console, s.get("budget"))


def _print_open_items(console: Any, phases: list[dict[str, Any]], m: Any) -> None:
    """What is still open in each active phase, and who owns it (plain text markers)."""
    for ph in phases:
        console.print(f"[bold]open in {m(ph['phase'])}[/bold] ({m(ph['name'])})")
        if not ph["items"]:
            console.print("  nothing: the gate is waiting for its sign-offs")
        for it in ph["items"]:
            owners = ", ".join(m(u) for u in it["owners"]) or "nobody assigned"
            console.print(
                f"  - {m(it['kind'])} {m(it['id'])}: {m(it['name'])} "
                f"(owner {m(it['owner_role'])}: {owners})"
            )


@project_app.command("list")
def project_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every project with its state, current phases and open gates."""
    from ..service import list_projects

    require_database(db)
    with errors():
        rows = list_projects(context(db))
    if json_out:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("code", "customer", "process", "state", "phases", "open gates")
    for r in rows:
        table.add_row(
            markup(one_line(r["code"])),
            markup(one_line(r["customer"])),
            markup(one_line(r["process"])),
            markup(one_line(r["state"])),
            markup(one_line(", ".join(r["phases"]))),
            markup(one_line(", ".join(g["gate"] for g in r["open_gates"]))),
        )
    Console().print(table)


Reason = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit trail).")]


@project_app.command("hold")
def project_hold(
    code: str,
    by: By,
    reason: Reason,
    phase: Annotated[
        str | None, typer.Option("--phase", help="Hold one phase only (quality role).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Put the project on hold (project manager or quality role), or one phase (quality role).
    A quality hold is released only by the quality role (`cdmo project release`)."""
    from ..service import hold_project

    with errors():
        result = hold_project(context(db), code, by, reason, phase=phase, **credential_of(by, db))
    held = (result.change.new or {}) if result.change else {}
    kind = "quality hold" if held.get("quality") else "hold"
    where = f"phase {phase} of project {code}" if phase else f"project {code}"
    _done(result, False, f"{where} is on {kind} {held.get('id') or ''}".rstrip())


@project_app.command("resume")
def project_resume(code: str, by: By, reason: Reason, db: DbOption = None) -> None:
    """Resume a project on hold; after a gate's Hold the gate reopens with a fresh review."""
    from ..service import resume_project

    with errors():
        result = resume_project(context(db), code, by, reason, **credential_of(by, db))
    _done(result, False, f"project {code} resumed")


# ---------------------------------------------------------------------- items


@deliverable_app.command("submit")
def deliverable_submit(
    code: str,
    phase: str,
    deliverable: str,
    by: By,
    evidence: Evidence,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Submit a deliverable of an active phase (deliverable owner role)."""
    from ..service import submit_deliverable

    with errors():
        result = submit_deliverable(
            context(db),
            code,
            phase,
            deliverable,
            by,
            evidence,
            idempotency_key,
            **credential_of(by, db),
        )
    _done(result, json_out, f"deliverable {phase}/{deliverable} submitted by {by}")


@check_app.command("confirm")
def check_confirm(
    code: str,
    gate: str,
    check: str,
    by: By,
    evidence: Evidence,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Confirm a must-meet check of a gate (the check's confirmed_by role)."""
    from ..service import confirm_check

    with errors():
        result = confirm_check(
            context(db), code, gate, check, by, evidence, idempotency_key, **credential_of(by, db)
        )
    _done(result, json_out, f"check {gate}/{check} confirmed by {by}")


@condition_app.command("close")
def condition_close(
    code: str,
    condition_id: str,
    by: By,
    evidence: Evidence,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Close an open condition with evidence (phase owner or project manager role)."""
    from ..service import close_condition

    with errors():
        result = close_condition(
            context(db), code, condition_id, by, evidence, idempotency_key, **credential_of(by, db)
        )
    _done(result, json_out, f"condition {condition_id} closed by {by}")


@gate_app.command("sign")
def gate_sign(
    code: str,
    gate: str,
    by: By,
    role: Annotated[str, typer.Option("--role", help="Role you sign for on this project.")],
    decision: Annotated[
        str, typer.Option("--decision", help="go, conditional-go, hold, recycle or kill.")
    ],
    meaning: Annotated[
        str,
        typer.Option("--meaning", help="approval, review, responsibility or authorship."),
    ],
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option("--condition", help="Condition of a conditional-go (repeat)."),
    ] = None,
    condition_owner: Annotated[
        list[str] | None,
        typer.Option(
            "--condition-owner",
            help="Owner of the condition(s): role:ROLE, user:USER_ID, or a role or team member "
            "id (once for all, or once per --condition). Default: the blocked phases' owner "
            "role, or the manager role when they differ.",
        ),
    ] = None,
    condition_due: Annotated[
        list[str] | None,
        typer.Option(
            "--condition-due",
            help="Due: a duration from the decision (10bd) or a date YYYY-MM-DD (once for all, "
            "or once per --condition). Default: the gate's condition_due.",
        ),
    ] = None,
    condition_blocks: Annotated[
        list[str] | None,
        typer.Option(
            "--condition-blocks",
            help="Phases whose gates the condition blocks, comma-separated (once for all, or "
            "once per --condition). Default: every direct successor.",
        ),
    ] = None,
    on_behalf_of: Annotated[
        str | None,
        typer.Option(
            "--on-behalf-of",
            help="Sign as the delegate of this person (a delegation from them must be in "
            "force); the signature shows both names.",
        ),
    ] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sign a gate. You re-enter your password at every signature, session or not."""
    from ..service import sign_gate

    password = password_or_none("Password (your electronic signature)")
    with errors():
        result = sign_gate(
            context(db),
            code,
            gate,
            by,
            password,
            role,
            decision,
            meaning,
            comment=comment,
            conditions=condition or [],
            idempotency_key=idempotency_key,
            on_behalf_of=on_behalf_of,
            condition_owner=condition_owner or [],
            condition_due=condition_due or [],
            condition_blocks=condition_blocks or [],
        )
    behalf = f" on behalf of {on_behalf_of}" if on_behalf_of else ""
    _done(
        result,
        json_out,
        f"gate {gate} signed by {by}{behalf} as {role}: {decision} ({meaning})",
    )
