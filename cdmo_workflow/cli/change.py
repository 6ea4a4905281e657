"""``cdmo change ...`` (change requests) and ``cdmo project migrate``."""

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

change_app = typer.Typer(help="Change requests: propose, submit, sign (e-signature), withdraw.")

By = Annotated[str, typer.Option("--by", help="User id of the person acting.")]
IdemKey = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="Apply the command once even if it is sent twice."),
]
CrArg = Annotated[str, typer.Argument(help="The change request, e.g. CR-1.")]


def register(app: typer.Typer) -> None:
    from .engine import project_app

    app.add_typer(change_app, name="change")
    project_app.command("migrate")(project_migrate)


def _print_events(result: Any) -> None:
    for e in result.events:
        d = e.data
        text = None
        if e.name == "change.submitted":
            needs = ", ".join(f"{a['role']} × {a['min']}" for a in d.get("approvers", []))
            text = f"{d.get('change')} submitted; approvers told: {needs}"
        elif e.name == "change.approved":
            text = f"{d.get('change')} approved"
        elif e.name == "change.rejected":
            text = f"{d.get('change')} rejected by {d.get('by')}"
        elif e.name == "change.applied":
            parts = []
            if d.get("baseline") is not None:
                parts.append(
                    f"baseline {d['baseline']} set (planned completion {d.get('baseline_end')})"
                )
            if d.get("migrated"):
                parts.append(
                    f"project moved to version {str(d['migrated']['to_version'])[:12]} "
                    f"(was {str(d['migrated']['from_version'])[:12]})"
                )
            if d.get("cost_impact"):
                parts.append(f"cost impact {d['cost_impact']} {d.get('currency')} recorded")
            text = f"{d.get('change')} applied: " + ("; ".join(parts) or "nothing to move")
        elif e.name == "phase.activated":
            text = f"phase {e.phase} is active"
        elif e.name == "gate.opened":
            text = f"gate {e.gate} is open for signature"
        if text:
            typer.echo(f"  → {one_line(text)}")


def _done(result: Any, json_out: bool, message: str) -> None:
    if json_out:
        emit_json(result.to_dict())
        return
    if result.replayed:
        typer.echo(plain(f"{message} (already applied: idempotency key seen before)"))
        return
    typer.echo(plain(message))
    _print_events(result)


@change_app.command("propose")
def change_propose(
    code: str,
    by: By,
    title: Annotated[str, typer.Option("--title", help="What changes, in a line.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (the customer reads it).")],
    schedule_impact: Annotated[
        str | None,
        typer.Option(
            "--schedule-impact",
            help="How far the remaining plan moves: 10bd, 2w, P10D; -5d brings it forward "
            "(write --schedule-impact=-5d).",
        ),
    ] = None,
    cost_impact: Annotated[
        str | None,
        typer.Option("--cost-impact", help="Cost impact, an exact amount, e.g. 12500.00."),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="ISO 4217 code of the cost, e.g. EUR.")
    ] = None,
    to_version: Annotated[
        str | None,
        typer.Option(
            "--to-version",
            help="The definition to move to: a git revision of the definitions repository or "
            "a folder holding definitions/ and gates/.",
        ),
    ] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    definitions: DefinitionsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Propose a change request (a draft; anyone on the project team)."""
    from ..service.changes import propose_change

    cred = credential_of(by, db)
    with errors():
        result = propose_change(
            context(db, definitions),
            code,
            by,
            title,
            reason,
            schedule_impact=schedule_impact,
            cost_impact=cost_impact,
            currency=currency,
            to_version=to_version,
            idempotency_key=idempotency_key,
            password=cred["password"],
            session=cred["session"],
        )
    new = result.change.new if result.change and result.change.new else {}
    cr = new.get("id") or result.change.subject if result.change else "the change request"
    needs = ", ".join(f"{a['role']} × {a['min']}" for a in new.get("approvers", []))
    _done(
        result,
        json_out,
        f"{cr} proposed as a draft by {by}" + (f"; approvers: {needs}" if needs else ""),
    )


@change_app.command("submit")
def change_submit(
    code: str,
    cr: CrArg,
    by: By,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Submit a draft for approval; its approvers are notified (proposer or project manager)."""
    from ..service.changes import submit_change

    with errors():
        result = submit_change(context(db), code, cr, by, idempotency_key, **credential_of(by, db))
    _done(result, json_out, f"{cr} submitted by {by}")


