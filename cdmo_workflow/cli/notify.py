"""``cdmo notify`` (outbox: list, retry, relay) and ``cdmo gates watch`` (SLA reminders).

Heavy modules (SQLAlchemy, apprise) are imported inside the commands.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from ..display import moment, one_line
from .common import EXIT_USAGE, DbOption, JsonOption, emit_json, fail, require_database, run

notify_app = typer.Typer(help="Notifications: the outbox, its relay, retries.")
gates_app = typer.Typer(help="Watch open gates: SLA reminders and escalations.")

STATES = ("pending", "sent", "dead")


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
    app.add_typer(gates_app, name="gates")


def _database(db: str | None) -> Any:
    from cdmo_workflow.store import Database

    database = Database(db)
    database.migrate()
    return database


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@notify_app.command("list")
def notify_list(
    state: Annotated[
        str | None, typer.Option("--state", help="pending, sent or dead (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest rows to show.")] = 200,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List outbox rows, newest first, with each recipient's targets masked."""
    if state is not None and state not in STATES:
        fail(f"--state must be one of {', '.join(STATES)}", EXIT_USAGE)
    require_database(db)

    def go() -> None:
        from cdmo_workflow.notify.relay import pending_rows
        from cdmo_workflow.notify.targets import masked_targets

        database = _database(db)
        rows = pending_rows(database, state=state, limit=limit)
        with database.engine.connect() as conn:
            targets: dict[str, list[str]] = {}
            for t in masked_targets(conn):
                targets.setdefault(t["user"], []).append(t["target"])
        for r in rows:
            r["targets"] = targets.get(r["recipient"], [])
        if json_out:
            emit_json(rows)
            return
        if not rows:
            typer.echo("no notifications")
            return
        for r in rows:
            when = r["sent_at"] or r["next_attempt_at"]
            line = (
                f"{r['id']:>6}  {r['state']:<7} {r['notify_event']:<16} "
                f"{r['project'] or '-':<12} {r['recipient']:<12} "
                f"tries={r['attempts']}  {moment(when)}  "
                f"-> {', '.join(r['targets']) or '(no target)'}"
            )
            typer.echo(one_line(line))
            if r["last_error"] and r["state"] != "sent":
                typer.echo(f"        last error: {one_line(r['last_error'])}")

    run(go)


@notify_app.command("retry")
def notify_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox row ids.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Retry every dead row.")] = False,
    db: DbOption = None,
) -> None:
    """Put rows back to pending with attempts 0, to be sent on the next relay cycle."""
    if not ids and not dead:
        fail("give row ids or --dead", EXIT_USAGE)

    def go() -> None:
        from cdmo_workflow.notify.relay import retry

        count = retry(_database(db), ids=list(ids or []), dead=dead)
        typer.echo(f"{count} notification(s) queued again")

    run(go)


@notify_app.command("relay")
def notify_relay(
    once: Annotated[bool, typer.Option("--once", help="One batch, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between polls.")
    ] = 5.0,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Rows per claim.")] = None,
    db: DbOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each cycle.")] = False,
) -> None:
    """Send due notifications with apprise (retries with exponential back-off)."""
    _logging(verbose)

    def go() -> None:
        from cdmo_workflow.config import Settings
        from cdmo_workflow.notify.relay import relay_forever, relay_once

        settings = Settings.from_env()
        options: dict[str, Any] = {
            "batch": batch or settings.relay_batch_size,
            "max_attempts": settings.relay_max_attempts,
            "backoff_base": settings.relay_backoff_seconds,
            "ui_url": settings.ui_url,
        }
        database = _database(db)
        if once:
            stats = relay_once(database, **options)
            typer.echo(f"sent {stats.sent}, failed {stats.failed}, dead {stats.dead}")
            return
        typer.echo(f"relaying every {interval:g}s (Ctrl-C to stop)")
        try:
            total = relay_forever(database, interval, **options)
        except KeyboardInterrupt:
            return
        typer.echo(f"sent {total.sent}, failed {total.failed}, dead {total.dead}")

    run(go)


@gates_app.command("watch")
def gates_watch(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between passes.")
    ] = 300.0,
    db: DbOption = None,
    json_out: JsonOption = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each pass.")] = False,
) -> None:
    """Queue SLA reminders to missing signers and escalations of overdue gates."""
    _logging(verbose)

    def go() -> None:
        from cdmo_workflow.notify.watcher import watch_forever, watch_once

        database = _database(db)
        if once:
            stats = watch_once(database)
            if json_out:
                emit_json(stats.__dict__)
            else:
                typer.echo(
                    f"{stats.open_reviews} open gate review(s) in {stats.projects} project(s): "
                    f"{stats.reminders} reminder(s), {stats.escalations} escalation(s) queued"
                )
            return
        typer.echo(f"watching every {interval:g}s (Ctrl-C to stop)")
        try:
            watch_forever(database, interval)
        except KeyboardInterrupt:
            return

    run(go)
