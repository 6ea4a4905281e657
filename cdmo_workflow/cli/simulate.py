"""``cdmo simulate``: dry runs of a process definition, with no database.

Imports the spec package, the pure core, the routing and the watcher's pure rule: never
Prefect, SQLAlchemy or apprise (a test checks ``sys.modules``), so it runs in a pre-commit
hook. Exit status: 0 when every expectation held, 1 when one failed (or a step was refused
that no ``expect: refused`` announced), 2 when a scenario is malformed (a finding with
``file:line:column``) or the command line is wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from cdmo_workflow.simulation import Outcome
    from cdmo_workflow.spec.errors import Finding

PASSED, FAILED, MALFORMED = 0, 1, 2


def simulate(
    process_id: Annotated[
        str | None,
        typer.Argument(
            help="The process to run; each scenario must be written for it (default: the "
            "scenario's own `process`).",
            show_default=False,
        ),
    ] = None,
    scenarios: Annotated[
        list[Path] | None,
        typer.Option(
            "--scenario",
            "-s",
            help="A scenario file (repeat for more).",
            show_default=False,
        ),
    ] = None,
    run_all: Annotated[
        bool,
        typer.Option(
            "--all", help="Run every scenario in definitions/scenarios/ (the pre-commit hook)."
        ),
    ] = False,
    definitions: Annotated[
        Path | None,
        typer.Option(
            "--definitions",
            help="Folder holding definitions/ and gates/ (default: CDMO_DEFINITIONS or the cwd).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only failures and one line per run.")
    ] = False,
) -> None:
    """Run scenarios (a team, scripted steps, expectations) on the pure core, no database.

    Exit status: 0 when every expectation held, 1 when one failed, 2 when a scenario is
    malformed or the command line is wrong.
    """
    try:
        code = _run(process_id, list(scenarios or []), run_all, definitions, as_json, quiet)
    except typer.Exit:
        raise
    except Exception as exc:  # the CLI edge: one clear line, never a traceback
        from cdmo_workflow.display import one_line

        typer.echo(
            one_line(f"cdmo simulate: unexpected error: {type(exc).__name__}: {exc}")[:500],
            err=True,
        )
        code = FAILED
    raise typer.Exit(code)


def _root(definitions: Path | None) -> Path:
    if definitions is not None:
        return definitions
    env = os.environ.get("CDMO_DEFINITIONS")
    return Path(env) if env else Path.cwd()


def _usage(message: str) -> int:
    from cdmo_workflow.display import plain

    typer.echo(plain(f"cdmo simulate: {message}"), err=True)
    return MALFORMED


def _run(
    process_id: str | None,
    files: list[Path],
    run_all: bool,
    definitions: Path | None,
    as_json: bool,
    quiet: bool,
) -> int:
    from cdmo_workflow.simulation import ScenarioRefused, prepare, scenario_files, simulate
    from cdmo_workflow.spec.errors import DefinitionError
    from cdmo_workflow.spec.loader import load_catalog

    root = _root(definitions)
    if not files and not run_all:
        return _usage("give a scenario (--scenario FILE) or --all")
    missing = [p for p in files if not p.is_file()]
    if missing:
        return _usage(f"no such scenario file: {missing[0]}")
    try:
        catalog = load_catalog(root)
    except DefinitionError as exc:
        for f in exc.findings:
            typer.echo(_safe(str(f)))
        return _usage(f"no usable definitions in {root}")
    known = {*catalog.processes, *catalog.spoiled}
    if process_id is not None and process_id not in known:
        names = ", ".join(sorted(catalog.processes)) or "none"
        return _usage(f"unknown process {process_id!r} (known processes: {names})")
    explicit = set(files)
    if run_all:
        found = scenario_files(root)
        files += [p for p in found if p not in explicit]
        if not files:
            if not as_json:
                typer.echo(f"cdmo simulate: no scenarios in {root / 'definitions' / 'scenarios'}")
            else:
                typer.echo("[]")
            return PASSED
    base = Path.cwd()
    results: list[dict[str, Any]] = []
    code = PASSED
    for path in files:
        # a named file must be written for PROCESS_ID; --all runs only that process's ones
        ready = prepare(
            path, catalog, base=base, process_id=process_id if path in explicit else None
        )
        if not isinstance(ready, list) and process_id not in (None, ready.scenario.process):
            continue
        if isinstance(ready, list):
            code = max(code, _malformed(path, ready, results, as_json))
            continue
        try:
            outcome = simulate(ready.file, ready.scenario, ready.snapshot)
        except ScenarioRefused as exc:
            code = max(code, _malformed(path, exc.findings, results, as_json))
            continue
        if not outcome.passed:
            code = max(code, FAILED)
        results.append({"status": "passed" if outcome.passed else "failed", **outcome.to_dict()})
        if not as_json:
            _print(outcome, quiet)
    if as_json:
        typer.echo(json.dumps(results, indent=2, ensure_ascii=False))
    return code


def _malformed(
    path: Path, findings: list[Finding], results: list[dict[str, Any]], as_json: bool
) -> int:
    errors = [f for f in findings if f.is_error]
    results.append(
        {
            "scenario": _shown(path),
            "status": "malformed",
            "findings": [f.to_dict() for f in findings],
        }
    )
    if not as_json:
        for f in findings:
            typer.echo(_safe(str(f)))
        typer.echo(
            _safe(f"MALFORMED {_shown(path)}: {len(errors)} error(s); the scenario cannot run"),
            err=True,
        )
    return MALFORMED if errors else PASSED


def _print(outcome: Outcome, quiet: bool) -> None:
    from cdmo_workflow.simulation.render import outcome_lines, summary

    if quiet:
        for failure in outcome.failures:
            typer.echo(_safe(str(failure)))
        typer.echo(_safe(summary(outcome)))
        return
    for line in outcome_lines(outcome):
        typer.echo(_safe(line))
    if outcome.failures:
        typer.echo(_safe(f"{len(outcome.failures)} failure(s):"))
        for failure in outcome.failures:
            typer.echo(_safe(str(failure)))


def _shown(path: Path) -> str:
    """``path`` as findings show it: relative to the working directory when below it."""
    full, here = os.path.abspath(path), os.path.abspath(Path.cwd())
    return (
        Path(os.path.relpath(full, here)).as_posix()
        if full.startswith(here + os.sep)
        else (path.as_posix())
    )


def _safe(text: str) -> str:
    from cdmo_workflow.display import plain

    return plain(text)


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the ``cdmo`` command."""
    app.command("simulate")(simulate)
