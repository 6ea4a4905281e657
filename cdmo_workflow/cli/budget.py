"""Budget commands: ``cdmo budget set``, ``cdmo cost add|import|list``, and ``cdmo users tz``.

Amounts are read as text and handed to the core as exact decimals (never a float); what the
terminal shows goes through ``display.money``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any

import typer

from ..display import markup, money, one_line, plain
from .budget_view import print_budget
from .common import (
    DbOption,
    JsonOption,
    context,
    credential_of,
    emit_json,
    errors,
    fail,
    require_database,
)

budget_app = typer.Typer(help="Quote each phase of a project (the project manager).")
cost_app = typer.Typer(help="Commitments and actual costs of a project's phases.")

By = Annotated[str, typer.Option("--by", help="User id of the person acting.")]
IdemKey = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="Apply the command once even if it is sent twice."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(budget_app, name="budget")
    app.add_typer(cost_app, name="cost")
    from .engine import users_app

    users_app.command("tz")(users_tz)


def _done(result: Any, json_out: bool, message: str) -> None:
    if json_out:
        emit_json(result.to_dict())
        return
    if result.replayed:
        typer.echo(plain(f"{message} (already applied: idempotency key seen before)"))
        return
    typer.echo(plain(message))
    for event in result.events:
        if event.name == "budget.overrun":
            d = event.data
            where = f"phase {event.phase}" if event.phase else "the project total"
            typer.echo(
                plain(
                    f"  → budget overrun: {where} at {d.get('percent')} % of its quote "
                    f"({money(d.get('spent'), d.get('currency'))} against "
                    f"{money(d.get('quoted'), d.get('currency'))}; threshold "
                    f"{d.get('threshold')}); the team is notified"
                )
            )


@budget_app.command("set")
def budget_set(
    code: str,
    phase: str,
    quoted: Annotated[str, typer.Option("--quoted", help="Quoted amount, e.g. 120000.00.")],
    by: By,
    change: Annotated[
        str | None,
        typer.Option(
            "--change",
            help="The approved change request (CR-n) with a cost impact that allows a new quote.",
        ),
    ] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record the quoted amount of a phase, in the project's currency (project manager).

    The first quote of a phase is free; a new quote needs an approved change request with a
    cost impact (--change CR-n), and the quotes changed under it add up to at most that
    impact (rules quote-locked, cost-impact-exceeded)."""
    from ..service.budget import set_quote

    with errors():
        result = set_quote(
            context(db), code, phase, quoted, by, idempotency_key, change=change,
            **credential_of(by, db),
        )  # fmt: skip
    currency = (result.change.new or {}).get("currency") if result.change else None
    _done(result, json_out, f"phase {phase} of {code} quoted at {money(quoted, currency)}")


@cost_app.command("add")
def cost_add(
    code: str,
    phase: str,
    amount: Annotated[str, typer.Option("--amount", help="Amount, e.g. 12500.50.")],
    kind: Annotated[
        str, typer.Option("--kind", help="committed (an open purchase order) or actual.")
    ],
    ref: Annotated[str, typer.Option("--ref", help="ERP document number, e.g. PO-123.")],
    by: By,
    note: Annotated[str | None, typer.Option("--note", help="A note (500 characters).")] = None,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a commitment or an actual cost of a phase (project manager or finance role)."""
    from ..service.budget import add_cost

    with errors():
        result = add_cost(
            context(db),
            code,
            phase,
            amount,
            kind,
            ref,
            by,
            note,
            idempotency_key,
            **credential_of(by, db),
        )
    currency = (result.change.new or {}).get("currency") if result.change else None
    _done(result, json_out, f"{kind} cost {ref} of {money(amount, currency)} recorded on {phase}")


@cost_app.command("import")
def cost_import(
    code: str,
    file: Annotated[Path, typer.Argument(help="CSV export: phase, kind, amount, ref[, note...]")],
    by: By,
    idempotency_key: IdemKey = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import an ERP cost export (CSV). Every bad row is reported as file:row:column and
    nothing is imported; rows recorded before (same ref, kind, phase and amount) are skipped,
    so importing the same export twice is safe."""
    from ..service.budget import MAX_IMPORT_BYTES, import_costs

    try:
        if file.stat().st_size > MAX_IMPORT_BYTES:
            fail(f"{file.name} is larger than {MAX_IMPORT_BYTES // 1_000_000} MB; split the export")
        content = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        fail(f"no such file: {file}")
    except IsADirectoryError:
        fail(f"{file} is a folder, not a CSV file")
    except UnicodeDecodeError as exc:
        fail(f"{file.name}: the file is not UTF-8 text (byte {exc.start + 1}); export it as UTF-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    with errors():
        result = import_costs(
            context(db),
            code,
            content,
            file.name,
            by,
            idempotency_key,
            **credential_of(by, db),
        )
    d = result.data
    extra = (
        f"; ignored columns: {', '.join(d['ignored_columns'])}" if d.get("ignored_columns") else ""
    )
    _done(
        result,
        json_out,
        f"{d.get('file', file.name)}: {d.get('imported', 0)} cost(s) imported, "
        f"{d.get('skipped', 0)} already recorded (skipped){extra}",
    )


@cost_app.command("list")
def cost_list(
    code: str,
    phase: Annotated[str | None, typer.Option("--phase", help="Only this phase.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table (default), csv or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Every cost entry of a project, with the budget per phase. The CSV is safe to open in
    a spreadsheet (cells that would start a formula are prefixed with ')."""
    from ..service.budget import list_costs

    if fmt not in ("table", "csv", "json"):
        fail("--format must be table, csv or json", 2)
    require_database(db)
    with errors():
        data = list_costs(context(db), code, phase)
    if fmt == "json":
        emit_json(data)
        return
    if fmt == "csv":
        typer.echo(costs_csv(data["entries"]), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    print_budget(console, data["budget"])
    table = Table("phase", "kind", "amount", "ref", "note", "by", "recorded (UTC)")
    for e in data["entries"]:
        table.add_row(
            markup(e["phase"]),
            markup(e["kind"]),
            markup(money(e["amount"], e["currency"])),
            markup(one_line(e["ref"])),
            markup(one_line(e["note"] or "")),
            markup(e["recorded_by"]),
            markup(e["recorded_at"][:19].replace("T", " ")),
        )
    console.print(table)


COLUMNS = ("phase", "kind", "amount", "currency", "ref", "note", "booked_on", "source",
           "recorded_by", "recorded_at")  # fmt: skip


def costs_csv(entries: list[dict[str, Any]]) -> str:
    """The entries as CSV; cells that would start a formula are neutralised (the audit
    export's rule, ``audit.export.neutralise``)."""
    from ..audit.export import neutralise

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow([neutralise("" if e.get(c) is None else str(e[c])) for c in COLUMNS])
    return out.getvalue()


def users_tz(
    user_id: Annotated[str, typer.Argument(help="Your user id.")],
    zone: Annotated[str, typer.Argument(help="IANA time zone, e.g. Europe/Zurich (UTC: none).")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who asks (default: USER_ID; only the user may).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Set the time zone your messages and reports show times in (storage stays UTC)."""
    from ..service import set_time_zone

    actor = by or user_id
    with errors():
        set_time_zone(context(db), user_id, zone, actor, **credential_of(actor, db))
    typer.echo(plain(f"time zone of {user_id} set to {zone}"))
