"""``cdmo up`` (everything on one machine) and ``cdmo serve`` (serve the flows to a server).

Prefect is imported only inside the commands, after the environment is set up, because
Prefect reads its settings when it is first imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import errors

DEFAULT_PORT = 4200
UP_RUN_LIMIT = 10
"""Flow-run processes ``cdmo up`` starts at once. Without a limit, a bulk opening (an
import, a migration) starts every gate run at once; on a small machine their heartbeats
then come late and the zombie automation crashes them. A re-execution after a Resume
usually runs in the serving process itself and takes no slot."""


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("serve")(serve)
    app.command("listen")(listen)


def _banner_users(users: dict[str, list[str]]) -> list[str]:
    width = max(len(u) for u in users)
    return [f"    {uid.ljust(width)}  {', '.join(roles)}" for uid, roles in users.items()]


def up(
    port: Annotated[int, typer.Option("--port", help="Port of the Prefect UI and API.")] = (
        DEFAULT_PORT
    ),
    no_demo: Annotated[
        bool, typer.Option("--no-demo", help="Do not create the demo users and project.")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Project database URL (default: sqlite:///<home>/cdmo.db)."),
    ] = None,
    home: Annotated[
        str, typer.Option("--home", help="Folder for the databases and logs (default .cdmo).")
    ] = ".cdmo",
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between the runner's polls.")
    ] = 2.0,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many flow-run processes at once.")
    ] = UP_RUN_LIMIT,
) -> None:
    """Start the Prefect server and UI, the project database and the served flows, with a
    demo project whose first gate waits for sign-off in the UI. Ctrl-C stops everything."""
    from ..orchestration import hooks
    from ..orchestration.server import PrefectServer

    home_dir = Path(home)
    home_dir.mkdir(parents=True, exist_ok=True)
    db_url = db or os.environ.get("CDMO_DATABASE_URL") or f"sqlite:///{home_dir / 'cdmo.db'}"
    prefect_home = (home_dir / "prefect").resolve()
    server = PrefectServer(prefect_home, port)
    typer.echo(f"Starting the Prefect server on {server.url} (home {prefect_home}) ...")
    with errors():
        server.start()
    os.environ.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_API_URL": server.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_RUNNER_POLL_FREQUENCY": str(max(1, int(poll))),
            "CDMO_DATABASE_URL": db_url,
        }
    )
    _stop_on_signals()
    inbox: list[Any] = []
    try:
        _run_up(server, db_url, no_demo, home_dir, inbox, limit)
    except KeyboardInterrupt:
        pass
    finally:
        for box in inbox:
            with contextlib.suppress(Exception):
                box.stop()
        typer.echo("Stopping the Prefect server ...")
        with contextlib.suppress(KeyboardInterrupt):
            server.stop(grace=5.0)
        hooks.remove_api_url_file(server.api_url)
        typer.echo("Stopped.")


def _terminate_on_sigterm() -> None:
    def _raise(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM stop ``cdmo up``, even when SIGINT came in ignored.

    A job started in the background from a non-interactive shell (``nohup make up &``)
    inherits SIGINT as ignored, and Python then installs no KeyboardInterrupt handler: a
    SIGINT did nothing and ``cdmo up`` kept its server running. The second signal during
    the shutdown is ignored, so the server is always stopped.
    """
    stopping = False

    def _raise(*_: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)


