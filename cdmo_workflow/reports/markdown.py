"""The forecast as Markdown: for the project artifact in the Prefect UI (and chat, e-mail).

Pure apart from the standard library: no database, no matplotlib, no jinja2. The
orchestration package calls :func:`forecast_markdown` with the project it already loaded.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .. import display
from ..domain.forecast import Forecast, forecast, overdue_gates
from ..markup import md, safe_url

if TYPE_CHECKING:
    from ..domain.project import Project


def _day(t: datetime | None) -> str:
    return display.day(t, "–")


def _slip(days: float | None) -> str:
    return display.slip(days, "–")


def _cell(text: str) -> str:
    return md(text)  # user text: HTML and markdown escaped for the Prefect UI (#13)


def forecast_markdown(
    project: Project,
    today: datetime,
    report_url: str | None = None,
    fc: Forecast | None = None,
) -> str:
    """A heading line, the completion and slip, the critical path, a per-phase table, the
    overdue gates, and a link to the full report when ``report_url`` is given."""
    fc = fc or forecast(project, today)
    names = {p.id: p.name for p in fc.phases}
    lines = [f"### Forecast — {_cell(project.code)} · {_cell(project.customer)}", ""]
    if fc.state == "killed":
        lines.append(f"Killed on **{_day(fc.ended_at)}**.")
    elif fc.state == "completed":
        lines.append(
            f"Completed on **{_day(fc.completion)}** (baseline {_day(fc.baseline_completion)}, "
            f"slip {_slip(fc.slip_days)} d)."
        )
    else:
        lines.append(
            f"Forecast completion **{_day(fc.completion)}** (baseline "
            f"{_day(fc.baseline_completion)}, slip **{_slip(fc.slip_days)} d**), as of "
            f"{_day(fc.today)}."
        )
    if fc.on_hold_since:
        reason = project.hold.reason if project.hold else ""
        lines.append(f"On hold since {_day(fc.on_hold_since)}: {_cell(reason)}.")
    if fc.critical_path:
        lines.append("")
        lines.append("Critical path: " + " → ".join(_cell(names[p]) for p in fc.critical_path))
    lines += [
        "",
        "| Phase | State | Baseline end | Actual start | Actual end | Forecast end | Slip (d) |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in fc.phases:
        name = f"**{_cell(p.name)}**" if p.critical else _cell(p.name)
        state = p.state + (" (overdue)" if p.overdue else "")
        lines.append(
            f"| {name} | {state} | {_day(p.baseline_end)} | {_day(p.actual_start)} | "
            f"{_day(p.actual_end)} | {_day(p.end)} | {_slip(p.slip_days)} |"
        )
    late = overdue_gates(project, fc.today)
    if late:
        lines += ["", "Gates past their SLA:"]
        for g in late:
            need = ", ".join(f"{m['needed']} × {m['role']}" for m in g["missing"]) or "–"
            lines.append(
                f"- {_cell(g['name'])} (review {g['review']}): due {_day_text(g['due'])}, "
                f"{g['days_overdue']:g} d late; waiting for {need}"
            )
    report_url = safe_url(report_url)
    if report_url:
        lines += ["", f"[Full report with the timeline and every signature]({report_url})"]
    return "\n".join(lines) + "\n"


def _day_text(value: str) -> str:
    return value[:10]


def budget_markdown(project: Project) -> str:
    """The budget as a Markdown table (quoted, committed, actual, remaining per phase and in
    total) for the project artifact; empty for a project without a currency."""
    from ..domain.budget import budget_view

    view = budget_view(project)
    if view is None:
        return ""
    cur = view["currency"]

    def m(value: str | None) -> str:
        return display.money(value, cur, "–", code=False)

    lines = [
        f"### Budget ({cur})",
        "",
        "| Phase | Quoted | Committed | Actual | Remaining | Burn |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in [*view["phases"], {"name": "**Total**", **view["total"]}]:
        burn = f"{row['burn_percent']} %" if row.get("burn_percent") else "–"
        flag = " (overrun)" if row.get("over") else ""
        name = row["name"] if row["name"] == "**Total**" else _cell(row["name"])
        lines.append(
            f"| {name}{flag} | {m(row['quoted'])} | {m(row['committed'])} | "
            f"{m(row['actual'])} | {m(row['remaining'])} | {burn} |"
        )
    lines += ["", f"Overrun: committed plus actual above {view['threshold']} of the quote."]
    return "\n".join(lines) + "\n"
