"""What the Prefect UI shows besides runs: events for automations and the artifacts.

* one Prefect event per domain event, ``cdmo.<name>`` (``cdmo.gate.opened`` ...), with the
  project as the resource and the gate, phase and customer as related resources; the event
  id is derived from (project, audit seq, index), so publishing twice is harmless;
* a markdown artifact per project (key ``project-<code>``) and the ``portfolio`` table.
"""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, datetime
from typing import Any

from .. import service
from ..domain.calendar import calendar_of
from ..domain.events import DomainEvent
from ..domain.project import Project
from ..domain.records import ProjectState, iso, parse_time
from ..markup import md, safe_url
from . import naming
from .reads import artifact_facts

_NS = uuid.UUID("1b7c3c2e-8d0e-4f5e-9a54-6d1f0c9e2a10")


def emit_events(events: list[DomainEvent], audit_seq: int | None) -> int:
    """Emit ``cdmo.<event>`` Prefect events; returns how many were handed to the emitter."""
    from prefect.events import emit_event

    n = 0
    for i, e in enumerate(events):
        resource = {
            "prefect.resource.id": naming.project_resource(e.project),
            "prefect.resource.name": e.project,
            "cdmo.project": e.project,
        }
        related: list[dict[str, str]] = []
        if e.gate:
            related.append(
                {
                    "prefect.resource.id": naming.gate_resource(e.project, e.gate),
                    "prefect.resource.role": "gate",
                    "prefect.resource.name": str(e.data.get("gate_name") or e.gate),
                    "cdmo.gate": e.gate,
                }
            )
        if e.phase:
            related.append(
                {
                    "prefect.resource.id": f"cdmo.phase.{e.project}.{e.phase}",
                    "prefect.resource.role": "phase",
                    "cdmo.phase": e.phase,
                }
            )
        if e.data.get("customer"):
            related.append(
                {
                    "prefect.resource.id": f"cdmo.customer.{e.data['customer']}",
                    "prefect.resource.role": "customer",
                }
            )
        event_id = uuid.uuid5(_NS, f"{e.project}:{audit_seq}:{i}:{e.name}")
        payload = {k: v for k, v in e.data.items() if k != "password"}
        emitted = emit_event(
            event=naming.event_name(e.name),
            resource=resource,
            related=related,
            payload={"project": e.project, "phase": e.phase, "gate": e.gate, **payload},
            id=event_id,
        )
        n += 1 if emitted is not None else 0
    return n


# ---------------------------------------------------------------------- artifacts