def _run_up(
    server: Any, db_url: str, no_demo: bool, home: Path, inbox: list[Any], limit: int
) -> None:
    from .. import service
    from ..config import mask_url
    from ..orchestration import serving

    ctx = service.open_context(db_url=db_url)
    with errors():
        ctx.db.migrate()
    typer.echo(f"Project database: {mask_url(db_url)}")
    deps = serving.deployments()
    with errors():
        serving.apply(deps)
    demo = None
    if not no_demo:
        from ..orchestration.demo import DEMO_PASSWORD, seed

        with errors():
            demo = seed(ctx)
        from ..orchestration.inbox import Inbox, route_demo_users

        box = Inbox(server.port + 1, home / "inbox.jsonl").start()
        inbox.append(box)
        with errors():
            route_demo_users(ctx, box, list(demo.users))
    with errors():
        opened = _reconcile(ctx)
    from ..orchestration.hooks import write_api_url_file

    write_api_url_file(server.api_url, ctx.settings.database_url)

    typer.echo("")
    typer.echo(f"Prefect UI:  {server.url}")
    typer.echo(f"Prefect API: {server.api_url}")
    if demo is not None:
        state = "created" if demo.created_project else "reused"
        gates = ", ".join(demo.open_gates) or "none"
        typer.echo(f"Demo project {demo.project} ({state}): open gates: {gates}")
        typer.echo(f"  Sign off in the UI: Runs → '{demo.project} · …' → Resume.")
        typer.echo(f"Demo users (password for all: {DEMO_PASSWORD}):")
        for line in _banner_users(demo.users):
            typer.echo(line)
    if inbox:
        typer.echo(
            f"Notification inbox: {inbox[0].url}  (what the demo users are sent arrives here; "
            "keep it open in a browser tab)"
        )
    typer.echo(f"Gate reviews waiting in the UI: {opened}")
    typer.echo(
        "CLI commands from this folder update the UI; elsewhere set "
        f"PREFECT_API_URL={server.api_url}"
    )
    typer.echo("Serving the deployments. Press Ctrl-C to stop.")
    serving.serve(deps, limit=limit)


def _reconcile(ctx: Any) -> int:
    from prefect import get_client

    from ..orchestration.publish import publish_portfolio, publish_project
    from ..orchestration.runs import ensure_gate_runs

    with get_client(sync_client=True) as client:
        runs = ensure_gate_runs(ctx, client)
    for code in sorted({r["project"] for r in runs}):
        publish_project(ctx, code)
    publish_portfolio(ctx)
    return len(runs)


def serve(
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between the runner's polls.")
    ] = 2.0,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many runs at once.")
    ] = None,
    subscriber: Annotated[
        bool,
        typer.Option(
            "--subscriber/--no-subscriber",
            help="Apply sign-offs from Prefect's event stream the moment they are submitted "
            "(without it, each gate run applies its own when the runner restarts it).",
        ),
    ] = True,
) -> None:
    """Serve the cdmo deployments to the Prefect API in PREFECT_API_URL (no work pool)."""
    if not os.environ.get("PREFECT_API_URL"):
        typer.echo("error: set PREFECT_API_URL to the Prefect server's API", err=True)
        raise typer.Exit(2)
    os.environ["PREFECT_RUNNER_POLL_FREQUENCY"] = str(max(1, int(poll)))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from .. import service
    from ..orchestration import serving

    ctx = service.open_context()
    deps = serving.deployments()
    with errors():
        ctx.db.migrate()
        serving.apply(deps)
        n = _reconcile(ctx)
    typer.echo(f"Serving {len(deps)} deployments; {n} gate reviews waiting. Ctrl-C to stop.")
    _terminate_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):
        serving.serve(deps, limit=limit, subscriber=subscriber)


def listen() -> None:
    """Apply gate sign-offs from Prefect's event stream (for a team whose workers run
    ``prefect worker``): needs PREFECT_API_URL and the project database's settings."""
    if not os.environ.get("PREFECT_API_URL"):
        typer.echo("error: set PREFECT_API_URL to the Prefect server's API", err=True)
        raise typer.Exit(2)
    from .. import service
    from ..orchestration import serving

    with errors():
        service.open_context().db.migrate()
    typer.echo("Listening for sign-offs on Prefect's event stream. Ctrl-C to stop.")
    _terminate_on_sigterm()
    sub = serving.start_subscriber()
    with contextlib.suppress(KeyboardInterrupt):
        while sub.thread.is_alive():
            sub.thread.join(1.0)
