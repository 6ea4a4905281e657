"""``cdmo validate`` and ``cdmo schema``: check definition files, write JSON Schemas.

Imports only the spec package (pydantic and yaml) and the pure ``domain.staffing``: never
Prefect, SQLAlchemy or apprise, so the command is quick enough for a pre-commit hook.

``--team team.yaml`` also checks a planned team against a process (see README, "Planned
teams")::

    process: api-clinical-program
    team:
      pm: [pm1]
      qa: [qa1, qa2]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cdmo_workflow.spec.errors import Finding

USAGE_ERROR = 2


def _default_paths(cwd: Path) -> list[Path]:
    return [cwd / sub for sub in ("definitions", "gates", "calendars") if (cwd / sub).is_dir()]


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders to check (default: definitions/, gates/, calendars/ here).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the findings as a JSON list.")
    ] = False,
    team: Annotated[
        Path | None,
        typer.Option(
            "--team",
            help="A planned team (team.yaml: process, role -> user ids) to check against the "
            "process's gates.",
        ),
    ] = None,
) -> None:
    """Check definition files: fields, references, roles, phase graph, gates.

    Exit status: 0 when valid (warnings allowed), 1 when any file is invalid, 2 on a usage
    error such as a path that does not exist.
    """
    try:
        code = _run_validate(list(paths or []), as_json, team)
    except typer.Exit:
        raise
    except Exception as exc:  # the CLI edge: one clear line, never a traceback
        from cdmo_workflow.display import one_line

        typer.echo(
            one_line(f"cdmo validate: unexpected error: {type(exc).__name__}: {exc}")[:500],
            err=True,
        )
        code = 1
    raise typer.Exit(code)


def _run_validate(paths: list[Path], as_json: bool, team: Path | None = None) -> int:
    from cdmo_workflow.display import plain
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
    if team is not None and not team.is_file():
        missing.append(team)
    if missing:
        for p in missing:
            typer.echo(plain(f"cdmo validate: no such file or folder: {p}"), err=True)
        return USAGE_ERROR
    findings = validate_paths(paths, base=cwd)
    if team is not None:
        findings += check_team_file(team, _tree_root(paths, cwd), cwd)
    errors = sum(1 for f in findings if f.is_error)
    warnings = len(findings) - errors
    if as_json:
        typer.echo(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        for f in findings:
            typer.echo(plain(str(f)))
        if errors:
            summary = f"{errors} error(s), {warnings} warning(s): definitions are invalid"
        else:
            summary = f"definitions are valid ({warnings} warning(s))"
        typer.echo(summary, err=True)
    return 1 if errors else 0


def _tree_root(paths: list[Path], cwd: Path) -> Path:
    """The folder holding definitions/ and gates/: a given folder that has them, else cwd."""
    for p in paths:
        for candidate in (p, p.parent, p.parent.parent):
            if (candidate / "definitions").is_dir():
                return candidate
    return cwd


def check_team_file(path: Path, root: Path, base: Path) -> list[Finding]:
    """Findings for a planned team: its shape, its roles, and every gate it could never pass."""
    import os

    from cdmo_workflow.domain.staffing import team_shortfalls
    from cdmo_workflow.spec.errors import DefinitionError, Finding
    from cdmo_workflow.spec.reader import read_yaml

    full, top = os.path.abspath(path), os.path.abspath(base)
    shown = os.path.relpath(full, top) if full.startswith(top + os.sep) else str(path)
    out: list[Finding] = []

    def add(where: tuple[str | int, ...], message: str, rule: str, key: bool = False) -> None:
        line, column = doc.mark(where, key=key)
        field = ".".join(str(p) for p in where)
        out.append(Finding(Path(shown).as_posix(), line, column, field, message, "error", rule))

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(shown, 1, 1, "", f"cannot read the team file: {exc}", "error", "io")]
    doc = read_yaml(text)
    if doc.problems:
        return [Finding(shown, p.line, p.column, p.field, p.message, "error", p.rule)
                for p in doc.problems]  # fmt: skip
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("process"), str):
        add((), "expected a mapping with 'process: <process id>' and 'team:'", "team-file")
        return out
    members = data.get("team")
    if not isinstance(members, dict) or not members:
        add(("team",) if "team" in data else (), "'team' must map roles to lists of user ids",
            "team-file")  # fmt: skip
        return out
    unknown = sorted(str(k) for k in data if k not in ("process", "team"))
    for k in unknown:
        add((k,), f"unknown field {k!r} (allowed: process, team)", "unknown-field", key=True)
    team: dict[str, list[str]] = {}
    for role, users in members.items():
        if isinstance(users, str):
            users = [users]
        if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
            add(("team", str(role)), f"role {role!r}: expected a list of user ids", "team-file")
            continue
        team[str(role)] = list(users)
    pid = data["process"]
    try:
        from cdmo_workflow.spec.loader import load_catalog

        catalog = load_catalog(root)
        process = catalog.process(pid)
        gates = catalog.gates_of(pid)
    except DefinitionError:
        add(("process",), f"process {pid!r} cannot be checked: its definitions have errors",
            "team-process")  # fmt: skip
        return out
    except KeyError:
        known = ", ".join(sorted(catalog.processes)) or "none"
        add(("process",), f"unknown process {pid!r} (known processes: {known})", "team-process")
        return out
    for role in team:
        if role not in process.roles:
            add(("team", role), f"role {role!r} is not declared by process {pid} (it declares: "
                f"{', '.join(sorted(process.roles))})", "unknown-role", key=True)  # fmt: skip
    if process.manager_role not in team:
        add(("team",), f"no one is assigned to the manager role {process.manager_role!r}",
            "team-no-manager")  # fmt: skip
    for gap in team_shortfalls(process, gates, team):
        where: tuple[str, ...] = ("team", gap.role) if gap.role in team else ("team",)
        add(where, f"the team cannot meet a quota: {gap.message}", "team-cannot-meet-quota",
            key=len(where) > 1)  # fmt: skip
    return out


def schema(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the JSON Schemas into.")
    ] = Path("schemas"),
) -> None:
    """Write the JSON Schemas of processes, gates and scenarios (schemas/*.schema.json)."""
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
