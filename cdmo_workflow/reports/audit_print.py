"""The inspector's printout of a project's audit trail, as one self-contained HTML page.

Every event with who, what, when (server time, UTC), why (reason, rule), old and new
values, the signature manifestations it carries (21 CFR 11.50) and its place in the hash
chain, plus the result of recomputing the chain. Printing from a browser repeats the page
header (project, export time) and the column headings on every page: the whole page is one
table whose ``<thead>`` holds the running header (``display: table-header-group``), which
browsers repeat on each printed page, and ``@page`` adds page numbers where supported.

PDF is not produced: no library in the dependencies renders HTML to PDF, and "Print → Save
as PDF" from any browser gives a faithful PDF of this page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

MAX_VALUE_LINES = 60


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``{"a": {"b": 1}}`` → ``[("a.b", "1")]``; lists of scalars stay on one line."""
    if isinstance(value, Mapping):
        out: list[tuple[str, str]] = []
        for k in value:
            out.extend(flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
        if not value and prefix:
            out.append((prefix, "{}"))
        return out
    if isinstance(value, list) and any(isinstance(v, Mapping | list) for v in value):
        out = []
        for i, v in enumerate(value):
            out.extend(flatten(v, f"{prefix}[{i}]"))
        return out
    if isinstance(value, list):
        text = ", ".join("null" if v is None else str(v) for v in value) or "[]"
        return [(prefix or "value", text)]
    if value is None:
        return [(prefix or "value", "null")]
    return [(prefix or "value", str(value))]


def _value_lines(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    lines = flatten(value)
    if len(lines) > MAX_VALUE_LINES:  # never silently: say how much is folded away
        rest = len(lines) - MAX_VALUE_LINES
        lines = [*lines[:MAX_VALUE_LINES], ("…", f"{rest} more fields (see the JSON export)")]
    return lines


def event_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Export rows (``audit.export`` JSON) → what the template shows for each event."""
    from ..audit import signatures

    out = []
    for row in rows:
        old, new = row.get("old"), row.get("new")
        changed: set[str] = set()
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            o, n = dict(flatten(old)), dict(flatten(new))
            changed = {k for k in set(o) | set(n) if o.get(k) != n.get(k)}
        out.append(
            {
                "seq": row["seq"],
                "at": row["at"],
                "actor": row["actor"],
                "action": row["action"],
                "subject": row["subject"],
                "outcome": row.get("outcome") or "accepted",
                "rule": row.get("rule"),
                "reason": row.get("reason"),
                "old": _value_lines(old),
                "new": _value_lines(new),
                "changed": changed,
                "events": [
                    e.get("name", "?") + (f" ({e['gate']})" if e.get("gate") else "")
                    for e in (row.get("events") or [])
                    if isinstance(e, Mapping)
                ],
                "signatures": signatures(row),
                "hash": row["hash"],
                "prev_hash": row["prev_hash"],
            }
        )
    return out


def render_audit_html(
    chain: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    verification: Mapping[str, Any],
    exported_at: datetime,
    exported_by: str,
    project: Mapping[str, Any] | None = None,
) -> str:
    """The printout. ``rows`` are ``audit.export(..., "json")`` rows of one chain."""
    from .html import environment

    events = event_rows(rows)
    return (
        environment()
        .get_template("audit.html.j2")
        .render(
            chain=chain,
            project=project,
            events=events,
            signed=[e for e in events if e["signatures"]],
            refused=sum(1 for e in events if e["outcome"] == "refused"),
            verification=verification,
            exported_at=exported_at,
            exported_by=exported_by,
        )
    )


def export_audit_html(ctx: Any, code: str) -> str:
    """``cdmo audit export CODE --format html``: read, verify and render one chain."""
    from .. import service
    from . import data

    rows = json.loads(service.export_audit(ctx, code, "json"))
    result = service.verify_audit(ctx, code)
    verification = {
        "ok": result.ok,
        "checked": result.checked,
        "first_broken": dict(result.first_broken) if result.first_broken else None,
    }
    info: dict[str, Any] | None = None
    if code != service.SYSTEM_CHAIN:
        project, now = data.load_project(ctx, code)
        info = {
            "code": project.code,
            "customer": project.customer,
            "process": project.process_id,
            "process_name": project.snapshot.process.name,
            "version_hash": project.snapshot.version_hash,
            "state": project.state.value,
        }
    else:
        with ctx.db.unit_of_work(read_only=True) as uow:
            now = uow.now()
    return render_audit_html(
        code,
        rows,
        verification=verification,
        exported_at=now,
        exported_by=service.system_actor(),
        project=info,
    )
