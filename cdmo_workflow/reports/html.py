"""Self-contained HTML reports: one project, or the portfolio.

Each page carries its CSS inline and its picture as inline SVG, so it opens from a file, an
e-mail attachment or an archive without any network access (no scripts, no external
assets). Signatures are shown with their full 11.50 manifestation (printed name, UTC time,
meaning) and the SHA-256 of the gate-review record each one signs (11.70).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import display
from ..domain.conditions import acceptors_of, owners_of
from ..domain.forecast import Forecast, forecast, overdue_gates
from ..domain.records import PhaseState, ReviewState

if TYPE_CHECKING:
    from jinja2 import Environment

    from ..domain.montecarlo import Confidence
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
    env.filters["local"] = local
    env.globals["money"] = money
    return env


def day(value: datetime | str | None, zone: str | None = None) -> str:
    """``2026-11-25`` (UTC, or the day in ``zone``) or an en dash (``display.day``)."""
    return display.day(value, "–", zone)


def utc(value: datetime | str | None) -> str:
    """``2026-11-25 12:00:00 UTC`` or an en dash (``display.utc``)."""
    return display.utc(value, "–")


def slip(days: float | None) -> str:
    return display.slip(days, "–")


def local(value: datetime | str | None, zone: str | None) -> str:
    """A time in the reader's zone with the zone (``display.local``)."""
    return display.local(value, zone, "–")


def money(amount: Any, currency: str | None) -> str:
    return display.money(amount, currency, "–")


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
            text = f"{cond.id}: {cond.text} (raised by {cond.raised_by} at {utc(cond.raised_at)}"
            text += f"; due {utc(cond.due_at)})" if cond.due_at else ")"
            waiting = cond.state == "closed"
            item = _item(
                project,
                pdef.name,
                "Condition awaiting acceptance" if waiting else "Condition open",
                text,
                cond.owner or pdef.owner,
            )
            people = acceptors_of(project, cond) if waiting else owners_of(project, cond)
            item["who"] = ", ".join(people) or "nobody assigned"
            items.append(item)
        review = project.open_review(pdef.gate)
        if review is not None:
            signed = {u for s in review.signatures for u in s.people}
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
        on_behalf_of=sig.get("on_behalf_of"),
        on_behalf_of_name=sig.get("on_behalf_of_name"),
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
    bands: Confidence | None = None,
    zone: str | None = None,
) -> dict[str, Any]:
    from ..domain.budget import budget_view

    snap = project.snapshot
    names = {p.id: p.name for p in snap.process.phases}
    return {
        "bands": bands,
        "budget": budget_view(project),
        "zone": zone,
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
        "conditions": [{**c.to_dict(), "owner": c.owner} for c in project.conditions],
        "holds": [h.to_dict() for h in project.holds],
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
    bands: Confidence | None = None,
    zone: str | None = None,
) -> str:
    """The internal project report as one HTML string (draws the timeline unless given)."""
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
        bands=bands,
        zone=zone,
    )
    return environment().get_template("project.html.j2").render(**ctx)


def render_customer(
    project: Project,
    today: datetime,
    *,
    names: Mapping[str, str],
    holds: Sequence[Mapping[str, Any]],
    bands: Confidence | None = None,
    generated_at: datetime | None = None,
    timeline_svg: str | None = None,
    zone: str | None = None,
) -> str:
    """The customer report (``--for customer``) as one HTML string: see reports/customer.py."""
    from .customer import customer_context

    fc = forecast(project, today)
    if timeline_svg is None:
        from .charts import timeline

        timeline_svg = timeline(project, fc).inline_svg
    ctx = customer_context(
        project,
        fc,
        bands,
        names=names,
        holds=holds,
        timeline_svg=timeline_svg,
        generated_at=generated_at or datetime.now(UTC),
        zone=zone,
        version=_version(),
    )
    return environment().get_template("customer.html.j2").render(**ctx)


PROFILES = ("internal", "customer")


def write_project_report(
    ctx: Any,
    code: str,
    out_dir: Path,
    today: datetime | None,
    *,
    profile: str = "internal",
    zone: str | None = None,
) -> list[Path]:
    """``<out>/<code>.html`` (internal) or ``<out>/<code>-customer.html`` (customer), plus the
    timeline as ``<code>-timeline.png`` and ``.svg``."""
    from ..domain.montecarlo import confidence
    from . import charts, data
    from .customer import people_in

    if profile not in PROFILES:
        raise ValueError(f"unknown report profile {profile!r}: use internal or customer")
    project, now = data.load_project(ctx, code)
    today = today or now
    fc = forecast(project, today)
    bands = confidence(project, today, data.load_history(ctx, [project]))
    pictures = charts.timeline(project, fc)
    stem = safe_stem(code)
    files = pictures.write(out_dir, f"{stem}-timeline")
    if profile == "customer":
        holds = data.hold_history(ctx, code)
        names = data.load_names(ctx, people_in(project, holds))
        html = render_customer(
            project,
            today,
            names=names,
            holds=holds,
            bands=bands,
            generated_at=now,
            timeline_svg=pictures.inline_svg,
            zone=zone,
        )
        page = out_dir / f"{stem}-customer.html"
    else:
        audit = data.verify_chain(ctx, code)
        html = render_project(
            project,
            today,
            audit=audit,
            generated_at=now,
            timeline_svg=pictures.inline_svg,
            bands=bands,
            zone=zone,
        )
        page = out_dir / f"{stem}.html"
    page.write_text(html, encoding="utf-8")
    return [page, files["png"], files["svg"]]


def safe_stem(code: str) -> str:
    """The file-name stem of a project's report files."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in code)


# ----------------------------------------------------------------------------- portfolio


PORTFOLIO_ITERATIONS = 200
"""Monte Carlo runs per project in the portfolio (a project report uses 2,000): the
completion band of 1,000 projects in about a second (docs/performance.md)."""


def portfolio_table(
    rows: Sequence[PortfolioRow], bands: Mapping[str, Confidence] | None = None
) -> list[dict[str, Any]]:
    from ..domain.budget import budget_view

    out = []
    for r in rows:
        fc = r.forecast
        band = (bands or {}).get(r.project.code)
        out.append(
            {
                "band": band.completion if band is not None else None,
                "budget": budget_view(r.project),
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
    bands: Mapping[str, Confidence] | None = None,
) -> str:
    return (
        environment()
        .get_template("portfolio.html.j2")
        .render(
            rows=portfolio_table(rows, bands),
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
    from ..domain.montecarlo import confidence
    from . import charts, data

    projects, now = data.load_portfolio(ctx)
    today = today or now
    history = data.load_history(ctx, projects)
    rows = charts.portfolio_rows(projects, today)
    bands = {
        r.project.code: confidence(
            r.project,
            today,
            history,
            iterations=PORTFOLIO_ITERATIONS,
            base=r.forecast,
            phase_bands=False,
        )
        for r in rows
    }
    shown = charts.select_rows(rows)
    pictures = charts.render(charts.portfolio_figure(shown, today, total=len(rows)))
    files = pictures.write(out_dir, "portfolio")
    html = render_portfolio(
        rows,
        today,
        chart_svg=pictures.inline_svg,
        shown=len(shown),
        generated_at=now,
        bands=bands,
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
