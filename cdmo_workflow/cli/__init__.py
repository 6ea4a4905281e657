"""The ``cdmo`` command. Each sub-module registers one command group on the shared app.

Modules import heavy adapters (SQLAlchemy, apprise, Prefect) inside the command functions,
so ``cdmo validate`` stays fast enough for a pre-commit hook.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="cdmo",
    help="Stage-gate workflows for CDMO programmes: definitions, projects, gates, sign-offs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: CDMO_DATABASE_URL or sqlite:///.cdmo/cdmo.db)."
    ),
    definitions: str | None = typer.Option(
        None,
        "--definitions",
        help="Folder holding definitions/ and gates/ (default: CDMO_DEFINITIONS or the cwd).",
    ),
) -> None:
    """Stage-gate workflows for CDMO programmes: definitions, projects, gates, sign-offs."""
    import os

    if db:
        os.environ["CDMO_DATABASE_URL"] = db
    if definitions:
        os.environ["CDMO_DEFINITIONS"] = definitions


def _register() -> None:
    from . import validate

    validate.register(app)
    for name in (
        "engine",
        "people",
        "budget",
        "audit",
        "notify",
        "up",
        "report",
        "deploy",
        "simulate",
        "change",
        "definitions",
    ):
        try:
            module = __import__(f"{__name__}.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:  # a command group not built yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(app)


_register()


def main() -> None:
    """Console entry point: typer's exit codes, and usage errors exit 2."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
