"""People commands: team changes, delegations, condition acceptance, quality-hold release,
carried deliverables and the task lists (issue #16).

``cdmo team`` and ``cdmo delegate`` are their own groups; ``condition accept|reject``,
``project release`` and ``deliverable carry`` join the groups of ``cli/engine.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..display import markup, one_line, plain
from .common import (
    DbOption,
    JsonOption,
    context,
    credential_of,
    emit_json,
    errors,
    fail,
    password_or_none,
    require_database,
)
from .engine import By, IdemKey, Reason, _done, condition_app, deliverable_app, project_app

team_app = typer.Typer(help="Change a running project's team (project manager).")
delegate_app = typer.Typer(
    help="Delegate signing authority for a time (cdmo delegate --from ... --to ...), list "
    "and revoke delegations.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(team_app, name="team")
    app.add_typer(delegate_app, name="delegate")
    app.command("tasks")(tasks)


# ---------------------------------------------------------------------- team


def _team(kind: str, code: str, role: str, user: str, new_user: str | None, **kw: Any) -> None:
    from ..service import change_team

    by, reason, db = kw["by"], kw["reason"], kw["db"]
    with errors():
        result = change_team(
            context(db),
            code,
            kind,
            role,
            user,
            by,
            reason,
            new_user,
            kw["idempotency_key"],
            **credential_of(by, db),
        )
    what = {
        "add": f"{user} added to role {role}",
        "replace": f"{user} replaced by {new_user} in role {role}",
        "remove": f"{user} removed from role {role}",
    }[kind]
    _done(result, kw["json_out"], f"team of {code}: {what}")


@team_app.command("add")
def team_add(
    code: str,
    role: str,
    user: str,
    by: By,
    reason: Reason,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add USER to ROLE (they must hold the global role; they are told)."""
    _team(
        "add",
        code,
        role,
        user,
        None,
        by=by,
        reason=reason,
        db=db,
        idempotency_key=idempotency_key,
        json_out=json_out,
    )


@team_app.command("replace")
def team_replace(
    code: str,
    role: str,
    user: str,
    new_user: str,
    by: By,
    reason: Reason,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replace USER by NEW_USER in ROLE; the open conditions USER owns pass to NEW_USER."""
    _team(
        "replace",
        code,
        role,
        user,
        new_user,
        by=by,
        reason=reason,
        db=db,
        idempotency_key=idempotency_key,
        json_out=json_out,
    )


@team_app.command("remove")
def team_remove(
    code: str,
    role: str,
    user: str,
    by: By,
    reason: Reason,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Remove USER from ROLE (refused when a gate still ahead could no longer be passed)."""
    _team(
        "remove",
        code,
        role,
        user,
        None,
        by=by,
        reason=reason,
        db=db,
        idempotency_key=idempotency_key,
        json_out=json_out,
    )


# ---------------------------------------------------------------------- delegations


@delegate_app.callback()
def delegate(
    ctx: typer.Context,
    from_user: Annotated[
        str | None, typer.Option("--from", help="The delegator: whose authority.")
    ] = None,
    to_user: Annotated[
        str | None, typer.Option("--to", help="The delegate: who signs on their behalf.")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="The role delegated.")] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Only this project (default: every one).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="YYYY-MM-DD (UTC day) or an ISO 8601 time.")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="YYYY-MM-DD (the whole day included) or an ISO 8601 time."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who grants it: the delegator (default) or an administrator."),
    ] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Let --to sign as --role on behalf of --from from --start to --end (at most 90 days)."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        name
        for name, value in (
            ("--from", from_user),
            ("--to", to_user),
            ("--role", role),
            ("--start", start),
            ("--end", end),
            ("--reason", reason),
        )
        if not value
    ]
    if missing:
        fail(f"cdmo delegate needs {', '.join(missing)} (or a subcommand: list, revoke)", 2)
    assert from_user and to_user and role and start and end and reason
    from ..service import grant_delegation

    actor = by or from_user
    with errors():
        result = grant_delegation(
            context(db),
            from_user,
            to_user,
            role,
            start,
            end,
            reason,
            actor,
            project,
            idempotency_key,
            **credential_of(actor, db),
        )
    d = result.data.get("delegation") or {}
    _done(
        result,
        json_out,
        f"delegation {d.get('id')}: {to_user} may sign as {role} on behalf of {from_user} "
        f"({'project ' + project if project else 'every project'}) from {d.get('starts_at')} "
        f"until {d.get('ends_at')}",
    )


