"""``cdmo validate`` and ``cdmo schema``: check definition files, write JSON Schemas.

Imports only the spec package (pydantic and yaml): never Prefect, SQLAlchemy or apprise,
so the command is quick enough for a pre-commit hook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

USAGE_ERROR = 2


def _default_paths(cwd: Path) -> list[Path]:
    return [cwd / sub for sub in ("definitions", "gates") if (cwd / sub).is_dir()]


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders to check (default: definitions/ and gates/ here).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the findings as a JSON list.")
    ] = False,
) -> None:
    """Check definition files: fields, references, roles, phase graph, gates.

    Exit status: 0 when valid (warnings allowed), 1 when any file is invalid, 2 on a usage
    error such as a path that does not exist.
    """
    try:
        code = _run_validate(list(paths or []), as_json)
    except typer.Exit:
        raise
    except Exception as exc:  # the CLI edge: one clear line, never a traceback
        typer.echo(f"cdmo validate: unexpected error: {type(exc).__name__}: {exc}", err=True)
        code = 1
    raise typer.Exit(code)


def _run_validate(paths: list[Path], as_json: bool) -> int:
    from cdmo_workflow.spec.loader import validate_paths

    cwd = Path.cwd()
    if not paths:
        paths = _default_paths(cwd)
        if not paths:
            typer.echo(
                "cdmo validate: no definitions/ or gates/ folder here; give files or folders",
                err=True,
            )
            return USAGE_ERROR
    missing = [p for p in paths if not p.exists()]
    if missing:
        for p in missing:
            typer.echo(f"cdmo validate: no such file or folder: {p}", err=True)
        return USAGE_ERROR
    findings = validate_paths(paths, base=cwd)
    errors = sum(1 for f in findings if f.is_error)
    warnings = len(findings) - errors
    if as_json:
        typer.echo(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        for f in findings:
            typer.echo(str(f))
        if errors:
            summary = f"{errors} error(s), {warnings} warning(s): definitions are invalid"
        else:
            summary = f"definitions are valid ({warnings} warning(s))"
        typer.echo(summary, err=True)
    return 1 if errors else 0


def schema(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the JSON Schemas into.")
    ] = Path("schemas"),
) -> None:
    """Write schemas/process.schema.json and schemas/gate.schema.json from the models."""
    try:
        from cdmo_workflow.spec.schemas import write_schemas

        for path in write_schemas(out):
            typer.echo(f"wrote {path}")
    except OSError as exc:
        typer.echo(f"cdmo schema: cannot write to {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``schema`` to the ``cdmo`` command."""
    app.command("validate")(validate)
    app.command("schema")(schema)
