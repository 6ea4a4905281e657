"""Cross-checks between files: ids, references, roles, the phase graph, gates."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from . import graph as g
from .change_checks import check_change_control
from .findings import _Report, _Source
from .models import (
    Decision,
    GateDef,
    ProcessDef,
)
from .reader import Path as DocPath


def _dups(
    src: _Source,
    report: _Report,
    items: Iterable[tuple[DocPath, str]],
    what: str,
    where: str = "",
) -> None:
    first: dict[str, DocPath] = {}
    for path, ident in items:
        if ident in first:
            line = src.doc.mark(first[ident])[0]
            text = f"duplicate {what} {ident!r}{where} (first at line {line})"
            report.add(src, path, text, "duplicate-id")
        else:
            first[ident] = path


def _check_gate_alone(src: _Source, gate: GateDef, report: _Report) -> None:
    _dups(src, report, ((("checks", i, "id"), c.id) for i, c in enumerate(gate.checks)), "check id")
    _dups(
        src,
        report,
        ((("signoffs", i, "role"), q.role) for i, q in enumerate(gate.signoffs)),
        "sign-off quota for role",
    )
    _dups(
        src, report, ((("decisions", i), d.value) for i, d in enumerate(gate.decisions)), "decision"
    )
    if Decision.GO not in gate.decisions:
        report.add(
            src,
            ("decisions",),
            "decisions must include 'go', or the gate can never pass",
            "decision",
        )
    if gate.recycle_to is not None and Decision.RECYCLE not in gate.decisions:
        report.add(
            src,
            ("recycle_to",),
            "recycle_to is set but 'recycle' is not an allowed decision",
            "recycle-to",
            severity="warning",
        )
    stem = src.path.name.rsplit(".", 1)[0]
    if stem != gate.id:
        report.add(
            src,
            ("id",),
            f"gate id {gate.id!r} does not match the file name {src.path.name!r} "
            f"(expected {gate.id}.yaml)",
            "file-name",
            severity="warning",
        )


def _gate_roles(gate: GateDef) -> list[tuple[DocPath, str]]:
    out: list[tuple[DocPath, str]] = []
    out += [(("checks", i, "confirmed_by"), c.confirmed_by) for i, c in enumerate(gate.checks)]
    out += [(("signoffs", i, "role"), q.role) for i, q in enumerate(gate.signoffs)]
    if gate.sla is not None:
        out += [(("sla", "escalate_to", i), r) for i, r in enumerate(gate.sla.escalate_to)]
    for event, roles in gate.notify.items():
        out += [(("notify", event, i), r) for i, r in enumerate(roles)]
    return out


def _check_process(
    src: _Source,
    proc: ProcessDef,
    gates: dict[str, _Source],
    broken_gates: set[str],
    report: _Report,
) -> None:
    declared = set(proc.roles)
    roles_text = ", ".join(sorted(declared))

    def role(s: _Source, path: DocPath, name: str, what: str = "role") -> None:
        if name not in declared:
            hint = difflib.get_close_matches(name, sorted(declared), n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else ""
            if s is src:
                text = f"unknown {what} {name!r} (declared roles: {roles_text}{extra})"
            else:
                text = f"unknown {what} {name!r} (process {proc.id} declares: {roles_text}{extra})"
            report.add(s, path, text, "undeclared-role")

    if proc.manager_role not in declared:
        report.add(
            src,
            ("manager_role",) if "manager_role" in src.doc.data else ("roles",),
            f"manager role {proc.manager_role!r} is not declared in roles (declared: {roles_text})",
            "undeclared-role",
            field_name="manager_role",
        )
    if proc.admin_role is not None:
        role(src, ("admin_role",), proc.admin_role, "admin role")
    if isinstance(src.doc.data, dict) and "quality_role" in src.doc.data:
        # the default (qa) may be undeclared: the process then has no quality holds
        role(src, ("quality_role",), proc.quality_role, "quality role")
    for event, names in proc.notify.items():
        for i, name in enumerate(names):
            role(src, ("notify", event, i), name)
    check_change_control(src, proc, report)

    phase_ids = [p.id for p in proc.phases]
    _dups(src, report, ((("phases", i, "id"), p.id) for i, p in enumerate(proc.phases)), "phase id")
    index: dict[str, int] = {}
    for i, p in enumerate(proc.phases):
        index.setdefault(p.id, i)
    known = set(phase_ids)
    graph = {p.id: list(p.after) for p in reversed(proc.phases)}  # first definition wins
    graph = {pid: graph[pid] for pid in dict.fromkeys(phase_ids)}
    waits_unknown: set[str] = set()
    for i, p in enumerate(proc.phases):
        role(src, ("phases", i, "owner"), p.owner)
        _dups(
            src,
            report,
            ((("phases", i, "deliverables", j, "id"), d.id) for j, d in enumerate(p.deliverables)),
            "deliverable id",
            f" in phase '{p.id}'",
        )
        for j, d in enumerate(p.deliverables):
            role(src, ("phases", i, "deliverables", j, "owner"), d.owner)
        for j, dep in enumerate(p.after):
            if dep not in known:
                waits_unknown.add(p.id)
                hint = difflib.get_close_matches(dep, phase_ids, n=1)
                extra = f"did you mean '{hint[0]}'?" if hint else f"phases: {', '.join(phase_ids)}"
                report.add(
                    src,
                    ("phases", i, "after", j),
                    f"unknown phase {dep!r} ({extra})",
                    "unknown-phase",
                )

    # Cycles: report each distinct cycle once, at the `after` entry that closes it.
    work = {pid: list(after) for pid, after in graph.items()}
    in_cycle: set[str] = set()
    for _ in range(len(work) + 1):
        cycle = g.find_cycle(work)
        if cycle is None:
            break
        in_cycle.update(cycle)
        head, tail = cycle[0], cycle[-2]
        # cycle runs head -> ... -> tail -> head: head.after names tail.
        i = index[head]
        j = proc.phases[i].after.index(tail)
        report.add(
            src, ("phases", i, "after", j), "phases form a cycle: " + " -> ".join(cycle), "cycle"
        )
        work[head] = [d for d in work[head] if d != tail]
    reachable = set(g.reachable_order(graph))
    for pid in graph:
        if pid in reachable or pid in in_cycle or pid in waits_unknown:
            continue
        blockers = [d for d in graph[pid] if d not in reachable]
        report.add(
            src,
            ("phases", index[pid], "after"),
            f"phase {pid!r} can never start: it waits for "
            + ", ".join(repr(b) for b in blockers)
            + ", which can never start",
            "unreachable",
        )

    # Final phases are only meaningful once the graph is sound.
    sound = not in_cycle and not waits_unknown and len(set(phase_ids)) == len(phase_ids)
    finals = set(g.final_phases(graph)) if sound else set()
    used: dict[str, str] = {}
    for i, p in enumerate(proc.phases):
        if p.gate in used:
            report.add(
                src,
                ("phases", i, "gate"),
                f"gate {p.gate!r} already ends phase {used[p.gate]!r}; within one process "
                "a gate may end only one phase",
                "gate-reused",
            )
            continue
        used[p.gate] = p.id
        gsrc = gates.get(p.gate)
        if gsrc is None or not isinstance(gsrc.model, GateDef):
            if p.gate not in broken_gates:
                defined = ", ".join(sorted(gates)) or "none"
                report.add(
                    src,
                    ("phases", i, "gate"),
                    f"gate {p.gate!r} is not defined (expected gates/{p.gate}.yaml; "
                    f"defined gates: {defined})",
                    "undefined-gate",
                )
            continue
        gate = gsrc.model
        for path, name in _gate_roles(gate):
            role(gsrc, path, name)
        if gate.recycle_to is not None:
            if gate.recycle_to not in known:
                report.add(
                    gsrc,
                    ("recycle_to",),
                    f"unknown phase {gate.recycle_to!r}: process {proc.id} has no such "
                    f"phase (phases: {', '.join(phase_ids)})",
                    "unknown-phase",
                )
            elif gate.recycle_to != p.id and gate.recycle_to not in g.upstream(graph, p.id):
                report.add(
                    gsrc,
                    ("recycle_to",),
                    f"recycle_to {gate.recycle_to!r} must be the gated phase {p.id!r} or "
                    f"a phase before it in process {proc.id}",
                    "recycle-to",
                )
        if p.id in finals and Decision.CONDITIONAL_GO in gate.decisions:
            data = gsrc.doc.data
            if isinstance(data, dict) and "decisions" in data:
                where: DocPath = ("decisions", gate.decisions.index(Decision.CONDITIONAL_GO))
                how = "remove it from decisions"
            else:
                where = ("id",)
                how = "list decisions without it, e.g. [go, hold, recycle, kill]"
            report.add(
                gsrc,
                where,
                f"conditional-go is not allowed at the final gate of process {proc.id} "
                f"(phase {p.id!r} has no later gate to check its conditions): {how}",
                "final-conditional-go",
                field_name="decisions",
            )


def _raw_gate_refs(src: _Source) -> set[str]:
    """Gate ids named by a process file that did not validate (best effort)."""
    out: set[str] = set()
    data = src.doc.data
    phases = data.get("phases") if isinstance(data, dict) else None
    if isinstance(phases, list):
        for p in phases:
            if isinstance(p, dict) and isinstance(p.get("gate"), str):
                out.add(p["gate"])
    return out
