"""Moving a running project to another version of its process: the impact, and the move. Pure.

:func:`analyse` is the one impact analysis: ``cdmo definitions diff --projects``,
``cdmo project migrate --dry-run`` and the refusal of a migration all print it. It lists

* the **refusals**, every one of them (rule id and sentence): another process
  (``other-process``), the same version (``same-version``), a completed or killed project
  (``project-closed``), a completed or active phase removed (``started-phase-removed``), a
  decided gate changed (``decided-gate-changed``: its checks, quotas or decisions, its
  phase's deliverables or the gate a completed phase ends at), a started phase made to wait
  for one that has not passed (``started-phase-would-wait``), an open condition on a removed
  phase (``condition-on-removed-phase``), an open review the new quotas would complete
  without a signature (``would-decide-open-gate``: decide it first), a team role the new
  version does not declare (``team-role-undeclared``), a quota the team cannot meet
  (``team-cannot-meet-quota``), no final phase left to reach (``no-reachable-final``);
* the **phases** added or removed (all pending), each before, after or beside the current
  ones, and whether an added phase starts at once;
* the **gates** that change, and for each open review whether it stays open with the
  signatures given so far (only its quotas, SLA or notifications change and every signature
  still fits a quota) or is voided (its checks, decisions or its phase's deliverables
  change, or a signature no longer fits: those signatures do not count, and a new review
  opens when the phase's items are done);
* the **items** of the current phases: the deliverables and checks whose evidence carries
  over (unchanged definition), those dropped, and those newly due.

:func:`migrate` applies it to the aggregate in memory (the service saves it in the same
transaction as the approving signature); history (decided reviews, completed phases, their
runs) is never rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import cdmo_workflow.spec.graph as g

from ..spec.diff import SnapshotDiff, diff_gates, diff_snapshots
from ..spec.models import ProcessSnapshot
from . import events as ev
from .errors import RuleViolation
from .plan import topological
from .records import PhaseRun, PhaseState, ProjectState, ReviewState
from .sla import missing_quotas
from .staffing import team_shortfalls

if TYPE_CHECKING:  # pragma: no cover - typing only (project.py imports change_control)
    from .project import Project

STRUCTURAL = ("check-", "decision-")
"""Gate change kinds that void an open review (with any change of the phase's deliverables
or of the gate the phase ends at)."""
DECIDED = ("check-", "decision-", "quota-")
"""Gate change kinds a decided gate may not undergo."""
PLAN_KINDS = frozenset({"phase-added", "phase-removed", "after-changed", "phase-duration"})


@dataclass(frozen=True)
class Refusal:
    rule: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class PhaseImpact:
    phase: str
    change: str
    """``added`` or ``removed``."""
    position: str
    """``before``, ``after`` or ``beside`` the current phases."""
    starts: bool = False
    """An added phase whose ``after`` have all passed starts at the migration."""

    def text(self) -> str:
        where = {"before": "before", "after": "after", "beside": "beside"}[self.position]
        head = f"phase {self.phase} is {self.change} ({where} the current phases)"
        return head + ("; it starts at once" if self.starts else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "change": self.change,
            "position": self.position,
            "starts": self.starts,
            "text": self.text(),
        }


@dataclass(frozen=True)
class GateImpact:
    gate: str
    phase: str
    state: str
    """``open``, ``waiting`` (its phase is active), ``pending`` or ``decided``."""
    changes: tuple[str, ...]
    review: str | None = None
    """For an open review: ``kept`` or ``voided``."""
    signatures: tuple[dict[str, Any], ...] = ()
    """``{user, role, counts, why}`` for each signature of an open review."""
    quotas_before: tuple[str, ...] = ()
    quotas_after: tuple[str, ...] = ()

    def text(self) -> str:
        head = f"gate {self.gate} ({self.state})"
        if self.changes:
            head += ": " + "; ".join(self.changes)
        if self.review == "kept":
            counted = [s["user"] for s in self.signatures]
            head += "; the open review stays open and the signatures given so far still count" + (
                f" ({', '.join(counted)})" if counted else ""
            )
        elif self.review == "voided":
            head += "; the open review is voided"
            if self.signatures:
                head += " and the signatures given so far no longer count ("
                head += ", ".join(f"{s['user']}: {s['why']}" for s in self.signatures) + ")"
        return head

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "phase": self.phase,
            "state": self.state,
            "changes": list(self.changes),
            "review": self.review,
            "signatures": list(self.signatures),
            "quotas_before": list(self.quotas_before),
            "quotas_after": list(self.quotas_after),
            "text": self.text(),
        }


@dataclass(frozen=True)
class ItemsImpact:
    phase: str
    carried: dict[str, tuple[str, ...]]
    """``{deliverables: (...), checks: (...)}`` whose evidence carries over."""
    dropped: dict[str, tuple[str, ...]]
    due: dict[str, tuple[str, ...]]
    """Required items of the new version not done yet."""

    def text(self) -> str:
        parts = []
        for kind in ("deliverables", "checks"):
            if self.carried.get(kind):
                parts.append(f"{kind} carried over: {', '.join(self.carried[kind])}")
            if self.dropped.get(kind):
                parts.append(f"{kind} dropped: {', '.join(self.dropped[kind])}")
            if self.due.get(kind):
                parts.append(f"{kind} still due: {', '.join(self.due[kind])}")
        return f"phase {self.phase}: " + ("; ".join(parts) or "nothing done yet, nothing due")

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "carried": {k: list(v) for k, v in self.carried.items()},
            "dropped": {k: list(v) for k, v in self.dropped.items()},
            "due": {k: list(v) for k, v in self.due.items()},
            "text": self.text(),
        }


@dataclass(frozen=True)
class Impact:
    """What moving ``project`` from its pinned version to ``to_version`` would do."""

    project: str
    process: str
    from_version: str
    to_version: str
    refusals: tuple[Refusal, ...]
    diff: SnapshotDiff | None = None
    phases: tuple[PhaseImpact, ...] = ()
    gates: tuple[GateImpact, ...] = ()
    items: tuple[ItemsImpact, ...] = ()
    current: tuple[str, ...] = ()
    plan_changes: bool = False
    kept_reviews: frozenset[str] = frozenset()
    """Phases whose open review stays open."""

    @property
    def ok(self) -> bool:
        return not self.refusals

    def lines(self) -> list[str]:
        """The impact as sentences (refusals first)."""
        out = [f"refused [{r.rule}]: {r.message}" for r in self.refusals]
        out += [p.text() for p in self.phases]
        out += [gi.text() for gi in self.gates]
        out += [i.text() for i in self.items]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "process": self.process,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "migratable": self.ok,
            "refusals": [r.to_dict() for r in self.refusals],
            "current_phases": list(self.current),
            "phases": [p.to_dict() for p in self.phases],
            "gates": [gi.to_dict() for gi in self.gates],
            "items": [i.to_dict() for i in self.items],
            "plan_changes": self.plan_changes,
        }

    def violation(self) -> RuleViolation:
        """The refusal of the migration, naming every reason."""
        reasons = "; ".join(f"[{r.rule}] {r.message}" for r in self.refusals)
        return RuleViolation(
            "migration-refused",
            f"project {self.project} cannot move to version {self.to_version[:12]}: {reasons}",
            project=self.project,
            version=self.to_version,
            reasons=[r.to_dict() for r in self.refusals],
        )


def _position(graph: Mapping[str, list[str]], phase: str, current: list[str]) -> str:
    if any(phase in g.downstream(graph, c) for c in current):
        return "after"
    if any(phase in g.upstream(graph, c) for c in current):
        return "before"
    return "beside"


def _quotas(gate: Any) -> tuple[str, ...]:
    return tuple(f"{q.role} × {q.min}" for q in gate.signoffs)


def analyse(project: Project, new: ProcessSnapshot) -> Impact:
    """The impact of moving ``project`` to ``new`` (see the module's docstring)."""
    old = project.snapshot
    head = (project.code, old.process.id, old.version_hash, new.version_hash)
    if new.process.id != old.process.id:
        return Impact(
            *head,
            refusals=(
                Refusal(
                    "other-process",
                    f"version {new.version_hash[:12]} is process {new.process.id}, but project "
                    f"{project.code} runs process {old.process.id}",
                ),
            ),
        )
    if new.version_hash == old.version_hash:
        return Impact(
            *head,
            refusals=(
                Refusal(
                    "same-version",
                    f"project {project.code} is already on version {new.version_hash[:12]}",
                ),
            ),
        )
    refusals: list[Refusal] = []
    diff = diff_snapshots(old, new)
    if project.state in (ProjectState.COMPLETED, ProjectState.KILLED):
        refusals.append(
            Refusal(
                "project-closed",
                f"project {project.code} is {project.state.value}; it can no longer change",
            )
        )
    states = {pid: run.state for pid, run in project.phases.items()}
    current = project.current_phases()
    old_ph = {p.id: p for p in old.process.phases}
    new_ph = {p.id: p for p in new.process.phases}
    old_graph, new_graph = g.graph_of(old.process), g.graph_of(new.process)

    def state(pid: str) -> PhaseState:
        return states.get(pid, PhaseState.PENDING)

    phase_changes: dict[str, list[str]] = {}
    for c in diff.process_changes:
        if c.phase is not None and c.kind.startswith("deliverable-"):
            phase_changes.setdefault(c.phase, []).append(c.text)

    phases: list[PhaseImpact] = []
    for pid in old_ph:
        if pid in new_ph:
            continue
        if state(pid) != PhaseState.PENDING:
            refusals.append(
                Refusal(
                    "started-phase-removed",
                    f"phase {pid} is {state(pid).value}: a completed or active phase cannot be "
                    "removed",
                )
            )
            continue
        if project.open_conditions(pid):
            ids = ", ".join(c.id for c in project.open_conditions(pid))
            refusals.append(
                Refusal(
                    "condition-on-removed-phase",
                    f"phase {pid} would be removed, but conditions {ids} are open on it",
                )
            )
        phases.append(PhaseImpact(pid, "removed", _position(old_graph, pid, current)))
    for pid, pdef in new_ph.items():
        if pid in old_ph:
            continue
        starts = all(state(a) == PhaseState.COMPLETED for a in pdef.after)
        phases.append(PhaseImpact(pid, "added", _position(new_graph, pid, current), starts))

    held = project.hold.phase if project.hold is not None and project.hold.gate else None
    gates: list[GateImpact] = []
    keep: set[str] = set()
    for pid, pdef in new_ph.items():
        if pid not in old_ph:
            continue
        before = old_ph[pid]
        st = state(pid)
        old_gate, new_gate = old.gates[before.gate], new.gates[pdef.gate]
        if before.gate != pdef.gate:
            g_changes = [f"phase {pid} ends at gate {pdef.gate} instead of {before.gate}"]
            kinds = ["phase-gate"]
        else:
            found = diff_gates(old_gate, new_gate)
            g_changes = [c.text for c in found]
            kinds = [c.kind for c in found]
        d_changes = phase_changes.get(pid, [])
        for a in pdef.after:
            if st != PhaseState.PENDING and state(a) != PhaseState.COMPLETED:
                refusals.append(
                    Refusal(
                        "started-phase-would-wait",
                        f"phase {pid} is {st.value}, but the new version makes it wait for "
                        f"{a}, which has not passed its gate",
                    )
                )
        decided = st == PhaseState.COMPLETED or held == pid
        if decided:
            bad = [
                t
                for t, k in zip(g_changes, kinds, strict=True)
                if k == "phase-gate" or k.startswith(DECIDED)
            ] + d_changes
            if bad:
                latest = project.latest_review(before.gate)
                how = f"decided {latest.outcome.value}" if latest and latest.outcome else "decided"
                refusals.append(
                    Refusal(
                        "decided-gate-changed",
                        f"gate {before.gate} of phase {pid} was {how}; the new version changes "
                        f"it ({'; '.join(bad[:3])}{'; ...' if len(bad) > 3 else ''}): a decided "
                        "gate is never rewritten",
                    )
                )
            if g_changes or d_changes:
                gates.append(
                    GateImpact(
                        before.gate,
                        pid,
                        "decided",
                        tuple(g_changes + d_changes),
                        quotas_before=_quotas(old_gate),
                        quotas_after=_quotas(new_gate),
                    )
                )
            continue
        review = project.open_review(before.gate) if st == PhaseState.GATE_REVIEW else None
        if review is None:
            if g_changes or d_changes:
                gates.append(
                    GateImpact(
                        pdef.gate,
                        pid,
                        "waiting" if st == PhaseState.ACTIVE else "pending",
                        tuple(g_changes + d_changes),
                        quotas_before=_quotas(old_gate),
                        quotas_after=_quotas(new_gate),
                    )
                )
            continue
        structural = bool(d_changes) or any(
            k == "phase-gate" or k.startswith(STRUCTURAL) for k in kinds
        )
        sigs: list[dict[str, Any]] = []
        fits = True
        quotas = {q.role: q for q in new_gate.signoffs}
        contributors = project.phases[pid].contributors
        for s in review.signatures:
            q = quotas.get(s.role)
            if structural:
                why = "the gate's checks, decisions or deliverables change"
            elif q is None:
                why = f"role {s.role} signs no quota of the new gate"
            elif q.independent and s.user in contributors:
                why = f"the new {s.role} quota is independent and {s.user} contributed"
            else:
                why = ""
            fits = fits and not why
            sigs.append({"user": s.user, "role": s.role, "counts": not why, "why": why})
        if structural or not fits:
            kept = "voided"
            if not structural:
                sigs = [
                    {**s, "counts": False, "why": s["why"] or "the review is voided"} for s in sigs
                ]
        else:
            kept = "kept"
            keep.add(pid)
            if not missing_quotas(new_gate, (s.role for s in review.signatures)):
                refusals.append(
                    Refusal(
                        "would-decide-open-gate",
                        f"the open review of gate {pdef.gate} would meet every quota of the new "
                        "version with the signatures given so far; decide it first",
                    )
                )
        gates.append(
            GateImpact(
                pdef.gate,
                pid,
                "open",
                tuple(g_changes + d_changes),
                kept,
                tuple(sigs),
                _quotas(old_gate),
                _quotas(new_gate),
            )
        )

    items: list[ItemsImpact] = []
    for pid in current:
        if pid not in new_ph:
            continue
        run, before, after = project.phases[pid], old_ph[pid], new_ph[pid]
        carried, dropped = _carry(project, pid, new)
        new_gate = new.gates[after.gate]
        due = {
            "deliverables": tuple(
                d.id
                for d in after.deliverables
                if d.required and d.id not in carried["deliverables"]
            ),
            "checks": tuple(c.id for c in new_gate.checks if c.id not in carried["checks"]),
        }
        if (
            run.deliverables
            or run.checks
            or due["deliverables"]
            or due["checks"]
            or before != after
        ):
            items.append(ItemsImpact(pid, carried, dropped, due))

    undeclared = sorted(r for r in project.team if r not in new.process.roles)
    if undeclared:
        refusals.append(
            Refusal(
                "team-role-undeclared",
                f"the team assigns {', '.join(undeclared)}, which the new version does not declare",
            )
        )
    else:
        open_phases = {pid for pid in new_ph if state(pid) != PhaseState.COMPLETED}
        for short in team_shortfalls(new.process, new.gates, project.team):
            if short.phase in open_phases:
                refusals.append(
                    Refusal(
                        "team-cannot-meet-quota", f"the team cannot meet a quota: {short.message}"
                    )
                )
    if not _final_reachable(new_graph, {pid: state(pid) for pid in new_ph}):
        refusals.append(
            Refusal(
                "no-reachable-final",
                "no final phase of the new version can still be reached by this project",
            )
        )
    plan = any(c.kind in PLAN_KINDS for c in diff.process_changes)
    return Impact(
        *head,
        refusals=tuple(refusals),
        diff=diff,
        phases=tuple(phases),
        gates=tuple(gates),
        items=tuple(items),
        current=tuple(current),
        plan_changes=plan,
        kept_reviews=frozenset(keep),
    )


def _carry(
    project: Project, pid: str, new: ProcessSnapshot
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(carried, dropped) evidence of a phase kept by the migration: a deliverable or check
    whose definition is unchanged keeps its evidence; a check only at the same gate."""
    run = project.phases[pid]
    before, after = project.snapshot.phase(pid), new.phase(pid)
    old_d = {d.id: d for d in before.deliverables}
    new_d = {d.id: d for d in after.deliverables}
    keep_d = tuple(k for k in run.deliverables if k in new_d and old_d.get(k) == new_d[k])
    drop_d = tuple(k for k in run.deliverables if k not in keep_d)
    if before.gate == after.gate:
        old_c = {c.id: c for c in project.snapshot.gates[before.gate].checks}
        new_c = {c.id: c for c in new.gates[after.gate].checks}
        keep_c = tuple(k for k in run.checks if k in new_c and old_c.get(k) == new_c[k])
    else:
        keep_c = ()
    drop_c = tuple(k for k in run.checks if k not in keep_c)
    return {"deliverables": keep_d, "checks": keep_c}, {"deliverables": drop_d, "checks": drop_c}


def _final_reachable(graph: Mapping[str, list[str]], states: Mapping[str, PhaseState]) -> bool:
    runnable: dict[str, bool] = {}

    def can_run(pid: str) -> bool:
        if pid not in runnable:
            runnable[pid] = False  # a cycle never runs (validated definitions have none)
            runnable[pid] = states[pid] != PhaseState.COMPLETED and all(
                states.get(a) == PhaseState.COMPLETED or (a in graph and can_run(a))
                for a in graph[pid]
            )
        return runnable[pid]

    return any(can_run(f) for f in g.final_phases(graph))


def migrate(
    project: Project, new: ProcessSnapshot, now: datetime, *, by: str, change: str | None
) -> dict[str, Any]:
    """Move ``project`` to ``new`` (refused with every reason, see :func:`analyse`).

    Returns what the audit row records: the old and new version hashes and what moved.
    """
    impact = analyse(project, new)
    if not impact.ok:
        raise impact.violation()
    old_hash = project.snapshot.version_hash
    voided: list[dict[str, Any]] = []
    dropped: dict[str, dict[str, list[str]]] = {}
    for gi in impact.gates:
        if gi.review != "voided":
            continue
        review = project.open_review(project.snapshot.phase(gi.phase).gate)
        if review is not None:
            review.state = ReviewState.VOID
            voided.append({"gate": review.gate, "review": review.number, "phase": gi.phase})
            project.phases[gi.phase].state = PhaseState.ACTIVE
    for pid in impact.current:
        if pid not in {p.id for p in new.process.phases}:
            continue
        carried, drop = _carry(project, pid, new)
        run = project.phases[pid]
        run.deliverables = {
            k: v for k, v in run.deliverables.items() if k in carried["deliverables"]
        }
        run.checks = {k: v for k, v in run.checks.items() if k in carried["checks"]}
        if drop["deliverables"] or drop["checks"]:
            dropped[pid] = {k: list(v) for k, v in drop.items()}
    runs: dict[str, PhaseRun] = {}
    for p in new.process.phases:
        runs[p.id] = project.phases.get(p.id) or PhaseRun(id=p.id)
    removed = [pid for pid in project.phases if pid not in runs]
    added = [p.id for p in new.process.phases if p.id not in project.phases]
    project.phases = runs
    project.snapshot = new
    project._emit(
        ev.PROJECT_MIGRATED,
        data={
            "from_version": old_hash,
            "to_version": new.version_hash,
            "change": change,
            "by": by,
            "added_phases": added,
            "removed_phases": removed,
            "voided_reviews": voided,
            "dropped": dropped,
            "phases": {pid: run.state.value for pid, run in runs.items()},
            "items": {
                pid: {"deliverables": sorted(run.deliverables), "checks": sorted(run.checks)}
                for pid, run in runs.items()
                if run.state in (PhaseState.ACTIVE, PhaseState.GATE_REVIEW)
            },
        },
    )
    for v in voided:
        project._maybe_open_gate(v["phase"], now)
    started: list[str] = []
    for p in topological(new.process):
        run = project.phases[p.id]
        if run.state == PhaseState.PENDING and all(
            project.phases[a].state == PhaseState.COMPLETED for a in p.after
        ):
            project._activate(p.id, now)
            started.append(p.id)
    return {
        "from_version": old_hash,
        "to_version": new.version_hash,
        "git_commit": new.git.commit if new.git else None,
        "change": change,
        "added_phases": added,
        "removed_phases": removed,
        "voided_reviews": voided,
        "kept_reviews": sorted(impact.kept_reviews),
        "dropped": dropped,
        "started": started,
    }
