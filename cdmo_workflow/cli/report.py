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
    profile: Annotated[
        str,
        typer.Option(
            "--for",
            help="internal (everything, today's report) or customer (no user ids, record "
            "hashes or git data; the budget only with share_budget: true).",
        ),
    ] = "internal",
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Show times in this IANA zone (e.g. Europe/Zurich)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write a self-contained HTML report with its timeline picture (PNG and SVG).

    `cdmo report CODE --out DIR`: status, timeline, forecast with P50/P80/P95, budget, open
    items and every gate with its signatures. `--for customer` writes `CODE-customer.html`,
    the profile for the sponsor. `cdmo report --portfolio --out DIR`: all active projects.
    """
    when = _today(today)
    if portfolio == (code is not None):
        fail("give a project CODE or --portfolio (not both)", 2)
    if profile not in ("internal", "customer"):
        fail("--for must be internal or customer", 2)
    if tz is not None:
        from ..spec.zones import UnknownTimeZone, check_time_zone

        try:
            check_time_zone(tz)
        except UnknownTimeZone as exc:
            fail(f"--tz: {exc}")
    from ..reports.html import write_portfolio_report, write_project_report

    require_database(db)
    with errors():
        if portfolio:
            files = write_portfolio_report(context(db), out, when)
        else:
            assert code is not None
            files = write_project_report(context(db), code, out, when, profile=profile, zone=tz)
    for f in files:
        typer.echo(plain(f"wrote {f}"))


def project_forecast(
    code: str,
    today: TodayOption = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Monte Carlo seed (default: one per project, stable)."),
    ] = None,
    iterations: Annotated[
        int, typer.Option("--iterations", min=100, max=100_000, help="Monte Carlo iterations.")
    ] = 2000,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Planned, actual and forecast dates per phase, the critical path and the slip, with
    P50/P80/P95 completion dates from a Monte Carlo over the site's own history."""
    when = _today(today)
    from ..domain.forecast import forecast
    from ..domain.montecarlo import confidence
    from ..reports.data import load_history, load_project

    require_database(db)
    with errors():
        ctx = context(db)
        project, now = load_project(ctx, code)
        fc = forecast(project, when or now)
        history = load_history(ctx, [project])
        bands = confidence(project, when or now, history, iterations=iterations, seed=seed)
    if json_out:
        emit_json({**fc.to_dict(), "confidence": bands.to_dict()})
        return
    typer.echo(plain(format_forecast(fc, project.customer)))
    typer.echo(plain(format_confidence(bands, fc)))


_d = day  # the display module's formats (cdmo_workflow/display.py)


def format_confidence(bands: Any, fc: Any) -> str:
    """The P50/P80/P95 lines under the forecast table."""
    if bands.completion is None:
        return ""
    names = {p.id: p.id for p in fc.phases}
    c = bands.completion
    lines = [
        "",
        f"confidence ({bands.iterations} runs, seed {bands.seed}): completion "
        f"P50 {_d(c.p50)}  P80 {_d(c.p80)}  P95 {_d(c.p95)}",
    ]
    if bands.phases:
        width = max(len(pid) for pid in bands.phases) + 2
        lines.append("phase".ljust(width) + "P50         P80         P95         spread from")
        for pid, band in bands.phases.items():
            spread = bands.spreads[pid]
            source = (
                f"{len(spread.ratios)} completed runs ({spread.key})"
                if spread.source == "history"
                else f"default spread ({len(spread.ratios)} runs of {spread.key})"
            )
            lines.append(
                names.get(pid, pid).ljust(width)
                + f"{_d(band.p50):<12}{_d(band.p80):<12}{_d(band.p95):<12}{source}"
            )
    return "\n".join(lines)


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
    if len(fc.baselines) > 1:
        lines += ["", f"baselines (slip is against baseline {fc.baseline_number}):"]
        for b in fc.baselines:
            why = (
                f"{b['change']}, approved by {', '.join(b['approved_by'])}"
                if b["change"]
                else "at start"
            )
            moved = f", {b['schedule_impact']}" if b.get("schedule_impact") else ""
            end = b["end"][:10] if b["end"] else "-"
            lines.append(f"  {b['number']}: ends {end} ({why}{moved}; set {b['at'][:10]})")
    return "\n".join(lines)
