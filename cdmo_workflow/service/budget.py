"""Budget commands: a phase's quote, one cost, an ERP cost export; and the cost listing.

Each runs through the one runner (authentication, idempotency, audit, outbox, versioned
save). The rules are ``domain/budget.py``'s and ``domain/cost_import.py``'s; this module looks
up the entries already recorded (``uow.costs``) and stores the new ones in the command's
transaction, so the totals in the project document and the rows in ``cost_entries`` commit
together or not at all.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cdmo_workflow.domain import budget as rules
from cdmo_workflow.domain.cost_import import plan_import, read_csv, refusal
from cdmo_workflow.domain.errors import RuleViolation
from cdmo_workflow.domain.money import text
from cdmo_workflow.domain.project import Change, Project
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Command, Step, execute, load, project_command

MAX_IMPORT_BYTES = 20_000_000
"""Largest cost file read (20 MB, about 150,000 rows)."""


def set_quote(
    ctx: Context,
    code: str,
    phase: str,
    amount: str,
    by: str,
    idempotency_key: str | None = None,
    *,
    change: str | None = None,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo budget set``: the first quote of a phase, or a change of it under an approved
    change request with a cost impact (``change``); otherwise refused (quote-locked)."""

    def apply(project: Project, step: Step) -> Change:
        if change is not None:
            return rules.requote(project, phase, amount, by, step.now, change)
        return rules.set_quote(project, phase, amount, by, step.now)

    arguments = {"phase": phase, "quoted": amount, **({"change": change} if change else {})}
    return project_command(
        ctx, "budget.set-quote", code, phase, arguments, Credential(by, password, session),
        apply, idempotency_key,
    )  # fmt: skip


def add_cost(
    ctx: Context,
    code: str,
    phase: str,
    amount: str,
    kind: str,
    ref: str,
    by: str,
    note: str | None = None,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """Record one commitment or actual cost (``cdmo cost add``)."""

    def apply(step: Step) -> Change:
        project = step.require_project()
        line = rules.cost_line(project, phase, kind, amount, ref, note)
        known = step.uow.costs.find(code, [(line.kind, line.ref)])
        change = rules.add_cost(project, line, by, step.now, known)
        _store(step, code, [line], by, source="cli", batch=None)
        return change

    return execute(
        ctx,
        Command(
            "cost.add",
            Credential(by, password, session),
            ref,
            {"phase": phase, "kind": kind, "amount": amount, "ref": ref, "note": note},
            apply,
            project=code,
            idempotency_key=idempotency_key,
        ),
    )


def import_costs(
    ctx: Context,
    code: str,
    content: str,
    file_name: str,
    by: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """Import an ERP cost export (``cdmo cost import``): every row checked first; any bad
    row refuses the whole file (each problem as ``file:row:column: field: ...``); rows
    already recorded identically are skipped, so importing the same export twice is safe."""
    digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1][:200] or "costs.csv"

    def apply(step: Step) -> Change:
        project = step.require_project()
        rules.require_cost_recorder(project, by, "import costs")
        if len(content) > MAX_IMPORT_BYTES:
            raise RuleViolation(
                "cost-import-too-large",
                f"{name} is larger than {MAX_IMPORT_BYTES // 1_000_000} MB; split the export",
                file=name,
            )
        table = read_csv(content, name)
        rules.budget_of(project)
        keys: list[tuple[str, str]] = []
        if not table.problems:
            for _row, cells in table.rows:
                kind = (table.cell(cells, "kind") or "").strip().lower()
                ref = (table.cell(cells, "ref") or "").strip()
                if kind and ref:
                    keys.append((kind, ref))
        known = step.uow.costs.find(code, keys)
        plan = plan_import(project, table, known)
        if plan.problems:
            raise refusal(table, plan)
        batch = f"import:{digest[:32]}"
        summary = {
            "file": name,
            "sha256": digest,
            "rows": len(table.rows),
            "imported": len(plan.lines),
            "skipped": plan.skipped,
            "ignored_columns": table.ignored[:20],
        }
        change = rules.record(
            project,
            plan.lines,
            by,
            step.now,
            action="cost.import",
            subject=name,
            summary=summary,
        )
        _store(step, code, plan.lines, by, source="import", batch=batch)
        step.data.update(summary)
        return change

    return execute(
        ctx,
        Command(
            "cost.import",
            Credential(by, password, session),
            name,
            {"file": name, "sha256": digest, "characters": len(content)},
            apply,
            project=code,
            idempotency_key=idempotency_key,
        ),
    )


def _store(
    step: Step, code: str, lines: list[rules.CostLine], by: str, *, source: str, batch: str | None
) -> None:
    project = step.require_project()
    assert project.budget is not None
    step.uow.costs.add(
        [
            {
                "project": code,
                "phase": line.phase,
                "kind": line.kind,
                "amount": line.amount,
                "currency": project.budget.currency,
                "ref": line.ref,
                "note": line.note,
                "booked_on": line.booked_on,
                "source": source,
                "batch": batch,
                "row": line.row,
                "recorded_by": by,
                "recorded_at": step.now,
            }
            for line in lines
        ]
    )


# ---------------------------------------------------------------------- read models


def list_costs(ctx: Context, code: str, phase: str | None = None) -> dict[str, Any]:
    """The project's budget view and every cost entry (amounts as exact text)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        project, _ = load(ctx, uow, code)
        if phase is not None:
            project.phase_def(phase)
        entries = uow.costs.list(code, phase)
    return {
        "project": code,
        "budget": rules.budget_view(project),
        "entries": [
            {
                "phase": e.phase,
                "kind": e.kind,
                "amount": text(e.amount),
                "currency": e.currency,
                "ref": e.ref,
                "note": e.note,
                "booked_on": e.booked_on,
                "source": e.source,
                "row": e.row,
                "recorded_by": e.recorded_by,
                "recorded_at": e.recorded_at.isoformat().replace("+00:00", "Z"),
            }
            for e in entries
        ],
    }
