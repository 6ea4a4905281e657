"""Report commands: ``cdmo report`` (HTML + pictures) and ``cdmo project forecast``.

matplotlib, jinja2 and SQLAlchemy are imported inside the command functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..display import day, plain, slip
from .common import DbOption, JsonOption, context, emit_json, errors, fail, require_database

TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="Forecast as seen on this day (YYYY-MM-DD or ISO 8601 UTC; default: now).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    try:
        from .engine import project_app
    except ImportError:  # pragma: no cover - the engine commands are always there
        return
    project_app.command("forecast")(project_forecast)


def _today(text: str | None) -> Any:
    from ..reports.data import parse_today

    try:
        return parse_today(text)
    except ValueError as exc:
        fail(str(exc), 2)


def report(
    code: Annotated[
        str | None, typer.Argument(help="Project code (omit with --portfolio).")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the report and pictures to.")
    ] = Path("reports"),
    portfolio: Annotated[
        bool,
        typer.Option("--portfolio", help="Every active project on one timeline, with a table."),
    ] = False,
    today: TodayOption = None,
    db: DbOption = None,
) -> None:
    """Write a self-contained HTML report with its timeline picture (PNG and SVG).

    `cdmo report CODE --out DIR`: status, timeline, forecast, open items and every gate with
    its signatures. `cdmo report --portfolio --out DIR`: all active projects.
    """
    when = _today(today)
    if portfolio == (code is not None):
        fail("give a project CODE or --portfolio (not both)", 2)
    from ..reports.html import write_portfolio_report, write_project_report

    require_database(db)
    with errors():
        if portfolio:
            files = write_portfolio_report(context(db), out, when)
        else:
            assert code is not None
            files = write_project_report(context(db), code, out, when)
    for f in files:
        typer.echo(plain(f"wrote {f}"))


def project_forecast(
    code: str,
    today: TodayOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Planned, actual and forecast dates per phase, the critical path and the slip."""
    when = _today(today)
    from ..domain.forecast import forecast
    from ..reports.data import load_project

    require_database(db)
    with errors():
        project, now = load_project(context(db), code)
        fc = forecast(project, when or now)
    if json_out:
        emit_json(fc.to_dict())
        return
    typer.echo(plain(format_forecast(fc, project.customer)))


_d = day  # the display module's formats (cdmo_workflow/display.py)
_slip = slip


def format_forecast(fc: Any, customer: str) -> str:
    """The plain-text forecast table (fixed columns, no colour)."""
    head = f"{fc.project} · {customer} — forecast as of {_d(fc.today)} ({fc.state})"
    if fc.state == "killed":
        summary = f"killed on {_d(fc.ended_at)}: no forecast"
    else:
        label = "completed" if fc.state == "completed" else "forecast completion"
        summary = (
            f"{label}: {_d(fc.completion)}  baseline: {_d(fc.baseline_completion)}  "
            f"slip: {_slip(fc.slip_days)} d"
        )
    if fc.on_hold_since is not None:
        summary += f"  (on hold since {_d(fc.on_hold_since)})"
    width = max(len(p.id) for p in fc.phases) + 2
    cols = [
        "phase".ljust(width),
        "state       ",
        "planned",
        "baseline end",
        "actual start",
        "actual end  ",
        "fcst start  ",
        "fcst end    ",
        "slip d",
    ]
    lines = [head, summary, "", " ".join(cols)]
    for p in fc.phases:
        mark = "*" if p.critical else " "
        lines.append(
            " ".join(
                [
                    (mark + p.id).ljust(width),
                    (p.state + ("!" if p.overdue else "")).ljust(12),
                    (p.duration or "0d").ljust(7),
                    _d(p.baseline_end).ljust(12),
                    _d(p.actual_start).ljust(12),
                    _d(p.actual_end).ljust(12),
                    _d(p.start).ljust(12),
                    _d(p.end).ljust(12),
                    _slip(p.slip_days).rjust(6),
                ]
            )
        )
    path = " → ".join(fc.critical_path) if fc.critical_path else "-"
    lines += ["", f"critical path (*): {path}", "! = running past its planned end"]
    return "\n".join(lines)