def project_markdown(ctx: Any, project: Project) -> str:
    """The ``project-<code>`` artifact: every piece of user text goes through :func:`md`."""
    from ..domain.views import status

    s = status(project)
    names, a = artifact_facts(ctx, project.code)

    def who(uid: str) -> str:
        return f"{md(names.get(uid, uid))} ({md(uid)})"

    lines = [
        f"# {md(project.code)} · {md(project.customer)}",
        "",
        f"**Process:** {md(s['process']['name'])} ({md(s['process']['id'])}, version "
        f"{md(s['process']['version_hash'][:12])}) · **State:** {md(s['state'])}"
        + (f" · **On hold:** {md(project.hold.reason)}" if project.hold else ""),
        "",
        "## Phases",
        "",
        "| Phase | State | Cycle | Gate | Gate state | Outcome |",
        "|---|---|---|---|---|---|",
    ]
    gates = {g["id"]: g for g in s["gates"]}
    for p in s["phases"]:
        g = gates[p["gate"]]
        lines.append(
            f"| {md(p['name'])} | {md(p['state'])} | {p['cycle']} | {md(g['name'])} "
            f"| {md(g['state'])} | {md(g['outcome'] or '')} |"
        )
    lines += ["", "## Still open in the active phases", ""]
    if not s["open_items"]:
        lines.append("_No active phase._")
    for ph in s["open_items"]:
        lines += [f"**{md(ph['name'])}** ({md(ph['phase'])}):", ""]
        if not ph["items"]:
            lines.append("- nothing left: the gate waits for its sign-offs")
        for it in ph["items"]:
            owners = ", ".join(who(u) for u in it["owners"]) or "_nobody assigned_"
            lines.append(
                f"- [open] {md(it['kind'])} **{md(it['name'])}** ({md(it['id'])}), "
                f"owner {md(it['owner_role'])}: {owners}"
            )
        lines.append("")
    lines.append(
        "Do the phase's work from the Deployments page: submit-deliverable, confirm-check, "
        "close-condition (Run → Quick run; the run asks for the details and your password "
        "in its Resume form), or with the `cdmo` command."
    )
    open_gates = [g for g in s["gates"] if g["state"] == "open"]
    lines += ["", "## Open gates", ""]
    if not open_gates:
        lines.append("_None._")
    for g in open_gates:
        signed = ", ".join(
            f"{md(x['name'])}"
            + (f" on behalf of {who(x['on_behalf_of'])}" if x.get("on_behalf_of") else "")
            + f" ({md(x['role'])}, {md(x['decision'])})"
            for x in g["signatures"]
        )
        missing = []
        for m in g["missing"]:
            people = ", ".join(md(names.get(u, u)) for u in project.team.get(m["role"], []))
            missing.append(f"{md(m['role'])} × {m['needed']} ({people})")
        lines.append(
            f"- **{md(g['name'])}** (review #{g['review']}, opened "
            f"{naming.ui_time(g['opened_at'])}): signed: {signed or 'nobody yet'}; "
            f"missing: {'; '.join(missing)}"
        )
    conds = [c for c in s["conditions"] if not c.get("done")]
    if conds:
        lines += ["", "## Open conditions", ""]
        for c in conds:
            state = "closed, awaiting acceptance" if c["state"] == "closed" else c["state"]
            due = f", due {naming.ui_time(c['due_at'])}" if c.get("due_at") else ""
            evidence = f", evidence {md(c['evidence'])}" if c.get("evidence") else ""
            owner = md(c.get("owner") or "phase owner or manager")
            lines.append(
                f"- {md(c['id'])} ({md(state)}; owner {owner}{due}{evidence}) blocks "
                f"{md(', '.join(c.get('phases') or [c['phase']]))}: {md(c['text'])}"
            )
    holds = [h for h in s.get("holds") or [] if h.get("released_at") is None]
    if holds:
        lines += ["", "## Holds", ""]
        for h in holds:
            kind = "quality hold" if h.get("quality") else "hold"
            where = f"phase {h['held_phase']}" if h.get("held_phase") else "the project"
            lines.append(
                f"- {md(h.get('id') or '')}: {kind} on {md(where)} by {who(h['by'])} since "
                f"{naming.ui_time(h['at'])}: {md(h['reason'])}"
            )
    lines += ["", _forecast_section(ctx, project)]
    from ..reports.markdown import budget_markdown

    lines += ["", budget_markdown(project)] if project.budget is not None else []
    lines += [
        "",
        "## Audit trail",
        "",
        f"{a['accepted']} accepted and {a['refused']} refused commands; hash chain "
        + ("**verified**" if a["verified"] else f"**BROKEN** at {a['first_broken']}")
        + f" ({a['checked']} rows).",
        "",
        "| Seq | At | Actor | Action | Subject | Outcome |",
        "|---|---|---|---|---|---|",
    ]
    for r in reversed(a["last"]):
        outcome = md(r["outcome"]) + (f" ({md(r['rule'])})" if r["rule"] else "")
        lines.append(
            f"| {r['seq']} | {naming.ui_time(r['at'])} | {md(r['actor'])} | {md(r['action'])} "
            f"| {md(r['subject'])} | {outcome} |"
        )
    return "\n".join(lines)


