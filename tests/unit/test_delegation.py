"""Delegation of signing authority: granting, revoking, expiry and delegated signatures (pure).

The segregation-of-duties rule under test: a delegated signature fills the delegator's slot,
and both people count at that review, so one person never fills a quota twice (once in person
and once on behalf of someone) and a delegator and their delegate never both sign one review.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdmo_workflow.domain import delegation as deleg
from cdmo_workflow.domain.delegation import MAX_DELEGATION_DAYS, Delegation
from cdmo_workflow.domain.errors import RuleViolation
from cdmo_workflow.domain.project import Project

from .builders import T0, Clock, complete_work, diamond, pass_phase, signer, start
from .test_project_rules import refused

NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


def grant(**kw: object) -> Delegation:
    args: dict[str, object] = {
        "new_id": "D1",
        "delegator": "qa1",
        "delegate": "qa9",
        "role": "qa",
        "project": None,
        "start": "2026-12-01",
        "end": "2026-12-14",
        "reason": "annual leave",
        "by": "qa1",
        "now": NOW,
        "delegator_roles": ["qa"],
        "delegate_roles": ["qa"],
        "existing": [],
    }
    args.update(kw)
    return deleg.grant(**args)  # type: ignore[arg-type]


def rule_of(**kw: object) -> str:
    with pytest.raises(RuleViolation) as info:
        grant(**kw)
    return info.value.rule


# ---------------------------------------------------------------- granting


def test_a_grant_starting_today_starts_now_and_the_end_day_is_included() -> None:
    d = grant()
    assert d.starts_at == NOW
    assert d.ends_at == datetime(2026, 12, 15, tzinfo=UTC)
    assert d.in_force(NOW) and d.status(NOW) == "in force"
    assert d.status(d.ends_at) == "ended" and not d.in_force(d.ends_at)
    future = grant(start="2026-12-03")
    assert future.status(NOW) == "scheduled" and not future.in_force(NOW)


def test_grant_refusals_name_their_rule() -> None:
    assert rule_of(delegate="qa1") == "delegation-to-self"
    assert rule_of(delegator_roles=["pm"]) == "delegator-lacks-role"
    assert rule_of(delegate_roles=["pm", "mfg"]) == "delegate-lacks-role"
    assert rule_of(start="2026-11-30") == "delegation-backdated"
    assert rule_of(start="2026-12-01T08:00:00Z") == "delegation-backdated"
    assert rule_of(start="2026-12-05", end="2026-12-04") == "delegation-end-before-start"
    assert rule_of(end="2027-06-01") == "delegation-too-long"
    assert rule_of(start="yesterday") == "invalid-date"
    assert rule_of(reason="  ") == "reason-required"
    assert rule_of(reason="x" * 2001) == "field-too-long"
    assert rule_of(delegate="bad id") == "invalid-identifier"


def test_a_start_a_few_minutes_ago_is_not_backdating() -> None:
    d = grant(start=(NOW - timedelta(minutes=5)).isoformat())
    assert d.starts_at == NOW


def test_the_longest_delegation_is_the_bound() -> None:
    end = (NOW + timedelta(days=MAX_DELEGATION_DAYS)).isoformat()
    assert grant(end=end).ends_at - NOW == timedelta(days=MAX_DELEGATION_DAYS)
    longer = (NOW + timedelta(days=MAX_DELEGATION_DAYS, minutes=1)).isoformat()
    assert rule_of(end=longer) == "delegation-too-long"


def test_overlapping_delegations_of_one_role_and_scope_are_refused() -> None:
    first = grant()
    assert rule_of(existing=[first], delegate="qa8") == "delegation-overlap"
    # a project delegation overlaps one for every project, and the other way round
    assert rule_of(existing=[first], project="HX-1") == "delegation-overlap"
    scoped = grant(project="HX-1")
    assert rule_of(existing=[scoped]) == "delegation-overlap"
    # other projects, other roles, other delegators, later dates, a revoked one: fine
    grant(existing=[scoped], project="HX-2")
    grant(existing=[first], role="pm", delegator_roles=["pm"], delegate_roles=["pm"])
    grant(existing=[first], delegator="qa2")
    grant(existing=[first], start="2026-12-15", end="2026-12-20")
    ended = deleg.revoke(first, by="qa1", reason="back early", now=NOW, by_is_admin=False)
    grant(existing=[ended], delegate="qa8")


@settings(max_examples=200, deadline=None)
@given(
    a=st.tuples(st.integers(0, 40), st.integers(1, 40)),
    b=st.tuples(st.integers(0, 40), st.integers(1, 40)),
    scope_a=st.sampled_from([None, "P1", "P2"]),
    scope_b=st.sampled_from([None, "P1", "P2"]),
)
def test_at_no_instant_two_delegations_of_one_role_and_scope_are_in_force(
    a: tuple[int, int], b: tuple[int, int], scope_a: str | None, scope_b: str | None
) -> None:
    """Whatever the dates: if the second grant is accepted, no instant and no project has
    both in force (the overlap rule), so a delegator has at most one delegate at a time."""
    day = NOW.date()

    def window(w: tuple[int, int]) -> tuple[str, str]:
        start = day + timedelta(days=w[0])
        return start.isoformat(), (start + timedelta(days=w[1] - 1)).isoformat()

    first = grant(start=window(a)[0], end=window(a)[1], project=scope_a)
    try:
        second = grant(
            start=window(b)[0], end=window(b)[1], project=scope_b, delegate="qa8", existing=[first]
        )
    except RuleViolation as refusal:
        assert refusal.rule == "delegation-overlap"
        return
    for hours in range(0, 24 * 82, 6):
        moment = NOW + timedelta(hours=hours)
        for code in ("P1", "P2"):
            live = [d for d in (first, second) if d.covers(code) and d.in_force(moment)]
            assert len(live) <= 1


# ---------------------------------------------------------------- revoking


def test_revoke_by_a_party_or_an_administrator_only() -> None:
    d = grant()
    later = NOW + timedelta(days=1)
    with pytest.raises(RuleViolation) as info:
        deleg.revoke(d, by="mallory", reason="x", now=later, by_is_admin=False)
    assert info.value.rule == "not-delegation-party"
    for by, admin in (("qa1", False), ("qa9", False), ("ada", True)):
        ended = deleg.revoke(d, by=by, reason="back", now=later, by_is_admin=admin)
        assert ended.status(later) == "revoked" and not ended.in_force(later)
        assert ended.in_force(later - timedelta(hours=1))  # what was signed before stays valid
    ended = deleg.revoke(d, by="qa1", reason="back", now=later, by_is_admin=False)
    with pytest.raises(RuleViolation) as info:
        deleg.revoke(ended, by="qa1", reason="again", now=later, by_is_admin=False)
    assert info.value.rule == "delegation-not-active"
    with pytest.raises(RuleViolation) as info:
        deleg.revoke(d, by="qa1", reason="late", now=d.ends_at, by_is_admin=False)
    assert info.value.rule == "delegation-not-active"


# ---------------------------------------------------------------- signing on behalf


def delegation(
    delegator: str = "qa1", delegate: str = "qa9", role: str = "qa", hours: int = 240, **kw: object
) -> Delegation:
    values: dict[str, object] = {
        "id": "D1",
        "delegator": delegator,
        "delegate": delegate,
        "role": role,
        "project": None,
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=hours),
        "reason": "leave",
        "granted_by": delegator,
        "granted_at": T0,
    }
    values.update(kw)
    return Delegation(**values)  # type: ignore[arg-type]


def at_g_b(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "b", clock())


def test_a_delegate_signs_on_behalf_and_both_names_are_recorded(
    project: Project, clock: Clock
) -> None:
    at_g_b(project, clock)
    d = delegation()
    change = project.sign(
        "g-b",
        signer("qa9"),
        "qa",
        "go",
        "approval",
        clock(),
        on_behalf_of="qa1",
        on_behalf_of_name="QA1",
        delegation=d,
    )
    review = project.reviews[-1]
    sig = review.signatures[0]
    assert (sig.user, sig.on_behalf_of, sig.principal) == ("qa9", "qa1", "qa1")
    assert sig.delegation is not None and sig.delegation["id"] == "D1"
    assert "on behalf of QA1 (qa1)" in sig.manifestation()
    assert change.new is not None and change.new["on_behalf_of"] == "qa1"
    assert project.missing(review) == [{"role": "customer", "needed": 1}]


def test_delegated_signature_refusals(project: Project, clock: Clock) -> None:
    at_g_b(project, clock)

    def sign(user: str, behalf: str | None, d: Delegation | None, role: str = "qa") -> None:
        project.sign(
            "g-b", signer(user), role, "go", "approval", clock(), on_behalf_of=behalf, delegation=d
        )

    refused(project, "delegation-not-in-force", lambda: sign("qa9", "qa1", None), "no delegation")
    revoked = delegation(revoked_at=T0 + timedelta(minutes=1), revoked_by="qa1")
    refused(project, "delegation-not-in-force", lambda: sign("qa9", "qa1", revoked), "revoked")
    later = delegation(starts_at=T0 + timedelta(days=5), ends_at=T0 + timedelta(days=6))
    refused(project, "delegation-not-in-force", lambda: sign("qa9", "qa1", later), "starts at")
    other_role = delegation(role="pm")
    refused(project, "delegation-not-in-force", lambda: sign("qa9", "qa1", other_role), "role")
    other_project = delegation(project="OTHER")
    refused(project, "delegation-not-in-force", lambda: sign("qa9", "qa1", other_project))
    wrong_person = delegation(delegator="qa2")
    refused(project, "delegation-not-in-force", lambda: sign("qa9", "qa1", wrong_person))
    refused(project, "delegation-to-self", lambda: sign("qa1", "qa1", delegation()))
    # the delegator must hold the role on the project (no sub-delegation through a delegate)
    refused(
        project,
        "not-assigned-to-role",
        lambda: sign("qa8", "qa9", delegation(delegator="qa9", delegate="qa8")),
        "qa9",
    )


def _hours(clock: Clock) -> None:
    """The unit clock moves a minute per call; make the 1-hour delegation end first."""
    for _ in range(61):
        clock()


def test_an_expired_delegation_is_refused_at_the_signing_instant(
    project: Project, clock: Clock
) -> None:
    at_g_b(project, clock)
    d = delegation(hours=1)
    _hours(clock)
    refused(
        project,
        "delegation-not-in-force",
        lambda: project.sign(
            "g-b", signer("qa9"), "qa", "go", "approval", clock(), on_behalf_of="qa1", delegation=d
        ),
        "ended at",
    )


def test_one_person_never_fills_a_slot_twice(clock: Clock) -> None:
    """g-d needs two independent qa: the four ways one person or a delegator-delegate pair
    could fill both slots are each refused."""
    project = start(diamond())
    for pid in ("a", "b", "c"):
        pass_phase(project, pid, clock())
    complete_work(project, "d", clock())

    def sign(user: str, behalf: str | None = None, d: Delegation | None = None) -> None:
        project.sign(
            "g-d", signer(user), "qa", "go", "approval", clock(), on_behalf_of=behalf, delegation=d
        )

    # qa2 is a qa in person and holds a delegation from qa1
    d = delegation(delegate="qa2")
    sign("qa2")
    refused(project, "already-signed", lambda: sign("qa2", "qa1", d), "in person")
    # a fresh review: qa2 first on behalf of qa1, then in person
    project2 = start(diamond())
    for pid in ("a", "b", "c"):
        pass_phase(project2, pid, clock())
    complete_work(project2, "d", clock())
    project2.sign(
        "g-d", signer("qa2"), "qa", "go", "approval", clock(), on_behalf_of="qa1", delegation=d
    )
    refused(
        project2,
        "already-signed",
        lambda: project2.sign("g-d", signer("qa2"), "qa", "go", "approval", clock()),
        "on behalf of 'qa1'",
    )
    # the delegator comes back and signs too: refused, their slot is filled
    refused(
        project2,
        "already-signed",
        lambda: project2.sign("g-d", signer("qa1"), "qa", "go", "approval", clock()),
        "through delegate 'qa2'",
    )
    # and a delegate cannot sign for someone who already signed in person
    project3 = start(diamond())
    for pid in ("a", "b", "c"):
        pass_phase(project3, pid, clock())
    complete_work(project3, "d", clock())
    project3.sign("g-d", signer("qa1"), "qa", "go", "approval", clock())
    refused(
        project3,
        "delegator-already-counted",
        lambda: project3.sign(
            "g-d",
            signer("qa9"),
            "qa",
            "go",
            "approval",
            clock(),
            on_behalf_of="qa1",
            delegation=delegation(),
        ),
        "qa1",
    )


def test_a_non_delegable_quota_refuses_delegated_signatures(clock: Clock) -> None:
    project = start(diamond(delegable_d=False))
    for pid in ("a", "b", "c"):
        pass_phase(project, pid, clock())
    complete_work(project, "d", clock())
    refused(
        project,
        "not-delegable",
        lambda: project.sign(
            "g-d",
            signer("qa9"),
            "qa",
            "go",
            "approval",
            clock(),
            on_behalf_of="qa1",
            delegation=delegation(),
        ),
        "delegable: false",
    )


def test_independence_covers_the_delegate_and_the_delegator(project: Project, clock: Clock) -> None:
    """g-b's qa quota is independent: dev2 (qa and dev) submitted b's report."""
    pass_phase(project, "a", clock())
    project.submit_deliverable("b", "b-report", "dev2", "DMS-7", clock())
    # the delegate contributed
    refused(
        project,
        "not-independent",
        lambda: project.sign(
            "g-b",
            signer("dev2"),
            "qa",
            "go",
            "approval",
            clock(),
            on_behalf_of="qa1",
            delegation=delegation(delegate="dev2"),
        ),
        "dev2",
    )
    # the delegator contributed
    refused(
        project,
        "not-independent",
        lambda: project.sign(
            "g-b",
            signer("qa9"),
            "qa",
            "go",
            "approval",
            clock(),
            on_behalf_of="dev2",
            delegation=delegation(delegator="dev2"),
        ),
        "on behalf of 'dev2'",
    )
