"""Stateful property tests: random commands against the Project aggregate, invariants after each.

The commands are a mix of blind ones (random users, roles, decisions, evidence: mostly
refused) and guided ones (the right people doing the due work), so runs reach deep states
(conditions, holds, recycles, kills, completion) while refusals are exercised all along.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cdmo_workflow.domain.conditions import acceptors_of, owners_of
from cdmo_workflow.domain.delegation import Delegation
from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.holds import quality_people
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import PhaseState, ProjectState, ReviewState
from cdmo_workflow.spec.models import Decision, ProcessSnapshot

from .builders import T0, TEAM, diamond, eligible_signers, signer, start

USERS = sorted({u for users in TEAM.values() for u in users} | {"stranger"})
ROLES = [*TEAM, "ghost"]
DECISIONS = [d.value for d in Decision] + ["maybe"]
GUIDED_DECISIONS = ["go"] * 14 + ["conditional-go"] * 3 + ["hold", "recycle", "kill"]
MEANINGS = ["approval", "review", "responsibility", "liking"]
EVIDENCE = ["DMS-1", "DMS-2", "", "  "]
REASONS = ["budget", "", "customer request"]
CONDITIONS: list[list[str]] = [[], ["update FMEA"], ["a", "b"], [" "]]
OWNERS: list[list[str]] = [[], ["role:qc"], ["user:dev1"], ["nobody"], ["pm"]]


def _delegation(did: str, delegator: str, delegate: str, role: str, hours: int) -> Delegation:
    return Delegation(
        id=did,
        delegator=delegator,
        delegate=delegate,
        role=role,
        project=None,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=hours),
        reason="leave",
        granted_by=delegator,
        granted_at=T0,
    )


# qa9 is not on the team: a QA person covering for qa1 (in force the whole run) and for qa2
# (ended after two hours, i.e. 120 commands); dev1 covers for pat in a role pat does not sign.
DELEGATIONS = [
    _delegation("D1", "qa1", "qa9", "qa", 24 * 30),
    _delegation("D2", "qa2", "qa9", "qa", 2),
    _delegation("D3", "qa1", "qa2", "qa", 24 * 30),
    _delegation("D4", "pat", "dev1", "pm", 24 * 30),
]


def _json(project: Project) -> str:
    return json.dumps(project.to_dict(), sort_keys=True)


class ProjectMachine(RuleBasedStateMachine):
    SNAPSHOT: ClassVar[ProcessSnapshot]

    def __init__(self) -> None:
        super().__init__()
        self.project = start(self.SNAPSHOT)
        self.minutes = 0
        self.frozen: dict[tuple[str, int], dict[str, Any]] = {}
        self.killed: str | None = None
        self.accepted = 0
        self.refused = 0
        self.team_changed = False

    # ------------------------------------------------------------ helpers

    def now(self) -> Any:
        self.minutes += 1
        return T0 + timedelta(minutes=self.minutes)

    def attempt(self, command: Callable[[], Any]) -> bool:
        """Run a command; a refusal must change nothing and emit nothing."""
        before = _json(self.project)
        assert self.project.pending_events == []
        try:
            command()
        except (RuleViolation, NotFound) as exc:
            assert _json(self.project) == before, f"refused command changed the project: {exc}"
            assert self.project.pending_events == [], f"refused command emitted events: {exc}"
            if isinstance(exc, RuleViolation):
                assert exc.rule and exc.message
            self.refused += 1
            return False
        events = self.project.drain_events()
        assert events, "an accepted command emitted no event"
        assert self.killed is None, "a killed project accepted a command"
        self.accepted += 1
        return True

    @property
    def snap(self) -> ProcessSnapshot:
        return self.project.snapshot

    # ------------------------------------------------------------ blind commands

    @rule(data=st.data())
    def blind_command(self, data: st.DataObject) -> None:
        """Any command with random arguments (mostly refused)."""
        kind = data.draw(
            st.sampled_from(
                [
                    "submit",
                    "confirm",
                    "close_condition",
                    "accept_condition",
                    "reject_condition",
                    "sign",
                    "sign_on_behalf",
                    "hold",
                    "hold_phase",
                    "resume",
                    "release",
                    "change_team",
                    "carry",
                ]
            )
        )
        getattr(self, kind)(data)

    def submit(self, data: st.DataObject) -> None:
        pdef = data.draw(st.sampled_from(self.snap.process.phases))
        ids = [d.id for d in pdef.deliverables] + ["bogus"]
        did = data.draw(st.sampled_from(ids))
        user = data.draw(st.sampled_from(USERS))
        evidence = data.draw(st.sampled_from(EVIDENCE))
        self.attempt(
            lambda: self.project.submit_deliverable(pdef.id, did, user, evidence, self.now())
        )

    def confirm(self, data: st.DataObject) -> None:
        pdef = data.draw(st.sampled_from(self.snap.process.phases))
        ids = [c.id for c in self.snap.gates[pdef.gate].checks] + ["bogus"]
        cid = data.draw(st.sampled_from(ids))
        user = data.draw(st.sampled_from(USERS))
        evidence = data.draw(st.sampled_from(EVIDENCE))
        self.attempt(lambda: self.project.confirm_check(pdef.gate, cid, user, evidence, self.now()))

    def close_condition(self, data: st.DataObject) -> None:
        ids = [c.id for c in self.project.conditions] + ["C999"]
        cid = data.draw(st.sampled_from(ids))
        user = data.draw(st.sampled_from(USERS))
        evidence = data.draw(st.sampled_from(EVIDENCE))
        self.attempt(lambda: self.project.close_condition(cid, user, evidence, self.now()))

    def accept_condition(self, data: st.DataObject) -> None:
        ids = [c.id for c in self.project.conditions] + ["C999"]
        cid = data.draw(st.sampled_from(ids))
        user = data.draw(st.sampled_from(USERS))
        self.attempt(lambda: self.project.accept_condition(cid, user, self.now()))

    def reject_condition(self, data: st.DataObject) -> None:
        ids = [c.id for c in self.project.conditions] + ["C999"]
        cid = data.draw(st.sampled_from(ids))
        user = data.draw(st.sampled_from(USERS))
        reason = data.draw(st.sampled_from(REASONS))
        self.attempt(lambda: self.project.reject_condition(cid, user, reason, self.now()))

    def sign_on_behalf(self, data: st.DataObject) -> None:
        gates = [p.gate for p in self.snap.process.phases]
        gid = data.draw(st.sampled_from(gates))
        d = data.draw(st.sampled_from(DELEGATIONS))
        user = data.draw(st.sampled_from([d.delegate, *USERS, "qa9"]))
        behalf = data.draw(st.sampled_from([d.delegator, *USERS]))
        role = data.draw(st.sampled_from([d.role, *ROLES]))
        decision = data.draw(st.sampled_from(DECISIONS))
        self.attempt(
            lambda: self.project.sign(
                gid,
                signer(user),
                role,
                decision,
                "approval",
                self.now(),
                comment="why",
                on_behalf_of=behalf,
                delegation=d,
            )
        )

    def hold_phase(self, data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(USERS))
        phase = data.draw(st.sampled_from([p.id for p in self.snap.process.phases] + ["zz"]))
        reason = data.draw(st.sampled_from(REASONS))
        self.attempt(lambda: self.project.put_on_hold(user, reason, self.now(), phase))

    def release(self, data: st.DataObject) -> None:
        ids = [str(h.id) for h in self.project.holds] + ["H99"]
        hid = data.draw(st.sampled_from(ids))
        user = data.draw(st.sampled_from(USERS))
        meaning = data.draw(st.sampled_from(MEANINGS))
        reason = data.draw(st.sampled_from(REASONS))
        self.attempt(
            lambda: self.project.release_hold(hid, signer(user), meaning, reason, self.now())
        )

    def change_team(self, data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(["add", "replace", "remove", "swap"]))
        role = data.draw(st.sampled_from(ROLES))
        user = data.draw(st.sampled_from([*USERS, "newbie"]))
        new_user = data.draw(st.sampled_from([*USERS, "newbie", "newbie2"]))
        by = data.draw(st.sampled_from(["pat", *USERS]))
        reason = data.draw(st.sampled_from(REASONS))
        if self.attempt(
            lambda: self.project.change_team(kind, role, user, new_user, by, reason, self.now())
        ):
            self.team_changed = True

    def carry(self, data: st.DataObject) -> None:
        pdef = data.draw(st.sampled_from(self.snap.process.phases))
        ids = [d.id for d in pdef.deliverables] + ["bogus"]
        did = data.draw(st.sampled_from(ids))
        user = data.draw(st.sampled_from(USERS))
        reason = data.draw(st.sampled_from(REASONS))
        self.attempt(lambda: self.project.carry_deliverable(pdef.id, did, user, reason, self.now()))

    def sign(self, data: st.DataObject) -> None:
        gates = [p.gate for p in self.snap.process.phases] + ["no-such-gate"]
        gid = data.draw(st.sampled_from(gates))
        user = data.draw(st.sampled_from(USERS))
        role = data.draw(st.sampled_from(ROLES))
        decision = data.draw(st.sampled_from(DECISIONS))
        meaning = data.draw(st.sampled_from(MEANINGS))
        conds = data.draw(st.sampled_from(CONDITIONS))
        owners = data.draw(st.sampled_from(OWNERS))
        comment = data.draw(st.sampled_from(["", "not viable"]))
        self.attempt(
            lambda: self.project.sign(
                gid,
                signer(user),
                role,
                decision,
                meaning,
                self.now(),
                conditions=conds,
                comment=comment,
                condition_owner=owners,
            )
        )

    def hold(self, data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(USERS))
        reason = data.draw(st.sampled_from(REASONS))
        self.attempt(lambda: self.project.put_on_hold(user, reason, self.now()))

    def resume(self, data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(USERS))
        reason = data.draw(st.sampled_from(REASONS))
        self.attempt(lambda: self.project.resume(user, reason, self.now()))

    # ------------------------------------------------------------ guided commands

    @precondition(lambda self: self.project.state == ProjectState.ACTIVE)
    @rule(data=st.data())
    def do_due_work(self, data: st.DataObject) -> None:
        """The right people submit and confirm everything an active phase still needs."""
        active = [p for p, r in self.project.phases.items() if r.state == PhaseState.ACTIVE]
        if not active:
            return
        pid = data.draw(st.sampled_from(active))
        pdef = self.project.phase_def(pid)
        run = self.project.phases[pid]
        for d in pdef.deliverables:
            if d.id not in run.deliverables and run.state == PhaseState.ACTIVE:
                user = data.draw(st.sampled_from(self.project.team[d.owner]))
                evidence = data.draw(st.sampled_from(["DMS-1", "DMS-2"]))
                self.attempt(
                    lambda d=d, u=user, e=evidence: self.project.submit_deliverable(
                        pid, d.id, u, e, self.now()
                    )
                )
        for c in self.snap.gates[pdef.gate].checks:
            if c.id not in run.checks and run.state == PhaseState.ACTIVE:
                user = self.project.team[c.confirmed_by][0]
                self.attempt(
                    lambda c=c, u=user: self.project.confirm_check(
                        pdef.gate, c.id, u, "CHK-1", self.now()
                    )
                )

    @precondition(lambda self: bool(self.project.open_conditions()))
    @rule(data=st.data())
    def close_due_condition(self, data: st.DataObject) -> None:
        """The owner closes an open condition; someone allowed accepts a closed one."""
        cond = data.draw(st.sampled_from(self.project.open_conditions()))
        if cond.state == "open":
            owners = owners_of(self.project, cond)
            if owners:
                user = data.draw(st.sampled_from(owners))
                self.attempt(
                    lambda: self.project.close_condition(cond.id, user, "DMS-5", self.now())
                )
        else:
            acceptors = acceptors_of(self.project, cond)
            if acceptors:
                user = data.draw(st.sampled_from(acceptors))
                self.attempt(lambda: self.project.accept_condition(cond.id, user, self.now()))

    @precondition(lambda self: bool(self.project.open_reviews()))
    @rule(data=st.data())
    def sign_as_due(self, data: st.DataObject) -> None:
        """Someone eligible signs a quota that is not met yet."""
        review = data.draw(st.sampled_from(self.project.open_reviews()))
        missing = self.project.missing(review)
        if not missing:
            return
        role = data.draw(st.sampled_from([m["role"] for m in missing]))
        users = eligible_signers(self.project, review.gate, role)
        if not users:
            return
        user = data.draw(st.sampled_from(users))
        decision = data.draw(st.sampled_from(GUIDED_DECISIONS))
        conds = ["close the gap"] if decision == "conditional-go" else []
        # qa1's slot is sometimes filled by a delegate (qa9, not on the team)
        behalf = user == "qa1" and data.draw(st.booleans())
        self.attempt(
            lambda: self.project.sign(
                review.gate,
                signer("qa9" if behalf else user),
                role,
                decision,
                "approval",
                self.now(),
                conditions=conds,
                comment="the programme stops" if decision == "kill" else None,
                on_behalf_of="qa1" if behalf else None,
                delegation=DELEGATIONS[0] if behalf else None,
            )
        )

    @precondition(
        lambda self: (
            self.project.state == ProjectState.ON_HOLD
            and any(not h.quality for h in self.project.holds if h.active and not h.held_phase)
        )
    )
    @rule()
    def resume_as_manager(self) -> None:
        assert self.attempt(lambda: self.project.resume("pat", "go on", self.now()))

    @precondition(lambda self: any(h.active and h.quality for h in self.project.holds))
    @rule(data=st.data())
    def release_as_quality(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from([h for h in self.project.holds if h.active and h.quality]))
        user = data.draw(st.sampled_from(quality_people(self.project)))
        assert self.attempt(
            lambda: self.project.release_hold(
                str(hold.id), signer(user), "approval", "QA released it", self.now()
            )
        )

    # ------------------------------------------------------------ invariants

    @invariant()
    def decided_and_void_reviews_never_change(self) -> None:
        keys = [(r.gate, r.number) for r in self.project.reviews]
        assert len(keys) == len(set(keys)), f"duplicate review numbers: {keys}"
        for key, frozen in self.frozen.items():
            review = next(r for r in self.project.reviews if (r.gate, r.number) == key)
            assert review.to_dict() == frozen, f"review {key} changed after it was closed"
        for r in self.project.reviews:
            if r.state != ReviewState.OPEN:
                self.frozen.setdefault((r.gate, r.number), json.loads(json.dumps(r.to_dict())))
                assert (r.outcome is not None) == (r.state == ReviewState.DECIDED)

    @invariant()
    def phases_respect_the_dag(self) -> None:
        """A started phase waited for its ``after`` phases; one of those may have been reset
        since by a recycle whose path did not include it (a parallel branch keeps its state,
        and may even recycle to itself meanwhile), but it passed its gate once."""
        for pdef in self.snap.process.phases:
            run = self.project.phases[pdef.id]
            if run.state == PhaseState.PENDING:
                continue
            for a in pdef.after:
                before = self.project.phases[a]
                if before.state == PhaseState.COMPLETED:
                    continue
                passed = [h for h in before.history if "recycled" in str(h.get("outcome"))]
                assert passed, f"{pdef.id} is {run.state} but {a} never passed and was reset"

    @invariant()
    def at_most_one_open_review_per_gate_and_only_in_gate_review(self) -> None:
        open_gates = [r.gate for r in self.project.open_reviews()]
        assert len(open_gates) == len(set(open_gates)), open_gates
        for r in self.project.open_reviews():
            assert self.project.phases[r.phase].state == PhaseState.GATE_REVIEW

    @invariant()
    def a_phase_in_gate_review_is_never_stuck(self) -> None:
        """gate-review means: an open review, a hold decided by that gate, or a dead project."""
        project = self.project
        for pdef in self.snap.process.phases:
            if project.phases[pdef.id].state != PhaseState.GATE_REVIEW:
                continue
            if project.open_review(pdef.gate) is not None or project.state == ProjectState.KILLED:
                continue
            latest = project.latest_review(pdef.gate)
            assert latest is not None and latest.state == ReviewState.DECIDED, pdef.id
            assert project.state == ProjectState.ON_HOLD, (pdef.id, project.state)
            assert project.hold is not None
            assert any(h.gate == pdef.gate for h in project.holds)
            assert latest.outcome == Decision.HOLD

    @invariant()
    def an_active_project_can_always_move(self) -> None:
        if self.project.state == ProjectState.ACTIVE:
            states = {r.state for r in self.project.phases.values()}
            assert states & {PhaseState.ACTIVE, PhaseState.GATE_REVIEW}, states

    @invariant()
    def completed_iff_all_phases_completed(self) -> None:
        all_done = all(r.state == PhaseState.COMPLETED for r in self.project.phases.values())
        assert (self.project.state == ProjectState.COMPLETED) == all_done
        if self.project.state in (ProjectState.COMPLETED, ProjectState.KILLED):
            assert self.project.completed_at is not None
            assert self.project.open_reviews() == []
        else:
            assert self.project.completed_at is None

    @invariant()
    def hold_record_matches_state(self) -> None:
        assert (self.project.hold is not None) == (self.project.state == ProjectState.ON_HOLD)

    @invariant()
    def killed_is_terminal(self) -> None:
        if self.project.state == ProjectState.KILLED:
            now = _json(self.project)
            if self.killed is None:
                self.killed = now
            assert now == self.killed
        else:
            assert self.killed is None, "a killed project came back"

    @invariant()
    def signatures_never_exceed_the_quotas(self) -> None:
        for r in self.project.reviews:
            gdef = self.snap.gates[r.gate]
            assert len(r.signatures) <= sum(q.min for q in gdef.signoffs)
            for q in gdef.signoffs:
                assert sum(1 for s in r.signatures if s.role == q.role) <= q.min
            people = [u for s in r.signatures for u in s.people]
            assert len(people) == len(set(people)), "a person counted twice at one review"
            for s in r.signatures:
                if not self.team_changed:
                    assert s.principal in self.project.team[s.role]
                assert s.decision in gdef.decisions
                if s.on_behalf_of is not None:
                    assert s.delegation is not None and s.delegation["delegate"] == s.user
                    quota = next(q for q in gdef.signoffs if q.role == s.role)
                    assert quota.delegable
                    assert not (
                        quota.independent and s.people & self.project.phases[r.phase].contributors
                    )

    @invariant()
    def conditions_sit_after_their_gate(self) -> None:
        texts: set[tuple[str, int | None, str]] = set()
        for c in self.project.conditions:
            _, gated = self.project.gate_def(c.gate)
            assert set(c.phases) <= set(self.project.downstream(gated.id)) and c.phases
            assert (c.state in ("closed", "accepted")) == (c.evidence is not None)
            assert (c.state == "accepted") == (c.accepted_by is not None)
            if c.accepted_by is not None:
                assert c.accepted_by != c.closed_by, "someone accepted their own closure"
            key = (c.gate, c.review, c.text)
            assert key not in texts, "one text raised twice by one decision"
            texts.add(key)

    @invariant()
    def quality_holds_are_released_with_a_signature(self) -> None:
        for h in self.project.holds:
            if h.quality and not h.active:
                sig = h.release_signature
                assert sig is not None and sig["role"] == self.snap.process.quality_role
                assert sig["user"] == h.released_by
        held = [h.held_phase for h in self.project.holds if h.active and h.held_phase]
        assert len(held) == len(set(held))
        for pid in held:
            assert self.project.open_review(self.project.phase_def(pid).gate) is None or any(
                r.phase == pid for r in self.project.open_reviews()
            )

    @invariant()
    def round_trip(self) -> None:
        text = _json(self.project)
        loaded = Project.from_dict(json.loads(text), self.snap)
        assert _json(loaded) == text


_SETTINGS = settings(
    max_examples=120,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class DiamondMachine(ProjectMachine):
    SNAPSHOT = diamond()


class RecycleVetoMachine(ProjectMachine):
    """g-b and g-d recycle to the start phase; g-b's qa and g-c's qa are vetoes."""

    SNAPSHOT = diamond(recycle_to_b="a", recycle_to_d="a", veto_b=True, process_id="diamond-rv")


TestDiamond = DiamondMachine.TestCase
TestDiamond.settings = _SETTINGS
TestRecycleVeto = RecycleVetoMachine.TestCase
TestRecycleVeto.settings = _SETTINGS
