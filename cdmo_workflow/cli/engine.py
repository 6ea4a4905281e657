"""Engine commands: users, projects, deliverables, checks, conditions, gates and the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..display import markup, one_line, plain
from .common import (
    DbOption,
    DefinitionsOption,
    JsonOption,
    context,
    emit_json,
    errors,
    fail,
    read_password,
    require_database,
)

users_app = typer.Typer(help="People who sign: ids, printed names, roles, credentials.")
project_app = typer.Typer(help="Start, inspect, hold and resume projects.")
deliverable_app = typer.Typer(help="Submit a phase's deliverables.")
check_app = typer.Typer(help="Confirm a gate's must-meet checks.")
condition_app = typer.Typer(help="Close conditions raised by a Conditional Go.")
gate_app = typer.Typer(help="Sign gates (re-authenticates at every signature).")
audit_app = typer.Typer(help="Verify and export the hash-chained audit trail.")

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
    app.add_typer(deliverable_app, name="deliverable")
    app.add_typer(check_app, name="check")
    app.add_typer(condition_app, name="condition")
    app.add_typer(gate_app, name="gate")
    app.add_typer(audit_app, name="audit")


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
    if name in ("project.completed", "project.killed", "project.on-hold", "project.resumed"):
        return f"project {event.project} {name.split('.', 1)[1]}"
    return None


# ---------------------------------------------------------------------- users


@users_app.command("add")
def users_add(
    user_id: Annotated[str, typer.Argument(help="Unique user id; never reused.")],
    name: Annotated[str, typer.Option("--name", help="Printed name shown on signatures.")],
    role: Annotated[list[str], typer.Option("--role", help="Global role (repeat).")],
    notify: Annotated[
        list[str] | None,
        typer.Option("--notify", help="Apprise URL for notifications (a secret; repeat)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Add a user. The password comes from CDMO_PASSWORD or a prompt without echo."""
    from ..notify.targets import check_apprise_urls
    from ..service import add_user

    with errors():  # before the password prompt: a bad URL ends here (exit 1)
        check_apprise_urls(notify or [])
    password = read_password(confirm=True, prompt="New password")
    with errors():
        add_user(context(db), user_id, name, role, password, notify or [])
    typer.echo(plain(f"user {user_id} added ({name}; roles: {', '.join(role)})"))


@users_app.command("unlock")
def users_unlock(
    user_id: str,
    by: By,
    db: DbOption = None,
) -> None:
    """Unlock an account locked after repeated failed sign-ins (administrators only; audited)."""
    from ..service import unlock_user

    with errors():
        unlock_user(context(db), user_id, by)
    typer.echo(plain(f"user {user_id} unlocked by {by}"))


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
    (CDMO_NEW_PASSWORD or prompt). Needed after an administrator's reset or on expiry."""
    from ..service import change_password

    old = read_password(prompt="Current password")
    new = _new_password("New password")
    with errors():
        change_password(context(db), user_id, old, new)
    typer.echo(plain(f"password of {user_id} changed"))


@users_app.command("reset-password")
def users_reset_password(user_id: str, by: By, db: DbOption = None) -> None:
    """Set a temporary password (administrators only; audited). The user must change it
    with `cdmo users passwd` before signing anything."""
    from ..service import reset_password

    temporary = _new_password("Temporary password")
    with errors():
        reset_password(context(db), user_id, by, temporary)
    typer.echo(plain(f"password of {user_id} reset by {by}; it must be changed before signing"))


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
        deactivate_user(context(db), user_id, by, reason)
    typer.echo(plain(f"user {user_id} deactivated by {by}"))


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


@project_app.command("start")
def project_start(
    code: str,
    process: Annotated[str, typer.Option("--process", help="Process id from definitions/.")],
    customer: Annotated[str, typer.Option("--customer", help="Customer (sponsor) name.")],
    team: Annotated[list[str], typer.Option("--team", help="ROLE=USER_ID (repeat).")],
    by: By,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    definitions: DefinitionsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Start a project, pinning the current definition version."""
    from ..service import start_project

    members = _parse_team(team)
    with errors():
        result = start_project(
            context(db, definitions), code, process, customer, members, by, idempotency_key
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
    if s.get("hold"):
        console.print(f"on hold since {m(s['hold']['at'])}: {m(s['hold']['reason'])}")
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
        if not g["signatures"] and g["state"] != "open":
            continue
        console.print(f"[bold]gate {m(g['id'])}[/bold] — {m(g['state'])}")
        for sig in g["signatures"]:
            console.print(
                f"  signed by {m(sig['name'])} ({m(sig['user'])}, {m(sig['role'])}) at "
                f"{m(sig['signed_at'])} — meaning: {m(sig['meaning'])} — decision: "
                f"{m(sig['decision'])}"
            )
        for miss in g["missing"]:
            console.print(f"  missing: {m(miss['role'])} × {m(miss['needed'])}")
    for c in s["conditions"]:
        console.print(
            f"condition {m(c['id'])} \\[{m(c['state'])}] on {m(c['phase'])}: {m(c['text'])}"
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
def project_hold(code: str, by: By, reason: Reason, db: DbOption = None) -> None:
    """Put a project on hold (project manager role)."""
    from ..service import hold_project

    with errors():
        result = hold_project(context(db), code, by, reason)
    _done(result, False, f"project {code} is on hold")


@project_app.command("resume")
def project_resume(code: str, by: By, reason: Reason, db: DbOption = None) -> None:
    """Resume a project on hold; after a gate's Hold the gate reopens with a fresh review."""
    from ..service import resume_project

    with errors():
        result = resume_project(context(db), code, by, reason)
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
            context(db), code, phase, deliverable, by, evidence, idempotency_key
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
        result = confirm_check(context(db), code, gate, check, by, evidence, idempotency_key)
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
        result = close_condition(context(db), code, condition_id, by, evidence, idempotency_key)
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
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sign a gate. You re-authenticate with your password at every signature."""
    from ..service import sign_gate

    password = read_password()
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
        )
    _done(result, json_out, f"gate {gate} signed by {by} as {role}: {decision} ({meaning})")


# ---------------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify(
    code: Annotated[str | None, typer.Argument(help="Project code (default: every chain).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Recompute the hash chain; exit 1 naming the first broken event."""
    from ..service import verify_audit

    require_database(db)
    with errors():
        result = verify_audit(context(db), code)
    data = result.to_dict() if hasattr(result, "to_dict") else dict(vars(result))
    if json_out:
        emit_json(data)
    if result.ok:
        if not json_out:
            typer.echo(f"audit trail intact: {result.checked} events verified")
        return
    broken = result.first_broken
    if not json_out:
        typer.echo(
            plain(f"audit trail BROKEN after {result.checked} good events: {broken}"), err=True
        )
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    code: str,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or html.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write to a file.")] = None,
    db: DbOption = None,
) -> None:
    """Export a project's audit trail with signature manifestations."""
    from ..service import export_audit

    if fmt not in ("csv", "json", "html"):
        fail(f"unknown format {fmt!r}: use csv, json or html", 2)
    require_database(db)
    with errors():
        if fmt == "html":  # the inspector's printout (reports/audit_print.py)
            from ..reports.audit_print import export_audit_html

            text = export_audit_html(context(db), code)
        else:
            text = export_audit(context(db), code, "csv" if fmt == "csv" else "json")
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        typer.echo(plain(f"wrote {out}"))
    else:
        typer.echo(text, nl=False)
