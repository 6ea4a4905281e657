"""``cdmo definitions diff OLD NEW``: what an edit of the definitions changes, in domain terms.

OLD and NEW are git revisions of the repository holding the definitions folder (read with
``git archive``, never checked out) or folders holding ``definitions/`` and ``gates/``.
Exit status: 0 the diff was printed; 1 a version cannot be read or does not validate (its
findings are printed as ``REF:path:line:column``); 2 a usage error; 3 with ``--projects
--strict``, when a running project could not move to NEW. No database is opened without
``--projects``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..display import one_line, plain
from .common import DbOption, DefinitionsOption, JsonOption, emit_json, fail, require_database

definitions_app = typer.Typer(
    help="Compare versions of the definitions (git revisions or folders)."
)

EXIT_BLOCKED = 3

MARK = {"added": "+", "removed": "-"}


def register(app: typer.Typer) -> None:
    app.add_typer(definitions_app, name="definitions")


def _mark(kind: str) -> str:
    if kind.endswith("-added") or kind == "decision-added":
        return "+"
    if kind.endswith("-removed"):
        return "-"
    return "~"


def _load(ref: str, base: Path) -> Any:
    from ..spec.revisions import VersionError, load_version

    try:
        version = load_version(ref, base)
    except VersionError as err:
        for f in err.findings:
            typer.echo(plain(str(f)), err=True)
        fail(f"{err.message} [rule: {err.rule}]")
    if version.errors:
        for f in version.errors:
            typer.echo(plain(str(f)), err=True)
        count = len(version.errors)
        fail(f"version {ref} does not validate ({count} error(s)) [rule: invalid-version]")
    return version


@definitions_app.command("diff")
def definitions_diff(
    old: Annotated[str, typer.Argument(help="The old version: a git revision or a folder.")],
    new: Annotated[str, typer.Argument(help="The new version: a git revision or a folder.")],
    projects: Annotated[
        bool,
        typer.Option(
            "--projects",
            help="Also list every running project of a changed process and what moving it "
            "to NEW would do (reads the database).",
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help=f"Exit {EXIT_BLOCKED} when a running project could not move."
        ),
    ] = False,
    db: DbOption = None,
    definitions: DefinitionsOption = None,
    json_out: JsonOption = False,
) -> None:
    """What changed between two versions per process and gate: phases, after edges,
    deliverables, checks, quotas, decisions, SLAs, notify routes, change approvers."""
    import os

    from ..spec.diff import diff_catalogs

    base = Path(definitions or os.environ.get("CDMO_DEFINITIONS") or ".")
    a, b = _load(old, base), _load(new, base)
    diff = diff_catalogs(
        a.processes,
        a.gates,
        b.processes,
        b.gates,
        {k: s.version_hash for k, s in a.snapshots.items()},
        {k: s.version_hash for k, s in b.snapshots.items()},
    )
    impacts: list[dict[str, Any]] | None = None
    if projects:
        from .common import context, errors

        require_database(db)
        from ..service.changes import projects_impact

        with errors():
            impacts = projects_impact(context(db), b.snapshots, a.snapshots)
    if json_out:
        doc = {"old": a.describe(), "new": b.describe(), **diff.to_dict()}
        if impacts is not None:
            doc["projects"] = impacts
        emit_json(doc)
    else:
        _print(a, b, diff, impacts)
    if strict and impacts and any(not i["migratable"] for i in impacts):
        raise typer.Exit(EXIT_BLOCKED)


def _print(a: Any, b: Any, diff: Any, impacts: list[dict[str, Any]] | None) -> None:
    def name(v: Any) -> str:
        return f"{v.ref} ({v.commit[:12]})" if v.commit else v.ref

    out = [f"definitions {name(a)} → {name(b)}"]
    if not diff.changed:
        out.append("no change of meaning (comments and layout do not count)")
    for pid, p in sorted(diff.processes.items()):
        if p["status"] == "unchanged":
            continue
        versions = ""
        if p["old_version"] and p["new_version"]:
            versions = f" (version {p['old_version'][:12]} → {p['new_version'][:12]})"
        out.append(f"process {pid}: {p['status']}{versions}")
        for c in p["changes"]:
            out.append(f"  {_mark(c.kind)} {c.text}")
        if p["gates_changed"] and p["status"] == "changed":
            out.append(f"  gates changed: {', '.join(p['gates_changed'])}")
    for gid, gdiff in sorted(diff.gates.items()):
        if gdiff["status"] == "unchanged":
            continue
        used = ", ".join(gdiff["used_by"]) or "no process"
        out.append(f"gate {gid}: {gdiff['status']} (used by {used})")
        for c in gdiff["changes"]:
            out.append(f"  {_mark(c.kind)} {c.text}")
    if impacts is not None:
        out.append("")
        if not impacts:
            out.append("running projects: none on another version of a process NEW defines")
        for i in impacts:
            pinned = "on the old version" if i["pinned_to_old"] else "on another version"
            verdict = "can move" if i["migratable"] else "cannot move"
            out.append(
                f"project {i['project']} ({i['process']}, {i['state']}, {pinned} "
                f"{i['from_version'][:12]}): {verdict} to {i['to_version'][:12]}"
            )
            for r in i["refusals"]:
                out.append(f"  refused [{r['rule']}]: {r['message']}")
            for key in ("phases", "gates", "items"):
                for entry in i[key]:
                    out.append(f"  - {entry['text']}")
    for line in out:
        typer.echo(plain(one_line(line)) if line else "")