def _forecast_section(ctx: Any, project: Project) -> str:
    """The critical-path forecast, and the report with its timeline picture when published.

    ``CDMO_REPORTS_DIR``: write ``<CODE>.html`` and ``<CODE>-timeline.png/.svg`` there at
    every change. ``CDMO_REPORTS_URL``: the address a web server publishes that folder at;
    the artifact then links the report and shows the timeline picture (the Prefect UI renders
    markdown images from a URL).
    """
    import os
    from pathlib import Path

    from ..reports import forecast_markdown
    from ..reports.html import safe_stem

    now = datetime.now(UTC)
    stem = safe_stem(project.code)
    base = (os.environ.get("CDMO_REPORTS_URL") or "").rstrip("/")
    folder = os.environ.get("CDMO_REPORTS_DIR")
    if folder:
        from ..reports.html import write_project_report

        write_project_report(ctx, project.code, Path(folder), now)
    report_url = f"{base}/{stem}.html" if base else None
    text = forecast_markdown(project, now, report_url)
    if base:
        picture = safe_url(f"{base}/{stem}-timeline.png")
        if picture:
            text += f"\n\n![Timeline of {md(project.code)}]({picture})\n"
    return text


def publish_project(ctx: Any, code: str, project: Project | None = None) -> str:
    """Create or update the ``project-<code>`` markdown artifact; returns its key.
    ``project``: the aggregate a command just saved (a post-commit hook), else loaded."""
    from prefect.artifacts import create_markdown_artifact

    if project is None or project.code != code:
        project = service.load_project(ctx, code)
    key = naming.artifact_key(code)
    with warnings.catch_warnings():  # the CLI hook publishes outside a flow run on purpose
        warnings.simplefilter("ignore", FutureWarning)
        create_markdown_artifact(
            markdown=project_markdown(ctx, project),
            key=key,
            description=f"{md(code)} ({md(project.customer)}): phases, open items, gates, audit",
        )
    return key


def sla_status(
    opened_at: datetime, decide_within: str | None, now: datetime, calendar: Any = None
) -> tuple[str, str]:
    """("on time" | "due soon" | "overdue" | "no SLA", due date ISO): the one SLA rule of
    ``domain/sla.py``, with the project's site calendar."""
    from ..domain.sla import sla_status as rule

    status, due = rule(opened_at, decide_within, now, calendar)
    return status, (iso(due) or "") if due is not None else ""


def portfolio_rows(ctx: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for p in service.list_projects(ctx, ["active", "on-hold"]):
        project = service.load_project(ctx, p["code"])
        base = {
            "project": project.code,
            "customer": project.customer,
            "process": project.process_id,
            "state": project.state.value,
            "phase": ", ".join(project.current_phases()),
        }
        reviews = project.open_reviews() if project.state == ProjectState.ACTIVE else []
        if not reviews:
            rows.append({**base, "gate": "", "open_days": "", "sla_due": "", "sla": ""})
        for r in reviews:
            gdef = project.snapshot.gates[r.gate]
            opened = parse_time(iso(r.opened_at)) or now
            status, due = sla_status(
                opened,
                gdef.sla.decide_within if gdef.sla else None,
                now,
                calendar_of(project.snapshot),
            )
            rows.append(
                {
                    **base,
                    "gate": f"{gdef.name} (#{r.number})",
                    "open_days": round((now - opened).total_seconds() / 86400, 1),
                    "sla_due": due,
                    "sla": status,
                }
            )
    return rows


def publish_portfolio(ctx: Any) -> int:
    """Create or update the ``portfolio`` table artifact; returns the number of rows."""
    from prefect.artifacts import create_table_artifact

    rows = portfolio_rows(ctx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        create_table_artifact(
            table=rows or [{"project": "", "note": "no active project"}],
            key=naming.PORTFOLIO_KEY,
            description="Active projects: current phase, open gates, days open and SLA status",
        )
    return len(rows)
