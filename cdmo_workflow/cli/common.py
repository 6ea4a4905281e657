"""Shared pieces of the CLI: global options, error rendering, exit codes, password input."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: CDMO_DATABASE_URL or sqlite:///.cdmo/cdmo.db)."
    ),
]
DefinitionsOption = Annotated[
    str | None,
    typer.Option(
        "--definitions",
        help="Folder holding definitions/ and gates/ (default: CDMO_DEFINITIONS or the cwd).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    from ..display import plain

    typer.echo(f"error: {plain(message)}", err=True)
    raise typer.Exit(code)


def database_error_line(exc: BaseException) -> str:
    """One line for a database error, without the statement or its parameters.

    SQLAlchemy's ``str()`` of a ``StatementError`` appends ``[SQL: ...]`` and
    ``[parameters: ...]``, which may hold a password hash or an apprise URL. Only the
    driver's first line (e.g. ``value too long for type character varying(256)``) and the
    exception class are kept; the driver's ``DETAIL`` lines (which can quote values) are not.
    """
    from ..display import one_line

    orig = getattr(exc, "orig", None)
    source = orig if orig is not None else exc
    text = str(source).split("[SQL:", 1)[0].split("[parameters:", 1)[0]
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("(") and ")" in first:  # "(psycopg.errors.X) message"
        first = first.split(")", 1)[1].strip()
    name = type(source).__name__
    return one_line(f"database error: {first or name} ({name})")[:300]


def require_database(db: str | None) -> None:
    """For read-only commands: refuse a SQLite file that does not exist, before anything
    (SQLite, or the engine's folder creation) creates it or its folder."""
    from ..config import get_settings
    from ..store.engine import missing_sqlite_file

    try:
        url = db or get_settings().database_url
    except ValueError as exc:  # a bad setting in the environment
        fail(str(exc))
    missing = missing_sqlite_file(url)
    if missing is not None:
        fail(f"no database at {missing} (nothing was created; check --db or CDMO_DATABASE_URL)")


def context(db: str | None = None, definitions: str | None = None) -> Any:
    from ..bootstrap import open_context

    return open_context(db_url=db, definitions=definitions)


@contextmanager
def errors() -> Iterator[None]:
    """Turn the engine's errors into one clear line and an exit code; never a traceback."""
    from ..domain.errors import EngineError, NotFound, RuleViolation
    from ..spec.errors import DefinitionError

    try:
        yield
    except typer.Exit:
        raise
    except RuleViolation as exc:
        fail(f"{exc.message} [rule: {exc.rule}]")
    except NotFound as exc:
        fail(str(exc))
    except EngineError as exc:  # Refused and friends
        violation = getattr(exc, "violation", None)
        if isinstance(violation, RuleViolation):
            fail(f"{violation.message} [rule: {violation.rule}]")
        fail(str(exc))
    except DefinitionError as exc:
        from ..display import plain

        for finding in exc.findings:
            typer.echo(plain(str(finding)), err=True)
        fail("the definitions are invalid (run `cdmo validate`)")
    except Exception as exc:  # adapters: database unreachable, weak password, ...
        name = type(exc).__name__
        from sqlalchemy.exc import SQLAlchemyError

        from ..identity import IdentityError
        from ..store.errors import StoreError

        if isinstance(exc, SQLAlchemyError) or type(exc).__module__.startswith(
            ("psycopg", "sqlite3")
        ):  # a driver error too: its text can hold parameters
            fail(database_error_line(exc))
        if isinstance(exc, UnicodeError):  # argv bytes that were not UTF-8 (surrogateescape)
            fail("the input is not valid UTF-8 text (check the terminal's encoding)")

        if isinstance(exc, StoreError | IdentityError | ValueError):
            fail(str(exc))
        fail(f"{name}: {exc}")


def read_password(confirm: bool = False, prompt: str = "Password") -> str:
    """The signer's password: CDMO_PASSWORD, else a prompt without echo (Part 11.200)."""
    env = os.environ.get("CDMO_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        fail("no password given: set CDMO_PASSWORD or run in a terminal", EXIT_USAGE)
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return value


def password_or_none(prompt: str = "Password") -> str | None:
    """CDMO_PASSWORD, else a prompt in a terminal, else None (the service then refuses and
    audits the missing credential)."""
    env = os.environ.get("CDMO_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        return None
    value: str = typer.prompt(prompt, hide_input=True)
    return value


def credential_of(user: str, db: str | None = None) -> dict[str, str | None]:
    """Keywords proving ``user`` for a command that is not a signature: CDMO_PASSWORD, else the
    session of `cdmo login` for this database, else a password prompt in a terminal."""
    env = os.environ.get("CDMO_PASSWORD")
    if env:
        return {"password": env, "session": None}
    from .session_file import read_token

    token = read_token(user, _database_url(db))
    if token:
        return {"password": None, "session": token}
    return {"password": password_or_none(f"Password for {user}"), "session": None}


def _database_url(db: str | None) -> str:
    if db:
        return db
    from ..config import get_settings

    return get_settings().database_url


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def run(fn: Callable[[], Any]) -> Any:
    with errors():
        return fn()