@change_app.command("sign")
def change_sign(
    code: str,
    cr: CrArg,
    by: By,
    role: Annotated[str, typer.Option("--role", help="Approver role you sign for.")],
    decision: Annotated[str, typer.Option("--decision", help="approve or reject.")],
    meaning: Annotated[
        str, typer.Option("--meaning", help="approval, review, responsibility or authorship.")
    ],
    comment: Annotated[
        str | None, typer.Option("--comment", help="Required with reject: why.")
    ] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sign a change request. You re-enter your password at every signature, session or not.
    A reject by any required approver rejects it; the last approval applies it."""
    from ..service.changes import sign_change

    password = password_or_none("Password (your electronic signature)")
    with errors():
        result = sign_change(
            context(db),
            code,
            cr,
            by,
            password,
            role,
            decision,
            meaning,
            comment=comment,
            idempotency_key=idempotency_key,
        )
    _done(result, json_out, f"{cr} signed by {by} as {role}: {decision} ({meaning})")


@change_app.command("withdraw")
def change_withdraw(
    code: str,
    cr: CrArg,
    by: By,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded and sent).")],
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Withdraw a draft or submitted request (proposer or project manager)."""
    from ..service.changes import withdraw_change

    with errors():
        result = withdraw_change(
            context(db), code, cr, by, reason, idempotency_key, **credential_of(by, db)
        )
    _done(result, json_out, f"{cr} withdrawn by {by}")


@change_app.command("list")
def change_list(code: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every change request of a project with its state and who is still missing."""
    from ..service.changes import list_changes

    require_database(db)
    with errors():
        rows = list_changes(context(db), code)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        typer.echo(f"project {plain(code)} has no change requests")
        return
    from rich.console import Console
    from rich.table import Table

    def m(v: Any) -> str:
        return markup(one_line(v if v is not None else ""))

    table = Table("id", "state", "title", "schedule", "cost", "version", "missing")
    for r in rows:
        cost = f"{r['cost_impact']} {r['currency']}" if r["cost_impact"] else ""
        missing = ", ".join(f"{x['role']} × {x['needed']}" for x in r["missing"])
        table.add_row(
            m(r["id"]),
            m(r["state"]),
            m(r["title"]),
            m(r["schedule_impact"]),
            m(cost),
            m((r["target_version"] or "")[:12]),
            m(missing),
        )
    Console().print(table)


@change_app.command("show")
def change_show(code: str, cr: CrArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """One change request: impacts, approvers, signatures (with manifestation and whether
    each still links to the request as it is), what approving it applied."""
    from ..service.changes import show_change

    require_database(db)
    with errors():
        v = show_change(context(db), code, cr)
    if json_out:
        emit_json(v)
        return
    lines = [
        f"{v['id']} · {v['title']} · {v['state']}",
        f"proposed by {v['proposed_by']} at {v['proposed_at']}",
        f"reason: {v['reason']}",
    ]
    if v["schedule_impact"]:
        lines.append(f"schedule impact: {v['schedule_impact']}")
    if v["cost_impact"]:
        lines.append(f"cost impact: {v['cost_impact']} {v['currency']}")
    if v["target"]:
        t = v["target"]
        lines.append(f"moves to version {t['version_hash'][:12]} ({t['ref']})")
    for trigger, why in sorted(v["touches"].items()):
        lines.append(f"touches {trigger}: {'; '.join(why[:3])}")
    needs = ", ".join(
        f"{a['role']} × {a['min']}" + (f" ({', '.join(a['because'])})" if a["because"] else "")
        for a in v["approvers"]
    )
    lines.append(f"approvers: {needs}")
    lines.append(f"record sha256:{v['record_hash']}")
    for s in v["signatures"]:
        link = "" if s["linked"] else " — NOT LINKED: the request changed after this signature"
        lines.append(f"  {s['manifestation']}{link}")
        if s.get("comment"):
            lines.append(f"    comment: {s['comment']}")
    for miss in v["missing"]:
        lines.append(f"  missing: {miss['role']} × {miss['needed']}")
    if v["withdrawn_by"]:
        lines.append(
            f"withdrawn by {v['withdrawn_by']} at {v['withdrawn_at']}: {v['withdraw_reason']}"
        )
    if v["applied"]:
        a = v["applied"]
        if a.get("baseline") is not None:
            lines.append(f"applied: baseline {a['baseline']}")
        if a.get("migrated"):
            mig = a["migrated"]
            lines.append(f"applied: version {mig['from_version'][:12]} → {mig['to_version'][:12]}")
    for line in lines:
        typer.echo(plain(line))


def project_migrate(
    code: str,
    to_version: Annotated[
        str,
        typer.Option("--to-version", help="A git revision of the definitions, or a folder."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the impact; change nothing.")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="User id (the project manager); not for --dry-run.")
    ] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    definitions: DefinitionsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Move a project to another version of its process: only under an approved change
    request naming it (approving one applies it at once). --dry-run prints the impact."""
    from ..service.changes import migrate_project, migration_impact

    if dry_run:
        require_database(db)
        with errors():
            impact = migration_impact(context(db, definitions), code, to_version)
        if json_out:
            emit_json(impact.to_dict())
        else:
            verdict = "can move" if impact.ok else "cannot move"
            typer.echo(
                plain(
                    f"project {code} {verdict} from version {impact.from_version[:12]} to "
                    f"{impact.to_version[:12]} ({to_version})"
                )
            )
            for line in impact.lines():
                typer.echo(plain(f"  {one_line(line)}"))
        raise typer.Exit(0 if impact.ok else 1)
    if not by:
        fail("--by USER is required unless --dry-run", 2)
    with errors():
        result = migrate_project(
            context(db, definitions), code, to_version, by, idempotency_key, **credential_of(by, db)
        )
    _done(result, json_out, f"project {code} moved to version {to_version}")
