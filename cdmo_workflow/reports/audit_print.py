"""The inspector's printout of a project's audit trail, as one self-contained HTML page.

The header gives the verification result (hash chain and signed checkpoints), the checkpoint
status and the public-key fingerprint. "Electronic signatures" lists accepted signatures only
(printed name, UTC time, meaning, role, decision, record hash; 21 CFR 11.50); refused attempts
have their own labelled table (who, when, which rule, the decision attempted). Then every
event with who, what, when (server time, UTC), why (every reason printed beside its action),
old and new values and its place in the hash chain. Printing from a browser repeats the page
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
    from ..audit.export import reasons, signature_records

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
                "signature_records": signature_records(row),
                "reasons": reasons(row),
                "attempted": _attempted(row),
                "hash": row["hash"],
                "prev_hash": row["prev_hash"],
            }
        )
    return out


def _attempted(row: Mapping[str, Any]) -> str | None:
    """For a refused command: what it tried (the decision and role of a refused signature)."""
    if row.get("outcome") != "refused":
        return None
    new = row.get("new")
    if not isinstance(new, Mapping):
        return None
    if new.get("decision"):
        parts = [f"{new['decision']}"]
        if new.get("role"):
            parts.append(f"as {new['role']}")
        if new.get("gate"):
            parts.append(f"at gate {new['gate']}")
        return " ".join(parts)
    shown = [f"{k}: {v}" for k, v in new.items() if v not in (None, "", [], {})]
    return "; ".join(shown) or None


def render_audit_html(
    chain: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    verification: Mapping[str, Any],
    exported_at: datetime,
    exported_by: str,
    project: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
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
            signed=[e for e in events if e["signature_records"]],
            refused=[e for e in events if e["outcome"] == "refused"],
            names=dict(names or {}),
            verification=verification,
            exported_at=exported_at,
            exported_by=exported_by,
        )
    )


def export_audit_html(ctx: Any, code: str) -> str:
    """``cdmo audit export CODE --format html``: read, verify and render one chain."""
    from .. import audit, service
    from . import data

    rows = json.loads(audit.export(ctx.db, code, "json"))
    report = audit.verify_all(ctx.db, ctx.settings, code)
    chain = next((c for c in report.chains if c.chain == code), None)
    cp = chain.last_checkpoint if chain is not None else None
    verification = {
        "status": report.status,
        "ok": report.ok,
        "summary": report.summary(),
        "problems": list(report.problems),
        "checked": chain.rows if chain is not None else 0,
        "checkpoint": (
            {"seq": cp.seq, "hash": cp.hash, "at": cp.when(), "key": cp.key} if cp else None
        ),
        "checkpoints": chain.checkpoints if chain is not None else 0,
        "checkpoint_dir": str(ctx.settings.checkpoint_dir),
        "key": cp.key if cp else (audit.current_key(ctx.settings) or "none"),
    }
    with ctx.db.unit_of_work(read_only=True) as uow:
        names = uow.users.names({r["actor"] for r in rows})
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
        names=names,
    )
