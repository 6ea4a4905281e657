"""Change requests, baselines and migrations in the pure core (milliseconds, no database)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cdmo_workflow.domain import change_control as cc
from cdmo_workflow.domain.baselines import load_baselines, parse_schedule_impact, rebaseline
from cdmo_workflow.domain.change_records import ChangeState
from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.forecast import forecast
from cdmo_workflow.domain.migration import analyse, migrate
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import PhaseState, ReviewState
from cdmo_workflow.spec.diff import diff_gates, diff_snapshots, touched
from cdmo_workflow.spec.models import ProcessSnapshot

from .builders import T0, Clock, at, complete_work, diamond, gate, pass_phase, signer, start


def _rule(fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleViolation) as info:
        fn(*args, **kwargs)
    return info.value.rule


def _with(snap: ProcessSnapshot, *, version: str, **changes) -> ProcessSnapshot:  # type: ignore[no-untyped-def]
    """A copy of ``snap`` with process or gate changes, as another version."""
    gates = dict(snap.gates)
    for gid, g in changes.pop("gates", {}).items():
        gates[gid] = g
    data = {**snap.process.model_dump(by_alias=True), **changes}
    process = snap.process.model_validate(data)
    return ProcessSnapshot(process=process, gates=gates, version_hash=version)


def _submitted(project: Project, clock: Clock, **kwargs) -> str:  # type: ignore[no-untyped-def]
    change = cc.propose(project, "pat", "Scale-up", "Sponsor asks", clock(), **kwargs)
    cc.submit(project, change.subject, "pat", clock())
    return change.subject


# ---------------------------------------------------------------------- propose / submit


def test_propose_is_a_draft_numbered_per_project_with_default_approvers() -> None:
    project, clock = start(), Clock()
    change = cc.propose(project, "dev1", "More batches", "Phase II", clock())
    assert change.action == "change.propose" and change.subject == "CR-1"
    cr = project.change_requests[0]
    assert cr.state == ChangeState.DRAFT
    # diamond has no change_control block and declares customer: customer and pm approve.
    assert [(a["role"], a["min"]) for a in cr.approvers] == [("customer", 1), ("pm", 1)]
    assert cc.propose(project, "pat", "Two", "r", clock()).subject == "CR-2"
    assert [e.name for e in project.drain_events()] == ["change.proposed", "change.proposed"]


def test_bad_proposals_name_their_rule() -> None:
    project, clock = start(), Clock()
    assert _rule(cc.propose, project, "mallory", "t", "r", clock()) == "not-on-team"
    assert _rule(cc.propose, project, "pat", " ", "r", clock()) == "title-required"
    assert _rule(cc.propose, project, "pat", "t" * 201, "r", clock()) == "field-too-long"
    assert _rule(cc.propose, project, "pat", "t", "", clock()) == "reason-required"
    assert (
        _rule(cc.propose, project, "pat", "t", "r", clock(), schedule_impact="ten days")
        == "invalid-schedule-impact"
    )
    for amount, currency, rule in (
        ("12,5", "EUR", "invalid-amount"),
        ("1e9", "EUR", "invalid-amount"),
        ("NaN", "EUR", "invalid-amount"),
        ("100", None, "currency-required"),
        ("100", "eur", "invalid-identifier"),
        ("100", "EURO", "field-too-long"),
        ("100", "XYZ", "unknown-currency"),  # the ISO 4217 table the budget uses too
        (None, "EUR", "currency-without-cost"),
    ):
        got = _rule(
            cc.propose, project, "pat", "t", "r", clock(), cost_impact=amount, currency=currency
        )
        assert got == rule, (amount, currency)
    assert project.change_requests == []  # a refused proposal leaves nothing


def test_cost_is_exact_decimal() -> None:
    project, clock = start(), Clock()
    cc.propose(project, "pat", "t", "r", clock(), cost_impact="0.10", currency="EUR")
    cc.propose(project, "pat", "t", "r", clock(), cost_impact="-800", currency="USD")
    costs = [c.cost for c in project.change_requests]
    assert costs == [Decimal("0.10"), Decimal("-800")]
    assert sum(c for c in costs if c is not None) == Decimal("-799.90")


def test_only_proposer_or_manager_submits_and_withdraws() -> None:
    project, clock = start(), Clock()
    cc.propose(project, "dev1", "t", "r", clock())
    assert _rule(cc.submit, project, "CR-1", "qc1", clock()) == "not-proposer"
    cc.submit(project, "CR-1", "pat", clock())  # the manager may
    assert _rule(cc.submit, project, "CR-1", "dev1", clock()) == "change-submitted"
    assert _rule(cc.withdraw, project, "CR-1", "qc1", "r", clock()) == "not-proposer"
    assert _rule(cc.withdraw, project, "CR-1", "dev1", "", clock()) == "reason-required"
    cc.withdraw(project, "CR-1", "dev1", "overtaken", clock())
    assert _rule(cc.withdraw, project, "CR-1", "dev1", "again", clock()) == "change-withdrawn"
    with pytest.raises(NotFound):
        cc.find(project, "CR-9")
    assert _rule(cc.find, project, "CR-x") == "invalid-identifier"
    assert _rule(cc.find, project, "CR-1; DROP TABLE") == "field-too-long"


def test_a_team_that_cannot_approve_is_refused_at_submit() -> None:
    project, clock = start(), Clock()
    project.team["customer"] = []  # the customer left the team
    cc.propose(project, "pat", "t", "r", clock())
    assert _rule(cc.submit, project, "CR-1", "pat", clock()) == "team-cannot-approve"


# ---------------------------------------------------------------------- signing


def test_signing_rules_in_order() -> None:
    project, clock = start(), Clock()
    cc.propose(project, "pat", "t", "r", clock())
    sign = cc.sign
    assert (
        _rule(sign, project, "CR-1", signer("cust1"), "customer", "approve", "approval", clock())
        == "change-not-submitted"
    )
    cc.submit(project, "CR-1", "pat", clock())
    assert _rule(sign, project, "CR-1", signer("qa1"), "qa", "approve", "approval", clock()) == (
        "role-not-approver"
    )
    assert (
        _rule(sign, project, "CR-1", signer("qa1"), "customer", "approve", "approval", clock())
        == "not-assigned-to-role"
    )
    assert (
        _rule(sign, project, "CR-1", signer("cust1"), "customer", "go", "approval", clock())
        == "decision-not-allowed"
    )
    assert (
        _rule(sign, project, "CR-1", signer("cust1"), "customer", "approve", "fine", clock())
        == "invalid-meaning"
    )
    assert (
        _rule(sign, project, "CR-1", signer("cust1"), "customer", "reject", "approval", clock())
        == "reject-needs-reason"
    )
    assert (
        _rule(sign, project, "CR-1", signer("cust1"), "customer", "approve", "approval", clock(),
              comment="x" * 2001)
        == "field-too-long"
    )  # fmt: skip
    sign(project, "CR-1", signer("cust1"), "customer", "approve", "approval", clock())
    assert (
        _rule(sign, project, "CR-1", signer("cust1"), "customer", "approve", "approval", clock())
        == "already-signed"
    )
    assert project.change_requests[0].state == ChangeState.SUBMITTED


def test_a_reject_by_any_approver_rejects_at_once() -> None:
    project, clock = start(), Clock()
    _submitted(project, clock)
    project.drain_events()
    cc.sign(project, "CR-1", signer("cust1"), "customer", "reject", "approval", clock(),
            comment="Not in the budget")  # fmt: skip
    cr = project.change_requests[0]
    assert cr.state == ChangeState.REJECTED
    assert [e.name for e in project.drain_events()] == ["change.signed", "change.rejected"]
    assert (
        _rule(cc.sign, project, "CR-1", signer("pat"), "pm", "approve", "approval", clock())
        == "change-decided"
    )


def test_the_signature_links_to_the_record_and_an_edit_breaks_the_link() -> None:
    project, clock = start(), Clock()
    _submitted(project, clock, schedule_impact="5d")
    cc.sign(project, "CR-1", signer("cust1"), "customer", "approve", "approval", clock())
    cr = project.change_requests[0]
    view = cc.view(project, cr)
    assert view["signatures"][0]["linked"] is True
    assert view["signatures"][0]["record_hash"] == cc.record_hash(project, cr)
    assert (
        "CUST1 (cust1, customer) — approval — approve —" in view["signatures"][0]["manifestation"]
    )
    for field, value in (("title", "Other"), ("reason", "Other"), ("schedule_impact", "+6d"),
                         ("cost_impact", "1"), ("target", None)):  # fmt: skip
        copy = Project.from_dict(project.to_dict(), project.snapshot)
        edited = copy.change_requests[0]
        if field == "target":
            edited.base_version = "x"
        else:
            setattr(edited, field, value)
        assert cc.view(copy, edited)["signatures"][0]["linked"] is False, field


def test_approval_applies_the_schedule_impact_as_a_new_baseline() -> None:
    project, clock = start(), Clock()
    complete_work(project, "a", at(1))
    first = forecast(project, at(2))
    _submitted(project, clock, schedule_impact="10bd", cost_impact="5000", currency="EUR")
    cc.sign(project, "CR-1", signer("cust1"), "customer", "approve", "approval", clock())
    project.drain_events()
    change = cc.sign(project, "CR-1", signer("pat"), "pm", "approve", "review", clock())
    names = [e.name for e in project.drain_events()]
    assert names == ["change.signed", "change.approved", "change.applied"]
    assert change.new is not None and change.new["applied"]["baseline"] == 1
    assert [b.number for b in project.baselines] == [0, 1]
    new = project.baselines[1]
    assert (new.change, new.approved_by, new.schedule_impact) == ("CR-1", ["cust1", "pat"], "+10bd")
    # a is active (gate review): its end moves; b, c, d are pending: they move whole.
    old = project.baselines[0].phases
    assert new.phases["a"]["start"] == old["a"]["start"]
    assert new.phases["a"]["end"] > old["a"]["end"]
    assert new.phases["d"]["end"] == "2025-03-17T09:00:00Z"  # diamond's phases take 0 days
    fc = forecast(project, at(3))
    assert fc.baseline_number == 1 and len(fc.baselines) == 2
    assert fc.baseline_completion is not None and first.baseline_completion is not None
    assert fc.baseline_completion - first.baseline_completion == timedelta(days=14)
    assert fc.slip_days == pytest.approx(-14.0)  # the slip is against the newest baseline
    # Baseline 0 is kept as it was.
    assert project.baselines[0].phases == first_baseline(project)


def first_baseline(project: Project) -> dict[str, dict[str, str]]:
    from cdmo_workflow.domain.plan import baseline_of

    return baseline_of(project.snapshot.process, project.created_at)


def test_old_documents_load_their_baseline_as_baseline_zero() -> None:
    project = start()
    doc = project.to_dict()
    del doc["baselines"], doc["change_requests"]
    old = Project.from_dict(doc, project.snapshot)
    assert [b.number for b in old.baselines] == [0]
    assert old.baseline == project.baseline and old.change_requests == []
    assert load_baselines({}, T0) == []


def test_schedule_impacts_are_signed_durations() -> None:
    assert parse_schedule_impact("10bd").text == "+10bd"
    back = parse_schedule_impact("-2bd")
    assert back.sign == -1 and back.move(at(0) + timedelta(days=4)) == at(0) + timedelta(days=2)
    assert parse_schedule_impact("-1w").days == -7
    for bad in ("", "0d", "-", "+-3d", "3 days", "x" * 40):
        assert _rule(parse_schedule_impact, bad) in ("invalid-schedule-impact", "field-too-long")


def test_rebaseline_replans_a_changed_phase_and_its_successors() -> None:
    snap = diamond()
    project = start(snap)
    phases = [p.model_dump(by_alias=True) for p in snap.process.phases]
    phases[1]["duration"] = "10d"  # b gets a planned duration
    new = _with(snap, version="v2", phases=phases)
    states = {pid: run.state for pid, run in project.phases.items()}
    plan, _ = rebaseline(project.baseline or {}, snap.process, new.process, states, at(5))
    assert plan["a"] == (project.baseline or {})["a"]
    assert plan["c"] == (project.baseline or {})["c"]  # unchanged, and a was not replanned
    assert plan["b"]["end"] > (project.baseline or {})["b"]["end"]
    assert plan["d"]["start"] == plan["b"]["end"]


# ---------------------------------------------------------------------- approvers


def test_change_control_quotas_apply_by_what_the_change_touches() -> None:
    snap = diamond()
    block = {"approvers": [{"role": "customer"}, {"role": "pm"},
                           {"role": "qa", "when": ["gmp", "signoffs"]},
                           {"role": "qc", "min": 1, "when": ["cost"]}]}  # fmt: skip
    process = snap.process.model_validate(
        {**snap.process.model_dump(by_alias=True), "change_control": block}
    )
    assert [a["role"] for a in cc.required_approvers(process, [])] == ["customer", "pm"]
    got = cc.required_approvers(process, ["schedule", "signoffs"])
    assert [(a["role"], a["because"]) for a in got] == [
        ("customer", []),
        ("pm", []),
        ("qa", ["signoffs"]),
    ]
    assert [a["role"] for a in cc.required_approvers(process, ["cost"])][-1] == "qc"


def test_touched_finds_gmp_phases_and_quota_changes() -> None:
    snap = diamond()
    phases = [p.model_dump(by_alias=True) for p in snap.process.phases]
    phases[3]["gmp"] = True
    base = _with(snap, version="v1", phases=phases)
    raised = _with(base, version="v2", gates={
        "g-d": gate("g-d", [{"role": "qa", "min": 3, "independent": True}, {"role": "customer"}],
                    decisions=["go", "hold", "recycle", "kill"]),
    })  # fmt: skip
    found = touched(diff_snapshots(base, raised), base, raised)
    assert set(found) == {"gmp", "signoffs"}
    assert "quota qa × 2 (independent) becomes qa × 3 (independent)" in found["signoffs"][0]
    sla_only = _with(base, version="v3", gates={
        "g-b": gate("g-b", [{"role": "qa", "independent": True}, {"role": "customer"}],
                    sla={"decide_within": "5d"}),
    })  # fmt: skip
    assert touched(diff_snapshots(base, sla_only), base, sla_only) == {}
    kinds = [c.kind for c in diff_gates(base.gates["g-a"], gate("g-a", [{"role": "pm"}],
             decisions=["go", "kill"], notify={"opened": ["pm"]}))]  # fmt: skip
    assert kinds == ["check-removed", "quota-removed", "decision-removed", "decision-removed",
                     "decision-removed", "notify-route"]  # fmt: skip


# ---------------------------------------------------------------------- migration


def test_a_raised_quota_keeps_an_open_review_and_its_signatures() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    pass_phase(project, "a", now())
    complete_work(project, "c", now())
    project.sign("g-c", signer("qa1"), "qa", "go", "approval", now())
    raised = _with(snap, version="v2", gates={
        "g-c": gate("g-c", [{"role": "qa", "min": 2, "veto": True}, {"role": "pm"}]),
    })  # fmt: skip
    impact = analyse(project, raised)
    assert impact.ok, impact.lines()
    gi = next(g for g in impact.gates if g.gate == "g-c")
    assert (gi.state, gi.review) == ("open", "kept")
    assert gi.signatures[0] == {"user": "qa1", "role": "qa", "counts": True, "why": ""}
    migrate(project, raised, now(), by="pat", change="CR-1")
    review = project.open_review("g-c")
    assert review is not None and [s.user for s in review.signatures] == ["qa1"]
    assert project.missing(review) == [{"role": "qa", "needed": 1}, {"role": "pm", "needed": 1}]
    assert project.snapshot.version_hash == "v2"


def test_a_lowered_quota_that_would_decide_the_gate_is_refused() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    pass_phase(project, "a", now())
    complete_work(project, "c", now())
    project.sign("g-c", signer("qa1"), "qa", "go", "approval", now())
    lowered = _with(snap, version="v2", gates={"g-c": gate("g-c", [{"role": "qa"}])})
    impact = analyse(project, lowered)
    assert [r.rule for r in impact.refusals] == ["would-decide-open-gate"]
    with pytest.raises(RuleViolation) as info:
        migrate(project, lowered, now(), by="pat", change=None)
    assert info.value.rule == "migration-refused"
    assert project.snapshot.version_hash == snap.version_hash  # nothing changed


def test_a_new_check_voids_the_open_review_and_carries_the_evidence() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    complete_work(project, "a", now())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", now())
    stricter = _with(snap, version="v2", gates={
        "g-a": gate("g-a", [{"role": "pm"}, {"role": "customer"}],
                    checks=[{"id": "a-check", "name": "A check", "confirmed_by": "qc"},
                            {"id": "a-audit", "name": "Audit", "confirmed_by": "qc"}]),
    })  # fmt: skip
    impact = analyse(project, stricter)
    gi = next(g for g in impact.gates if g.gate == "g-a")
    assert gi.review == "voided" and gi.signatures[0]["counts"] is False
    items = next(i for i in impact.items if i.phase == "a")
    assert items.carried == {"deliverables": ("a-report",), "checks": ("a-check",)}
    assert items.due["checks"] == ("a-audit",)
    migrate(project, stricter, now(), by="pat", change="CR-1")
    assert project.phases["a"].state == PhaseState.ACTIVE
    assert [r.state for r in project.reviews] == [ReviewState.VOID]
    assert set(project.phases["a"].deliverables) == {"a-report"}
    project.confirm_check("g-a", "a-audit", "qc1", "DMS-9", now())
    assert project.open_review("g-a") is not None  # a fresh review: sign again


def test_every_refusal_is_listed() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    pass_phase(project, "a", now())
    phases = [p.model_dump(by_alias=True) for p in snap.process.phases if p.id != "a"]
    for p in phases:
        p["after"] = [x for x in p["after"] if x != "a"]
    phases[0]["after"] = ["x"]  # b (active) waits for a new phase x
    phases.insert(0, {"id": "x", "name": "X", "owner": "dev", "gate": "g-x"})
    wild = _with(snap, version="v2", phases=phases,
                 gates={"g-x": gate("g-x", [{"role": "auditor"}])},
                 roles={"pm": "", "dev": "", "qc": "", "qa": ""})  # fmt: skip
    rules = [r.rule for r in analyse(project, wild).refusals]
    assert rules == ["started-phase-removed", "started-phase-would-wait", "team-role-undeclared"]
    other = _with(snap, version="v3")
    other = ProcessSnapshot(process=other.process.model_copy(update={"id": "other"}),
                            gates=other.gates, version_hash="v3")  # fmt: skip
    assert [r.rule for r in analyse(project, other).refusals] == ["other-process"]
    assert [r.rule for r in analyse(project, snap).refusals] == ["same-version"]


def test_no_reachable_final_phase_is_refused() -> None:
    snap = diamond()
    project = start(snap)
    phases = [p.model_dump(by_alias=True) for p in snap.process.phases]
    phases[3]["after"] = ["b", "c", "ghost"]  # d can never start (not a valid definition)
    broken = _with(snap, version="v2", phases=phases)
    assert "no-reachable-final" in [r.rule for r in analyse(project, broken).refusals]


def test_a_killed_project_takes_no_change() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    complete_work(project, "a", now())
    project.sign("g-a", signer("pat"), "pm", "kill", "approval", now(), comment="stop")
    project.sign("g-a", signer("cust1"), "customer", "go", "approval", now())
    assert _rule(cc.propose, project, "pat", "t", "r", now()) == "project-closed"


def test_approving_a_request_with_a_target_migrates_in_the_same_command() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    phases = [p.model_dump(by_alias=True) for p in snap.process.phases]
    phases.append({"id": "e", "name": "E", "owner": "dev", "after": ["d"], "duration": "5d",
                   "gate": "g-e"})  # fmt: skip
    longer = _with(snap, version="v2", phases=phases,
                   gates={"g-e": gate("g-e", [{"role": "pm"}], decisions=["go", "kill"]),
                          "g-d": gate("g-d", [{"role": "qa", "min": 2, "independent": True},
                                              {"role": "customer"}],
                                      decisions=["go", "conditional-go", "hold", "recycle",
                                                 "kill"])})  # fmt: skip
    change = cc.propose(project, "pat", "Add e", "r", now(), target=longer, target_ref="v2")
    cr = project.change_requests[0]
    assert cr.target is not None and cr.target.version_hash == "v2"
    assert "version" in cr.touches and "signoffs" in cr.touches
    cc.submit(project, change.subject, "pat", now())
    cc.sign(project, "CR-1", signer("cust1"), "customer", "approve", "approval", now())
    # The approving signature needs the stored snapshot of the target.
    assert (
        _rule(cc.sign, project, "CR-1", signer("pat"), "pm", "approve", "approval", now())
        == "unknown-version"
    )
    done = cc.sign(project, "CR-1", signer("pat"), "pm", "approve", "approval", now(),
                   target=longer)  # fmt: skip
    assert done.old == {"state": "submitted", "version_hash": snap.version_hash}
    assert done.new is not None and done.new["version_hash"] == "v2"
    assert list(project.phases) == ["a", "b", "c", "d", "e"]
    assert project.baselines[-1].phases["e"]["start"] == project.baselines[-1].phases["d"]["end"]
    assert project.baselines[-1].change == "CR-1"
    # A request proposed before the move can no longer be signed.
    cc.propose(project, "pat", "Late", "r", now())
    project.change_requests[-1].base_version = snap.version_hash
    cc_submit = _rule(cc.submit, project, "CR-2", "pat", now())
    assert cc_submit == "change-outdated"


def test_a_migration_while_on_hold_opens_the_gate_when_the_project_resumes() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    complete_work(project, "a", now())
    project.put_on_hold("pat", "waiting for the scope change", now())
    stricter = _with(snap, version="v2", gates={
        "g-a": gate("g-a", [{"role": "pm"}], decisions=["go", "hold", "kill"],
                    checks=[{"id": "a-check", "name": "A check", "confirmed_by": "qc"}]),
    })  # fmt: skip
    migrate(project, stricter, now(), by="pat", change="CR-1")
    assert project.phases["a"].state == PhaseState.ACTIVE  # the review was voided
    assert project.open_review("g-a") is None  # nothing opens while on hold
    project.resume("pat", "scope agreed", now())
    review = project.open_review("g-a")
    assert review is not None and project.missing(review) == [{"role": "pm", "needed": 1}]


def test_a_removed_phase_with_open_conditions_and_an_unstaffed_quota_are_refused() -> None:
    snap = diamond()
    project, now = start(snap), Clock()
    pass_phase(project, "a", now())
    pass_phase(project, "b", now(), decision="conditional-go", conditions=["retest"])
    assert project.phases["d"].state == PhaseState.PENDING and project.open_conditions("d")
    phases = [p.model_dump(by_alias=True) for p in snap.process.phases if p.id != "d"]
    gates = dict(snap.gates)
    gates["g-c"] = gate("g-c", [{"role": "qa", "veto": True}, {"role": "pm", "min": 2}])
    shorter = ProcessSnapshot(
        process=snap.process.model_validate(
            {**snap.process.model_dump(by_alias=True), "phases": phases}
        ),
        gates={k: v for k, v in gates.items() if k != "g-d"},
        version_hash="v2",
    )
    impact = analyse(project, shorter)
    assert [r.rule for r in impact.refusals] == [
        "condition-on-removed-phase",
        "team-cannot-meet-quota",
    ]
    assert [(p.phase, p.change, p.position) for p in impact.phases] == [("d", "removed", "after")]
