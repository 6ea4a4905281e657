"""Self-contained HTML reports: one project, or the portfolio.

Each page carries its CSS inline and its picture as inline SVG, so it opens from a file, an
e-mail attachment or an archive without any network access (no scripts, no external
assets). Signatures are shown with their full 11.50 manifestation (printed name, UTC time,
meaning) and the SHA-256 of the gate-review record each one signs (11.70).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain.forecast import Forecast, forecast, overdue_gates
from ..domain.records import PhaseState, ReviewState

if TYPE_CHECKING:
    from jinja2 import Environment

    from ..domain.project import Project
    from .charts import PortfolioRow
    from .data import AuditSummary


@lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("cdmo_workflow.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = day
    env.filters["utc"] = utc
    env.filters["slip"] = slip
    return env


def day(value: datetime | str | None) -> str:
    """``2026-11-25`` (UTC) or an en dash."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def utc(value: datetime | str | None) -> str:
    """``2026-11-25 12:00:00 UTC`` or an en dash."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def slip(days: float | None) -> str:
    if days is None:
        return "–"
    if abs(days) < 0.05:
        return "0"
    return f"{days:+.1f}".replace(".0", "")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cdmo-workflow")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "dev"


# ----------------------------------------------------------------------------- project


def open_items(project: Project, today: datetime) -> list[dict[str, Any]]:
    """What still stands between each running phase and its gate decision."""
    items: list[dict[str, Any]] = []
    for pdef in project.snapshot.process.phases:
        run = project.phases[pdef.id]
        if run.state not in (PhaseState.ACTIVE, PhaseState.GATE_REVIEW):
            continue
        gdef = project.snapshot.gates[pdef.gate]
        for d in pdef.deliverables:
            if d.required and d.id not in run.deliverables:
                items.append(_item(project, pdef.name, "Deliverable missing", d.name, d.owner))
        for c in gdef.checks:
            if c.id not in run.checks:
                items.append(
                    _item(project, pdef.name, "Check not confirmed", c.name, c.confirmed_by)
                )
        for cond in project.open_conditions(pdef.id):
            text = f"{cond.id}: {cond.text} (raised by {cond.raised_by} at {utc(cond.raised_at)})"
            items.append(_item(project, pdef.name, "Condition open", text, pdef.owner))
        review = project.open_review(pdef.gate)
        if review is not None:
            signed = {s.user for s in review.signatures}
            for m in project.missing(review):
                people = [u for u in project.team.get(m["role"], []) if u not in signed]
                what = f"{gdef.name} (review {review.number}): {m['needed']} more {m['role']}"
                items.append(
                    {
                        "phase": pdef.name,
                        "kind": "Signature missing",
                        "what": what,
                        "role": m["role"],
                        "who": ", ".join(people) or "nobody assigned",
                    }
                )
    for g in overdue_gates(project, today):
        items.append(
            {
                "phase": project.phase_def(g["phase"]).name,
                "kind": "Gate overdue",
                "what": f"{g['name']} (review {g['review']}) was due {utc(g['due'])}: "
                f"{g['days_overdue']:g} days late",
                "role": ", ".join(m["role"] for m in g["missing"]) or "–",
                "who": "",
            }
        )
    return items


def _item(project: Project, phase: str, kind: str, what: str, role: str) -> dict[str, Any]:
    return {
        "phase": phase,
        "kind": kind,
        "what": what,
        "role": role,
        "who": ", ".join(project.team.get(role, [])) or "nobody assigned",
    }


def manifestation_of(sig: dict[str, Any]) -> str:
    from ..identity import manifestation

    return manifestation(
        name=sig["name"],
        user=sig["user"],
        role=sig["role"],
        signed_at=sig["signed_at"],
        meaning=sig["meaning"],
        decision=sig["decision"],
        record_hash=sig["record_hash"],
    )


def gate_records(project: Project) -> list[dict[str, Any]]:
    """Every gate review in order, with every signature and its manifestation."""
    out: list[dict[str, Any]] = []
    phase_names = {p.id: p.name for p in project.snapshot.process.phases}
    for review in project.reviews:
        gdef = project.snapshot.gates[review.gate]
        sigs = []
        for s in review.signatures:
            d = s.to_dict()
            d["manifestation"] = manifestation_of(d)
            sigs.append(d)
        out.append(
            {
                "key": review.key,
                "gate": review.gate,
                "name": gdef.name,
                "phase": phase_names.get(review.phase, review.phase),
                "number": review.number,
                "state": review.state.value,
                "outcome": review.outcome.value if review.outcome else None,
                "opened_at": review.opened_at,
                "decided_at": review.decided_at,
                "signatures": sigs,
                "missing": project.missing(review) if review.state == ReviewState.OPEN else [],
                "current_hash": (
                    project.record_hash(review) if review.state == ReviewState.OPEN else None
                ),
            }
        )
    return out


def project_context(
    project: Project,
    fc: Forecast,
    *,
    timeline_svg: str,
    audit: AuditSummary | None,
    generated_at: datetime,
) -> dict[str, Any]:
    snap = project.snapshot
    names = {p.id: p.name for p in snap.process.phases}
    return {
        "project": project,
        "fc": fc,
        "process": snap.process,
        "version_hash": snap.version_hash,
        "git": snap.git,
        "current": [names[p] for p in project.current_phases()],
        "critical_names": [names[p] for p in fc.critical_path],
        "hold": project.hold,
        "timeline_svg": timeline_svg,
        "open_items": open_items(project, fc.today),
        "gates": gate_records(project),
        "conditions": [c.to_dict() for c in project.conditions],
        "phase_names": names,
        "audit": audit,
        "generated_at": generated_at,
        "version": _version(),
    }


def render_project(
    project: Project,
    today: datetime,
    *,
    audit: AuditSummary | None = None,
    generated_at: datetime | None = None,
    timeline_svg: str | None = None,
) -> str:
    """The project report as one HTML string (draws the timeline unless given)."""
    fc = forecast(project, today)
    if timeline_svg is None:
        from .charts import timeline

        timeline_svg = timeline(project, fc).inline_svg
    ctx = project_context(
        project,
        fc,
        timeline_svg=timeline_svg,
        audit=audit,
        generated_at=generated_at or datetime.now(UTC),
    )
    return environment().get_template("project.html.j2").render(**ctx)


def write_project_report(ctx: Any, code: str, out_dir: Path, today: datetime | None) -> list[Path]:
    """``<out>/<code>.html`` plus the timeline as ``<code>-timeline.png`` and ``.svg``."""
    from . import charts, data

    project, now = data.load_project(ctx, code)
    today = today or now
    fc = forecast(project, today)
    pictures = charts.timeline(project, fc)
    audit = data.verify_chain(ctx, code)
    stem = safe_stem(code)
    files = pictures.write(out_dir, f"{stem}-timeline")
    html = render_project(
        project, today, audit=audit, generated_at=now, timeline_svg=pictures.inline_svg
    )
    page = out_dir / f"{stem}.html"
    page.write_text(html, encoding="utf-8")
    return [page, files["png"], files["svg"]]


def safe_stem(code: str) -> str:
    """The file-name stem of a project's report files."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in code)


