"""The Project aggregate: every rule of the stage-gate engine, over plain data.

Commands validate first and mutate only after every rule passed, so a refused command leaves
the project exactly as it was. Each accepted command returns a :class:`Change` (subject, old
and new values for the audit trail) and leaves its domain events in ``pending_events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..spec.graph import between, graph_of
from ..spec.models import Decision, GateDef, PhaseDef, ProcessSnapshot
from . import conditions as cond_rules
from . import events as ev
from . import holds as hold_rules
from . import team as team_rules
from .baselines import Baseline, load_baselines
from .budget_records import Budget
from .calendar import calendar_of
from .change_records import ChangeRequest
from .changes import Change, Signer
from .changes import require_evidence as _require_evidence
from .changes import require_reason as _require_reason
from .delegation import Delegation
from .errors import NotFound, RuleViolation
from .events import DomainEvent
from .limits import check_text
from .plan import baseline_of
from .records import (
    CONSERVATISM,
    VETO_DECISIONS,
    Condition,
    Evidence,
    GateReview,
    Hold,
    Meaning,
    PhaseRun,
    PhaseState,
    ProjectState,
    ReviewState,
    Signature,
    iso,
    parse_time,
    sha256_of,
)
from .signing_rules import SIGNING_RULES, Attempt
from .sla import missing_quotas
from .staffing import team_shortfalls


@dataclass
class Project:
    """A customer programme running on one pinned process snapshot."""

    code: str
    customer: str
    snapshot: ProcessSnapshot
    team: dict[str, list[str]]
    state: ProjectState
    phases: dict[str, PhaseRun]
    created_at: datetime
    created_by: str
    reviews: list[GateReview] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    """Every hold, active or released (the history status and reports show)."""
    completed_at: datetime | None = None
    baselines: list[Baseline] = field(default_factory=list)
    """Baseline 0 stored at the start, then one per approved change that moved the plan
    (domain/baselines.py); the newest is the slip's base (domain/forecast.py)."""
    change_requests: list[ChangeRequest] = field(default_factory=list)
    """``CR-1``, ``CR-2``, ... in order (domain/change_control.py)."""
    budget: Budget | None = None
    """Currency, quotes and cost totals (domain/budget.py); None without a currency."""
    pending_events: list[DomainEvent] = field(default_factory=list)

    # ------------------------------------------------------------------ creation

    @classmethod
    def start(
        cls,
        code: str,
        customer: str,
        snapshot: ProcessSnapshot,
        team: dict[str, list[str]],
        by: str,
        now: datetime,
        *,
        by_is_admin: bool = False,
    ) -> tuple[Project, Change]:
        """Start a project: start phases become active (and open their gates if nothing is due)."""
        process = snapshot.process
        if not code.strip():
            raise RuleViolation("invalid-code", "a project code must not be empty")
        check_text("project code", code)
        if not customer.strip():
            raise RuleViolation("invalid-customer", "a project needs a customer name")
        check_text("customer", customer)
        for role, users in team.items():
            if role not in process.roles:
                raise RuleViolation(
                    "unknown-role",
                    f"role {role!r} is not declared by process {process.id} "
                    f"(it declares: {', '.join(sorted(process.roles))})",
                    role=role,
                    process=process.id,
                )
            if not users:
                raise RuleViolation("empty-role", f"role {role!r} has no one assigned", role=role)
        manager = process.manager_role
        if by not in team.get(manager, []) and not by_is_admin:
            raise RuleViolation(
                "not-project-manager",
                f"user {by!r} must be assigned to the manager role {manager!r} of this project "
                "to start it",
                user=by,
                role=manager,
            )
        shortfalls = team_shortfalls(process, snapshot.gates, team)
        if shortfalls:
            first = shortfalls[0]
            more = f" (and {len(shortfalls) - 1} more)" if len(shortfalls) > 1 else ""
            raise RuleViolation(
                "team-cannot-meet-quota",
                f"the team cannot meet a quota: {first.message}{more}; assign more people "
                "(check a planned team with `cdmo validate --team team.yaml`)",
                gate=first.gate,
                role=first.role,
                needed=first.needed,
                assigned=first.assigned,
                shortfalls=[f.to_dict() for f in shortfalls],
            )
        phases = {p.id: PhaseRun(id=p.id) for p in process.phases}
        project = cls(
            code=code,
            customer=customer,
            snapshot=snapshot,
            team={r: list(dict.fromkeys(u)) for r, u in team.items()},
            state=ProjectState.ACTIVE,
            phases=phases,
            created_at=now,
            created_by=by,
            baselines=[
                Baseline(
                    0,
                    baseline_of(process, now, calendar_of(snapshot)),
                    now,
                    version_hash=snapshot.version_hash,
                )
            ],
        )
        project._emit(
            ev.PROJECT_STARTED,
            data={
                "customer": customer,
                "process": process.id,
                "process_name": process.name,
                "version_hash": snapshot.version_hash,
                "by": by,
                "team": project.team,
            },
        )
        for p in process.phases:
            if not p.after:
                project._activate(p.id, now)
        change = Change(
            "project.start",
            code,
            None,
            {
                "code": code,
                "customer": customer,
                "process": process.id,
                "version_hash": snapshot.version_hash,
                "team": project.team,
            },
        )
        return project, change

    # ------------------------------------------------------------------ lookups

    @property
    def process_id(self) -> str:
        return self.snapshot.process.id

    @property
    def baseline(self) -> dict[str, dict[str, str]] | None:
        """The current baseline's ``{phase: {start, end}}`` (the newest of ``baselines``)."""
        return self.baselines[-1].phases if self.baselines else None

    @property
    def hold(self) -> Hold | None:
        """The latest active hold on the whole project (None when it is not on hold)."""
        held = hold_rules.project_holds(self)
        return held[-1] if held else None

    def phase_def(self, phase_id: str) -> PhaseDef:
        for p in self.snapshot.process.phases:
            if p.id == phase_id:
                return p
        raise NotFound("phase", phase_id, f"process {self.process_id} has: {self._phase_ids()}")

    def _phase_ids(self) -> str:
        return ", ".join(p.id for p in self.snapshot.process.phases)

    def gate_def(self, gate_id: str) -> tuple[GateDef, PhaseDef]:
        """The gate and the phase it closes; unknown gates name the known ones."""
        for p in self.snapshot.process.phases:
            if p.gate == gate_id:
                return self.snapshot.gates[gate_id], p
        known = ", ".join(p.gate for p in self.snapshot.process.phases)
        raise NotFound("gate", gate_id, f"process {self.process_id} has: {known}")

    def successors(self, phase_id: str) -> list[str]:
        return [p.id for p in self.snapshot.process.phases if phase_id in p.after]

    def downstream(self, phase_id: str) -> list[str]:
        """Every phase reachable from ``phase_id`` through ``after`` links (excluding itself)."""
        seen: list[str] = []
        stack = self.successors(phase_id)
        while stack:
            nxt = stack.pop()
            if nxt not in seen:
                seen.append(nxt)
                stack.extend(self.successors(nxt))
        return seen

    def open_review(self, gate_id: str) -> GateReview | None:
        for r in reversed(self.reviews):
            if r.gate == gate_id and r.state == ReviewState.OPEN:
                return r
        return None

    def latest_review(self, gate_id: str) -> GateReview | None:
        for r in reversed(self.reviews):
            if r.gate == gate_id and r.state != ReviewState.VOID:
                return r
        return None

    def open_reviews(self) -> list[GateReview]:
        return [r for r in self.reviews if r.state == ReviewState.OPEN]

    def roles_of(self, user: str) -> list[str]:
        return [role for role, users in self.team.items() if user in users]

    def missing(self, review: GateReview) -> list[dict[str, Any]]:
        """Role quotas not yet met in ``review``: ``[{role, needed}]``."""
        gate = self.snapshot.gates[review.gate]
        return missing_quotas(gate, (s.role for s in review.signatures))

    def open_conditions(self, phase_id: str | None = None) -> list[Condition]:
        """Conditions not done yet (open, or closed and awaiting acceptance), optionally
        those blocking ``phase_id``."""
        return [
            c for c in self.conditions if not c.done and (phase_id is None or phase_id in c.phases)
        ]

    def review_record(self, review: GateReview) -> dict[str, Any]:
        """The canonical gate-review record a signature is linked to (21 CFR 11.70)."""
        run = self.phases[review.phase]
        return {
            "project": self.code,
            "customer": self.customer,
            "process": self.process_id,
            "version_hash": self.snapshot.version_hash,
            "gate": review.gate,
            "phase": review.phase,
            "review": review.number,
            "opened_at": iso(review.opened_at),
            "deliverables": {k: v.to_dict() for k, v in sorted(run.deliverables.items())},
            "checks": {k: v.to_dict() for k, v in sorted(run.checks.items())},
            "conditions": [
                c.to_dict() for c in self.conditions if review.phase in c.phases and c.done
            ],
        }

    def record_hash(self, review: GateReview) -> str:
        return sha256_of(self.review_record(review))

    # ------------------------------------------------------------------ guards

    def require_active(self, action: str) -> None:
        if self.state != ProjectState.ACTIVE:
            raise RuleViolation(
                "project-not-active",
                f"project {self.code} is {self.state.value}: cannot {action}",
                project=self.code,
                state=self.state.value,
            )

    def require_role(self, user: str, role: str, action: str) -> None:
        if user not in self.team.get(role, []):
            held = self.roles_of(user)
            raise RuleViolation(
                "not-assigned-to-role",
                f"user {user!r} is not assigned to role {role!r} on project {self.code} "
                f"and cannot {action} "
                f"({'holds: ' + ', '.join(held) if held else 'holds no role on this project'})",
                user=user,
                role=role,
                project=self.code,
            )

    def _require_phase_active(self, phase_id: str, action: str) -> PhaseRun:
        run = self.phases[phase_id]
        if run.state != PhaseState.ACTIVE:
            raise RuleViolation(
                "phase-not-active",
                f"phase {phase_id!r} is {run.state.value}: cannot {action}",
                phase=phase_id,
                state=run.state.value,
            )
        hold_rules.require_phase_not_held(self, phase_id, action)
        return run

    # ------------------------------------------------------------------ commands

    def submit_deliverable(
        self, phase_id: str, deliverable_id: str, by: str, evidence: str, now: datetime
    ) -> Change:
        """Record a deliverable of an active phase; the gate opens when the last item is done."""
        pdef = self.phase_def(phase_id)
        ddef = next((d for d in pdef.deliverables if d.id == deliverable_id), None)
        if ddef is None:
            known = ", ".join(d.id for d in pdef.deliverables) or "none"
            raise NotFound("deliverable", deliverable_id, f"phase {phase_id} has: {known}")
        self.require_active("submit a deliverable")
        _require_evidence(evidence)
        run = self._require_phase_active(phase_id, f"submit deliverable {deliverable_id!r}")
        self.require_role(by, ddef.owner, f"submit deliverable {deliverable_id!r}")
        old = run.deliverables.get(deliverable_id)
        run.deliverables[deliverable_id] = Evidence(by=by, evidence=evidence, at=now)
        run.contributors.add(by)
        self._emit(
            ev.DELIVERABLE_SUBMITTED,
            phase=phase_id,
            data={"deliverable": deliverable_id, "name": ddef.name, "by": by, "evidence": evidence},
        )
        self._maybe_open_gate(phase_id, now)
        return Change(
            "deliverable.submit",
            f"{phase_id}/{deliverable_id}",
            old.to_dict() if old else None,
            run.deliverables[deliverable_id].to_dict(),
        )

    def confirm_check(
        self, gate_id: str, check_id: str, by: str, evidence: str, now: datetime
    ) -> Change:
        """Confirm a must-meet check of a gate whose phase is still active."""
        gdef, pdef = self.gate_def(gate_id)
        cdef = next((c for c in gdef.checks if c.id == check_id), None)
        if cdef is None:
            known = ", ".join(c.id for c in gdef.checks) or "none"
            raise NotFound("check", check_id, f"gate {gate_id} has: {known}")
        self.require_active("confirm a check")
        _require_evidence(evidence)
        run = self._require_phase_active(pdef.id, f"confirm check {check_id!r}")
        self.require_role(by, cdef.confirmed_by, f"confirm check {check_id!r}")
        old = run.checks.get(check_id)
        run.checks[check_id] = Evidence(by=by, evidence=evidence, at=now)
        run.contributors.add(by)
        self._emit(
            ev.CHECK_CONFIRMED,
            phase=pdef.id,
            gate=gate_id,
            data={"check": check_id, "name": cdef.name, "by": by, "evidence": evidence},
        )
        self._maybe_open_gate(pdef.id, now)
        return Change(
            "check.confirm",
            f"{gate_id}/{check_id}",
            old.to_dict() if old else None,
            run.checks[check_id].to_dict(),
        )

    def close_condition(self, condition_id: str, by: str, evidence: str, now: datetime) -> Change:
        """The condition's owner closes it with evidence (see ``domain/conditions.py``)."""
        return cond_rules.close(self, condition_id, by, evidence, now)

    def accept_condition(
        self, condition_id: str, by: str, now: datetime, comment: str | None = None
    ) -> Change:
        """The raiser's role or the quality role accepts a closure (not whoever closed it)."""
        return cond_rules.accept(self, condition_id, by, now, comment)

    def reject_condition(self, condition_id: str, by: str, reason: str, now: datetime) -> Change:
        """The raiser's role or the quality role sends a closure back (the condition reopens)."""
        return cond_rules.reject(self, condition_id, by, reason, now)

    def change_team(
        self,
        kind: str,
        role: str,
        user: str,
        new_user: str | None,
        by: str,
        reason: str,
        now: datetime,
        *,
        by_is_admin: bool = False,
    ) -> Change:
        """Add, replace or remove a person in a role (see ``domain/team.py``)."""
        return team_rules.change_team(
            self, kind, role, user, new_user, by, reason, now, by_is_admin=by_is_admin
        )

    def carry_deliverable(
        self, phase_id: str, deliverable_id: str, by: str, reason: str, now: datetime
    ) -> Change:
        """After a recycle, the phase owner carries a deliverable of the reset cycle forward
        (still valid, with a reason) instead of submitting the same document again."""
        pdef = self.phase_def(phase_id)
        ddef = next((d for d in pdef.deliverables if d.id == deliverable_id), None)
        if ddef is None:
            known = ", ".join(d.id for d in pdef.deliverables) or "none"
            raise NotFound("deliverable", deliverable_id, f"phase {phase_id} has: {known}")
        self.require_active("carry a deliverable forward")
        run = self._require_phase_active(phase_id, f"carry deliverable {deliverable_id!r}")
        self.require_role(by, pdef.owner, f"carry deliverable {deliverable_id!r} forward")
        _require_reason(reason)
        earlier = run.carryable.get(deliverable_id)
        if earlier is None:
            have = ", ".join(sorted(run.carryable)) or "none"
            raise RuleViolation(
                "nothing-to-carry",
                f"phase {phase_id!r} has no earlier {deliverable_id!r} to carry forward (a "
                f"recycle left: {have}); submit it instead",
                phase=phase_id,
                deliverable=deliverable_id,
            )
        if deliverable_id in run.deliverables:
            raise RuleViolation(
                "already-submitted",
                f"deliverable {deliverable_id!r} of phase {phase_id!r} was already given in "
                f"this cycle by {run.deliverables[deliverable_id].by}",
                phase=phase_id,
                deliverable=deliverable_id,
            )
        carried = Evidence(
            by=earlier.by,
            evidence=earlier.evidence,
            at=earlier.at,
            carried={
                "by": by,
                "at": iso(now),
                "reason": reason,
                "from_cycle": run.carryable_cycle,
            },
        )
        run.deliverables[deliverable_id] = carried
        run.contributors.add(by)
        self._emit(
            ev.DELIVERABLE_CARRIED,
            phase=phase_id,
            data={
                "deliverable": deliverable_id,
                "name": ddef.name,
                "by": by,
                "reason": reason,
                "evidence": earlier.evidence,
                "from_cycle": run.carryable_cycle,
            },
        )
        self._maybe_open_gate(phase_id, now)
        return Change("deliverable.carry", f"{phase_id}/{deliverable_id}", None, carried.to_dict())

    def sign(
        self,
        gate_id: str,
        signer: Signer,
        role: str,
        decision: Decision | str,
        meaning: Meaning | str,
        now: datetime,
        *,
        comment: str | None = None,
        conditions: Iterable[str] = (),
        condition_owner: Sequence[str] = (),
        condition_due: Sequence[str] = (),
        condition_blocks: Sequence[str] = (),
        on_behalf_of: str | None = None,
        on_behalf_of_name: str | None = None,
        delegation: Delegation | None = None,
    ) -> Change:
        """Record an electronic signature on the gate's open review, then decide if due.

        The signature must pass every rule of ``signing_rules.SIGNING_RULES``, in order. A
        delegate signs ``on_behalf_of`` a delegator under ``delegation`` (in force at ``now``).
        """
        gdef, pdef = self.gate_def(gate_id)
        paired = cond_rules.pair_terms(
            list(conditions), condition_owner, condition_due, condition_blocks
        )
        attempt = Attempt(
            project=self,
            gate_id=gate_id,
            gate=gdef,
            phase=pdef,
            signer=signer,
            role=role,
            decision=str(decision),
            meaning=str(meaning),
            conditions=[text for text, _ in paired],
            comment=comment or "",
            now=now,
            on_behalf_of=on_behalf_of or None,
            delegation=delegation,
            terms=[term for _, term in paired],
        )
        for rule in SIGNING_RULES:
            rule.check(attempt)
        review, quota = attempt.open_review(), attempt.quota
        dec, mean, conds = attempt.parsed_decision, attempt.parsed_meaning, attempt.conditions
        assert quota is not None and dec is not None and mean is not None
        signature = Signature(
            user=signer.user,
            name=signer.name,
            role=role,
            decision=dec,
            meaning=mean,
            signed_at=now,
            record_hash=self.record_hash(review),
            comment=comment or None,
            conditions=conds,
            on_behalf_of=attempt.on_behalf_of,
            on_behalf_of_name=(on_behalf_of_name or attempt.on_behalf_of)
            if attempt.on_behalf_of
            else None,
            delegation=delegation.summary() if attempt.on_behalf_of and delegation else None,
            condition_terms=attempt.terms if any(attempt.terms) else [],
        )
        review.signatures.append(signature)
        self._emit(
            ev.GATE_SIGNED,
            phase=pdef.id,
            gate=gate_id,
            data={
                "review": review.number,
                "gate_name": gdef.name,
                **signature.to_dict(),
                "missing": self.missing(review),
            },
        )
        if quota.veto and dec in VETO_DECISIONS:
            self._decide(review, dec, now, veto_by=signer.user)
        elif not self.missing(review):
            outcome = max(
                (Decision(s.decision) for s in review.signatures), key=CONSERVATISM.__getitem__
            )
            self._decide(review, outcome, now)
        return Change(
            "gate.sign",
            f"{gate_id}#{review.number}",
            None,
            {**signature.to_dict(), "gate": gate_id, "review": review.number},
        )

    def put_on_hold(self, by: str, reason: str, now: datetime, phase: str | None = None) -> Change:
        """Hold the project (manager or quality role) or one phase (quality role); see
        ``domain/holds.py``."""
        return hold_rules.place(self, by, reason, now, phase)

    def resume(self, by: str, reason: str, now: datetime) -> Change:
        """The manager releases their holds; after a gate's Hold the gate reopens afresh."""
        return hold_rules.resume(self, by, reason, now)

    def release_hold(
        self, hold_id: str, signer: Signer, meaning: Meaning | str, reason: str, now: datetime
    ) -> Change:
        """The quality role releases a quality hold with a signature."""
        return hold_rules.release(self, hold_id, signer, meaning, reason, now)

    def _require_manager(self, by: str, action: str) -> None:
        self.require_role(by, self.snapshot.process.manager_role, action)

    # ------------------------------------------------------------------ transitions

    def _emit(
        self,
        name: str,
        *,
        phase: str | None = None,
        gate: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        payload = dict(data or {})
        if phase is not None:
            payload.setdefault("phase_name", self.phase_def(phase).name)
        if gate is not None:
            payload.setdefault("gate_name", self.snapshot.gates[gate].name)
        payload.setdefault("customer", self.customer)
        self.pending_events.append(DomainEvent(name, self.code, phase, gate, payload))

    def _activate(self, phase_id: str, now: datetime) -> None:
        run = self.phases[phase_id]
        run.state = PhaseState.ACTIVE
        run.cycle += 1
        run.started_at = now
        run.completed_at = None
        run.deliverables = {}
        run.checks = {}
        self._emit(ev.PHASE_ACTIVATED, phase=phase_id, data={"cycle": run.cycle})
        self._maybe_open_gate(phase_id, now)

    def _maybe_open_gate(self, phase_id: str, now: datetime) -> None:
        """Open the phase's gate once every must-meet item is done (sequence check, 11.10(f))."""
        run = self.phases[phase_id]
        if run.state != PhaseState.ACTIVE or self.state != ProjectState.ACTIVE:
            return
        pdef = self.phase_def(phase_id)
        gdef = self.snapshot.gates[pdef.gate]
        if any(d.required and d.id not in run.deliverables for d in pdef.deliverables):
            return
        if any(c.id not in run.checks for c in gdef.checks):
            return
        if self.open_conditions(phase_id):
            return
        if hold_rules.phase_hold(self, phase_id) is not None:
            return
        run.state = PhaseState.GATE_REVIEW
        self._open_review(phase_id, pdef.gate, now)

    def _open_review(
        self, phase_id: str, gate_id: str, now: datetime, reopened: bool = False
    ) -> None:
        number = 1 + sum(1 for r in self.reviews if r.gate == gate_id)
        review = GateReview(gate=gate_id, phase=phase_id, number=number, opened_at=now)
        self.reviews.append(review)
        gdef = self.snapshot.gates[gate_id]
        self._emit(
            ev.GATE_OPENED,
            phase=phase_id,
            gate=gate_id,
            data={
                "review": number,
                "reopened": reopened,
                "missing": self.missing(review),
                "decide_within": gdef.sla.decide_within if gdef.sla else None,
            },
        )

    def _decide(
        self, review: GateReview, outcome: Decision, now: datetime, veto_by: str | None = None
    ) -> None:
        review.state = ReviewState.DECIDED
        review.outcome = outcome
        review.decided_at = now
        phase_id = review.phase
        self._emit(
            ev.GATE_DECIDED,
            phase=phase_id,
            gate=review.gate,
            data={
                "review": review.number,
                "outcome": outcome.value,
                "veto_by": veto_by,
                "signers": [
                    {"user": s.user, "name": s.name, "role": s.role, "decision": s.decision.value}
                    for s in review.signatures
                ],
            },
        )
        if outcome in (Decision.GO, Decision.CONDITIONAL_GO):
            self._pass(review, outcome, now)
        elif outcome == Decision.HOLD:
            hold_rules.decided(self, review, now, veto_by)
        elif outcome == Decision.RECYCLE:
            self._recycle(review, now)
        else:
            self.state = ProjectState.KILLED
            self.completed_at = now
            # The project ends: reviews still open at other gates can never be decided now.
            cancelled = [r for r in self.reviews if r.state == ReviewState.OPEN]
            for r in cancelled:
                r.state = ReviewState.VOID
            self._emit(
                ev.PROJECT_KILLED,
                phase=phase_id,
                gate=review.gate,
                data={"cancelled_reviews": [r.key for r in cancelled]},
            )

    def _pass(self, review: GateReview, outcome: Decision, now: datetime) -> None:
        phase_id = review.phase
        run = self.phases[phase_id]
        run.state = PhaseState.COMPLETED
        run.completed_at = now
        run.close_cycle(now, outcome.value)
        self._emit(ev.PHASE_COMPLETED, phase=phase_id, data={"outcome": outcome.value})
        successors = self.successors(phase_id)
        if outcome == Decision.CONDITIONAL_GO:
            cond_rules.raise_conditions(self, review, now)
        for succ in successors:
            sdef = self.phase_def(succ)
            ready = all(self.phases[a].state == PhaseState.COMPLETED for a in sdef.after)
            if ready and self.phases[succ].state == PhaseState.PENDING:
                self._activate(succ, now)
        if all(r.state == PhaseState.COMPLETED for r in self.phases.values()):
            self.state = ProjectState.COMPLETED
            self.completed_at = now
            self._emit(ev.PROJECT_COMPLETED, data={})

    def recycle_scope(self, gate_id: str) -> list[str]:
        """The phases (after ``recycle_to``) a recycle at ``gate_id`` would reset, in process
        order: those on the paths from ``recycle_to`` to the gated phase (``recycle_resets:
        path``, the default), or every phase downstream of ``recycle_to`` (``downstream``)."""
        gdef, pdef = self.gate_def(gate_id)
        target = gdef.recycle_to or pdef.id
        if gdef.recycle_resets == "downstream":
            scope = set(self.downstream(target))
        else:
            scope = between(graph_of(self.snapshot.process), target, pdef.id) - {target}
        return [p.id for p in self.snapshot.process.phases if p.id in scope]

    def _recycle(self, review: GateReview, now: datetime) -> None:
        gdef = self.snapshot.gates[review.gate]
        target = gdef.recycle_to or review.phase
        reset = [
            p for p in self.recycle_scope(review.gate) if self.phases[p].state != PhaseState.PENDING
        ]
        for pid in [target, *reset]:
            run = self.phases[pid]
            if run.deliverables:
                run.carryable = dict(run.deliverables)
                run.carryable_cycle = run.cycle
        for pid in reset:
            run = self.phases[pid]
            run.close_cycle(now, "recycled")
            run.state = PhaseState.PENDING
            run.deliverables = {}
            run.checks = {}
            run.started_at = None
            run.completed_at = None
            for r in self.reviews:
                if r.phase == pid and r.state == ReviewState.OPEN:
                    r.state = ReviewState.VOID
            self._emit(ev.PHASE_RESET, phase=pid, data={"recycled_to": target})
        self.phases[target].close_cycle(now, "recycled")
        self._activate(target, now)

    # ------------------------------------------------------------------ views

    def gate_views(self) -> list[dict[str, Any]]:
        """One entry per gate of the process, in phase order, as ``project status`` shows it."""
        out: list[dict[str, Any]] = []
        for pdef in self.snapshot.process.phases:
            review = self.open_review(pdef.gate) or self.latest_review(pdef.gate)
            run = self.phases[pdef.id]
            if review is None:
                state, outcome, sigs, missing, number = "waiting", None, [], [], None
            elif review.state == ReviewState.OPEN:
                state, outcome = "open", None
                sigs, missing, number = review.signatures, self.missing(review), review.number
            elif run.state in (PhaseState.ACTIVE, PhaseState.PENDING):
                # decided earlier (recycle) and the phase runs again, or waits to: a new review
                # is due. A gate that decided hold or kill keeps its phase in gate-review, so
                # the project's own state (on hold, killed) does not change this view.
                state, outcome, sigs, missing, number = "waiting", None, [], [], None
            else:
                state, outcome = "decided", review.outcome.value if review.outcome else None
                sigs, missing, number = review.signatures, [], review.number
            out.append(
                {
                    "id": pdef.gate,
                    "name": self.snapshot.gates[pdef.gate].name,
                    "phase": pdef.id,
                    "state": state,
                    "review": number,
                    "outcome": outcome,
                    "opened_at": iso(review.opened_at) if review and number else None,
                    "signatures": [s.to_dict() for s in sigs],
                    "missing": missing,
                    "reviews": [
                        r.to_dict() for r in self.reviews if r.gate == pdef.gate
                    ],  # every review, also those a recycle or a hold left behind
                }
            )
        return out

    def current_phases(self) -> list[str]:
        """Phases under way; none once the project is killed or complete."""
        if self.state in (ProjectState.KILLED, ProjectState.COMPLETED):
            return []
        return [
            pid
            for pid, run in self.phases.items()
            if run.state in (PhaseState.ACTIVE, PhaseState.GATE_REVIEW)
        ]

    def summary(self) -> dict[str, Any]:
        """Small listing facts the store keeps beside the document (for fast ``project list``)."""
        return {
            "phases": self.current_phases(),
            "open_gates": [
                {"gate": r.gate, "review": r.number, "opened_at": iso(r.opened_at)}
                for r in self.open_reviews()
            ],
            "open_conditions": len(self.open_conditions()),
            "people": sorted({u for users in self.team.values() for u in users}),
        }

    # ------------------------------------------------------------------ persistence

    def drain_events(self) -> list[DomainEvent]:
        out, self.pending_events = self.pending_events, []
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "customer": self.customer,
            "process": self.process_id,
            "version_hash": self.snapshot.version_hash,
            "team": self.team,
            "state": self.state.value,
            "phases": [self.phases[p.id].to_dict() for p in self.snapshot.process.phases],
            "reviews": [r.to_dict() for r in self.reviews],
            "conditions": [c.to_dict() for c in self.conditions],
            "hold": self.hold.to_dict() if self.hold else None,
            "holds": [h.to_dict() for h in self.holds],
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "completed_at": iso(self.completed_at),
            "baseline": self.baseline,
            "baselines": [b.to_dict() for b in self.baselines],
            "change_requests": [c.to_dict() for c in self.change_requests],
            "budget": self.budget.to_dict() if self.budget is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], snapshot: ProcessSnapshot) -> Project:
        created = parse_time(d["created_at"])
        assert created is not None
        return cls(
            code=d["code"],
            customer=d["customer"],
            snapshot=snapshot,
            team={k: list(v) for k, v in d["team"].items()},
            state=ProjectState(d["state"]),
            phases={p["id"]: PhaseRun.from_dict(p) for p in d["phases"]},
            created_at=created,
            created_by=d.get("created_by", ""),
            reviews=[GateReview.from_dict(r) for r in d.get("reviews", [])],
            conditions=[Condition.from_dict(c) for c in d.get("conditions", [])],
            holds=_holds_of(d),
            completed_at=parse_time(d.get("completed_at")),
            baselines=load_baselines(d, created),
            change_requests=[ChangeRequest.from_dict(c) for c in d.get("change_requests") or []],
            budget=Budget.from_dict(d["budget"]) if d.get("budget") else None,
        )


def _holds_of(d: dict[str, Any]) -> list[Hold]:
    """Every hold of a stored document; older documents kept only the current one."""
    if "holds" in d:
        return [Hold.from_dict(h) for h in d["holds"] or []]
    if d.get("hold"):
        hold = Hold.from_dict(d["hold"])
        hold.id = hold.id or "H1"
        return [hold]
    return []


__all__ = ["Change", "Project", "Signer"]
