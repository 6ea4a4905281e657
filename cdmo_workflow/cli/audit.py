"""``cdmo audit``: verify the trail against its signed checkpoints, export, archive, rotate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..display import plain
from .common import DbOption, JsonOption, context, emit_json, errors, fail, require_database

audit_app = typer.Typer(
    help="Verify, export and archive the audit trail (hash chain + signed checkpoints)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def _require_chain(ctx: Any, code: str) -> None:
    """A project, a chain in the database or a checkpoint file must know ``code``."""
    from ..audit.checkpoints import chain_files
    from ..domain.errors import NotFound

    with ctx.db.unit_of_work(read_only=True) as uow:
        if uow.projects.get(code) is not None or uow.audit.heads(code):
            return
    if code in chain_files(ctx.settings.checkpoint_dir):
        return
    raise NotFound("project", code, "see `cdmo project list`")


def _print_report(report: Any, json_out: bool) -> None:
    if json_out:
        emit_json(report.to_dict())
    elif report.ok:
        typer.echo(report.summary())
    else:
        typer.echo(report.summary(), err=True)
        for problem in report.problems[1:]:
            typer.echo(f"  also: {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    code: Annotated[str | None, typer.Argument(help="Project code (default: every chain).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    deep: Annotated[
        bool,
        typer.Option("--deep", help="Also compare each project document with its trail."),
    ] = False,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Check an archive bundle instead (no database needed)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="Key fingerprint(s) you expect (comma-separated): checkpoints signed by any "
            "other key are reported; with --bundle, the bundle must hold it.",
        ),
    ] = None,
) -> None:
    """Check the hash chain and every row against the signed checkpoints; exit 1 if broken.

    "no checkpoints" is never reported as intact (exit 1).
    """
    from .. import audit

    if bundle is not None:
        from ..audit.archive import BundleError, verify_bundle

        try:
            report = verify_bundle(bundle, expect_key=key.split(",")[0] if key else None)
        except BundleError as err:
            if json_out:
                emit_json({"status": "broken", "ok": False, "problems": [str(err)]})
                raise typer.Exit(1) from None
            fail(f"audit bundle BROKEN: {err}")
        _print_report(report, json_out)
        return
    require_database(db)
    with errors():
        ctx = context(db)
        if code is not None:
            _require_chain(ctx, code)
        expect = frozenset(k.strip() for k in (key or "").split(",") if k.strip())
        report = audit.verify_all(ctx.db, ctx.settings, code, deep=deep, expect_keys=expect)
    _print_report(report, json_out)


def _export_key(ctx: Any, code: str) -> str:
    """The fingerprint an export names: the key of the chain's last checkpoint, else the
    current key, else ``none``."""
    from .. import audit
    from ..audit.heads import latest_heads

    for head in latest_heads(ctx.settings.checkpoint_dir):
        if head["chain"] == code:
            return str(head["key"])
    return audit.current_key(ctx.settings) or "none"


@audit_app.command("export")
def audit_export(
    code: str,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or html.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write to a file.")] = None,
    db: DbOption = None,
) -> None:
    """Export a project's audit trail with signature manifestations and the key fingerprint."""
    from .. import audit

    if fmt not in ("csv", "json", "html"):
        fail(f"unknown format {fmt!r}: use csv, json or html", 2)
    require_database(db)
    with errors():
        ctx = context(db)
        _require_chain(ctx, code)
        if fmt == "html":  # the inspector's printout (reports/audit_print.py)
            from ..reports.audit_print import export_audit_html

            text = export_audit_html(ctx, code)
        else:
            key = _export_key(ctx, code)
            text = audit.export(ctx.db, code, "csv" if fmt == "csv" else "json", key=key)
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        typer.echo(plain(f"wrote {out}"))
    else:
        typer.echo(text, nl=False)


@audit_app.command("archive")
def audit_archive(
    code: str,
    out: Annotated[Path, typer.Option("--out", help="The bundle file to write.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write one sealed bundle (rows, checkpoints, public keys) that `audit verify --bundle`
    checks on any machine, without the database."""
    from ..audit.archive import write_bundle

    with errors():
        ctx = context(db)
        _require_chain(ctx, code)
        s = ctx.settings
        info = write_bundle(ctx.db, code, s.checkpoint_dir, s.audit_key_file, out)
    if json_out:
        emit_json(info)
    else:
        typer.echo(
            f"wrote {out}: {info['rows']} rows, {info['checkpoints']} checkpoints, "
            f"key {', '.join(info['keys'])}"
        )


@audit_app.command("rotate-key")
def audit_rotate_key(
    by: Annotated[str, typer.Option("--by", help="Your user id (an administrator).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replace the checkpoint signing key (administrators; audited). Old public keys stay in
    the keyring, so older checkpoints still verify."""
    from ..service import rotate_audit_key
    from .common import credential_of

    with errors():
        result = rotate_audit_key(context(db), by, **credential_of(by, db))
    info = {k: result.data[k] for k in ("old_key", "new_key", "keyring")}
    if json_out:
        emit_json(info)
    else:
        typer.echo(
            f"audit key rotated: {info['old_key'] or 'none'} → {info['new_key']}; "
            f"old public keys stay in {info['keyring']}"
        )