@delegate_app.command("list")
def delegate_list(
    user: Annotated[
        str | None, typer.Option("--user", help="Only delegations given or received.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delegations with their status now (scheduled, in force, ended, revoked)."""
    from ..service import list_delegations

    require_database(db)
    with errors():
        doc = list_delegations(context(db), user)
    if json_out:
        emit_json(doc)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "from", "to", "role", "scope", "from (UTC)", "until (UTC)", "status")
    for d in doc["delegations"]:
        table.add_row(
            *(
                markup(one_line(v))
                for v in (
                    d["id"],
                    d["delegator"],
                    d["delegate"],
                    d["role"],
                    d["project"] or "every project",
                    d["starts_at"],
                    d["revoked_at"] or d["ends_at"],
                    d["status"],
                )
            )
        )
    Console().print(table)


@delegate_app.command("revoke")
def delegate_revoke(
    delegation_id: Annotated[str, typer.Argument(help="The delegation, e.g. D7.")],
    by: By,
    reason: Reason,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """End a delegation now (its delegator, its delegate or an administrator)."""
    from ..service import revoke_delegation

    with errors():
        result = revoke_delegation(
            context(db), delegation_id, by, reason, idempotency_key, **credential_of(by, db)
        )
    _done(result, json_out, f"delegation {delegation_id} revoked by {by}")


# ---------------------------------------------------------------------- conditions


@condition_app.command("accept")
def condition_accept(
    code: str,
    condition_id: str,
    by: By,
    comment: Annotated[str | None, typer.Option("--comment", help="What was verified.")] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Accept a closed condition (the raiser's role or the quality role; not its closer)."""
    from ..service import accept_condition

    with errors():
        result = accept_condition(
            context(db), code, condition_id, by, comment, idempotency_key, **credential_of(by, db)
        )
    _done(result, json_out, f"condition {condition_id} accepted by {by}")


@condition_app.command("reject")
def condition_reject(
    code: str,
    condition_id: str,
    by: By,
    reason: Reason,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Send a closed condition back to its owner (it is open again)."""
    from ..service import reject_condition

    with errors():
        result = reject_condition(
            context(db), code, condition_id, by, reason, idempotency_key, **credential_of(by, db)
        )
    _done(result, json_out, f"condition {condition_id}: closure rejected by {by}")


# ---------------------------------------------------------------------- holds


@project_app.command("release")
def project_release(
    code: str,
    hold_id: Annotated[str, typer.Argument(help="The quality hold, e.g. H2.")],
    by: By,
    meaning: Annotated[
        str,
        typer.Option("--meaning", help="approval, review, responsibility or authorship."),
    ],
    reason: Reason,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Release a quality hold: a signature of the quality role (your password, every time)."""
    from ..service import release_hold

    password = password_or_none("Password (your electronic signature)")
    with errors():
        result = release_hold(
            context(db), code, hold_id, by, password, meaning, reason, idempotency_key
        )
    _done(result, json_out, f"quality hold {hold_id} of {code} released by {by} ({meaning})")


# ---------------------------------------------------------------------- deliverables


@deliverable_app.command("carry")
def deliverable_carry(
    code: str,
    phase: str,
    deliverable: str,
    by: By,
    reason: Reason,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """After a recycle: keep the earlier cycle's deliverable (phase owner), with a reason."""
    from ..service import carry_deliverable

    with errors():
        result = carry_deliverable(
            context(db),
            code,
            phase,
            deliverable,
            by,
            reason,
            idempotency_key,
            **credential_of(by, db),
        )
    _done(result, json_out, f"deliverable {phase}/{deliverable} carried forward by {by}")


# ---------------------------------------------------------------------- tasks


def tasks(
    user: Annotated[
        str | None, typer.Option("--user", help="One person (default: everyone with a task).")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """What waits for each person: gates to sign (with the roles they can fill, also by
    delegation), deliverables, checks, conditions to close or accept, quality holds to
    release, delegations ending soon; each with its due date and how late it is."""
    from ..service import tasks_document

    require_database(db)
    with errors():
        doc = tasks_document(context(db), user)
    if json_out:
        emit_json(doc)
        return
    print_tasks(doc)


def print_tasks(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..display import late

    console = Console()
    if not doc["users"]:
        console.print("nothing waits for anyone")
        return
    for user, items in doc["users"].items():
        console.print(f"[bold]{markup(one_line(user))}[/bold]: {len(items)} task(s)")
        if not items:
            continue
        table = Table("project", "what", "as", "due (UTC)", "late")
        for t in items:
            table.add_row(
                markup(one_line(t["project"] or "")),
                markup(one_line(t["title"]))[:200],
                markup(one_line(", ".join(t["roles"]))),
                markup(one_line(t["due_at"] or "")),
                plain(late(t["late_days"])),
            )
        console.print(table)