# ----------------------------------------------------------------------------- portfolio


def portfolio_table(rows: Sequence[PortfolioRow]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        fc = r.forecast
        out.append(
            {
                "code": r.project.code,
                "customer": r.project.customer,
                "process": r.project.process_id,
                "state": fc.state,
                "current": r.current,
                "start": fc.start,
                "baseline": fc.baseline_completion,
                "completion": fc.completion,
                "slip": fc.slip_days,
                "open_gates": [
                    f"{rv.gate} #{rv.number}"
                    for rv in r.project.reviews
                    if rv.state.value == "open"
                ],
                "overdue": r.overdue,
            }
        )
    return out


def render_portfolio(
    rows: Sequence[PortfolioRow],
    today: datetime,
    *,
    chart_svg: str,
    shown: int,
    generated_at: datetime | None = None,
) -> str:
    return (
        environment()
        .get_template("portfolio.html.j2")
        .render(
            rows=portfolio_table(rows),
            today=today,
            chart_svg=chart_svg,
            shown=shown,
            total=len(rows),
            late=sum(1 for r in rows if (r.forecast.slip_days or 0) >= 0.05),
            overdue=sum(len(r.overdue) for r in rows),
            on_hold=sum(1 for r in rows if r.forecast.on_hold_since is not None),
            generated_at=generated_at or datetime.now(UTC),
            version=_version(),
        )
    )


def write_portfolio_report(ctx: Any, out_dir: Path, today: datetime | None) -> list[Path]:
    """``<out>/portfolio.html`` plus ``portfolio.png`` and ``portfolio.svg``."""
    from . import charts, data

    projects, now = data.load_portfolio(ctx)
    today = today or now
    rows = charts.portfolio_rows(projects, today)
    shown = charts.select_rows(rows)
    pictures = charts.render(charts.portfolio_figure(shown, today, total=len(rows)))
    files = pictures.write(out_dir, "portfolio")
    html = render_portfolio(
        rows, today, chart_svg=pictures.inline_svg, shown=len(shown), generated_at=now
    )
    page = out_dir / "portfolio.html"
    page.write_text(html, encoding="utf-8")
    return [page, files["png"], files["svg"]]


__all__ = [
    "open_items",
    "render_portfolio",
    "render_project",
    "write_portfolio_report",
    "write_project_report",
]
