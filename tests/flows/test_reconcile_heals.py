"""The reconcile pass heals what nobody told Prefect about, against a real server and runner:
stale forms, decided reviews, crashed and stuck runs (with a sign-off left behind), and the
schema race on fast resumes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdmo_workflow import service
from cdmo_workflow.orchestration.runs import reconcile_runs

from .conftest import PASSWORD, Orchestra, open_mini, submit_all, wait_for

pytestmark = pytest.mark.slow

SIGN = {"decision": "go", "meaning": "approval", "comment": "", "conditions": []}


def _reconcile(orch: Orchestra, **kw: Any) -> Any:
    with orch.client() as c:
        return reconcile_runs(orch.ctx(), c, **kw)


def _roles_offered(orch: Orchestra, run: Any) -> list[str]:
    return list(orch.schema(run)["properties"]["role"].get("enum", []))


def _inputs(orch: Orchestra, run_id: Any) -> list[str]:
    with orch.client() as c:
        items = c.filter_flow_run_input(
            flow_run_id=run_id, key_prefix="", limit=100, exclude_keys=set()
        )
    return [i.key for i in items]


def test_stale_form_refreshed_and_decided_run_finished(orchestra: Orchestra) -> None:
    orch = orchestra
    code = open_mini(orch, "STALE")
    run = orch.wait_waiting(code, "design-review")
    assert "pm" in _roles_offered(orch, run)
    # pm signs while Prefect is not told (the CLI during an outage)
    service.sign_gate(orch.plain(), code, "design-review", "pm1", PASSWORD, "pm", "go", "approval")
    stats = _reconcile(orch)
    assert stats.refreshed >= 1 or orch.wait_waiting(code, "design-review", timeout=5)
    fresh = orch.wait_waiting(code, "design-review")
    assert _roles_offered(orch, fresh) == ["customer"]
    # the customer decides, again unseen by Prefect: the waiting run is finished with a message
    service.sign_gate(
        orch.plain(), code, "design-review", "cust1", PASSWORD, "customer", "go", "approval"
    )
    _reconcile(orch)
    with orch.client() as c:
        state = wait_for(
            lambda: (s := c.read_flow_run(fresh.id).state).is_final() and s, 60, "finished"
        )
    assert state.is_completed(), state
    # and the next gate (opened by that decision) got its run
    submit_all(orch, code, "build", orch.plain())
    _reconcile(orch)
    orch.wait_waiting(code, "build-complete")


def test_crashed_and_stuck_runs_are_replaced_and_their_inputs_applied(
    orchestra: Orchestra,
) -> None:
    from prefect.states import Crashed, Running

    orch = orchestra
    code = open_mini(orch, "CRASH")
    run = orch.wait_waiting(code, "design-review")
    key = run.state.state_details.pause_key
    with orch.client() as c:
        # a resume arrived (the password is in Prefect) and then the worker died
        c.set_flow_run_state(run.id, Crashed(message="worker gone"), force=True)
        c.create_flow_run_input(
            run.id,
            f"suspended-{key}-response",
            json.dumps({"user": "pm1", "role": "pm", "password": PASSWORD} | SIGN),
        )
    before = orch.last_seq(code)
    stats = _reconcile(orch)
    # A refresh (another command's post-commit hook) may have woken the run just before it
    # was crashed: then the run itself read the answer, deleting it, and recorded the
    # signature (seen once in CI). Either way the signature is recorded exactly once.
    assert stats.salvaged_signatures <= 1 and stats.created >= 1, stats
    wait_for(lambda: orch.last_seq(code) > before, 60, "the signature left in the crashed run")
    assert orch.gate(code, "design-review")["signatures"][0]["user"] == "pm1"
    assert _inputs(orch, run.id) == []  # no password left in Prefect
    fresh = orch.wait_waiting(code, "design-review")
    assert fresh.id != run.id and _roles_offered(orch, fresh) == ["customer"]
    # applying again records nothing twice
    _reconcile(orch)
    assert [s["user"] for s in orch.gate(code, "design-review")["signatures"]] == ["pm1"]

    # stuck: Running with nobody running it (its worker died mid-run)
    with orch.client() as c:
        c.set_flow_run_state(fresh.id, Running(), force=True)
    stats = _reconcile(orch, stuck_after=0)
    assert stats.crashed_stuck >= 1, stats
    with orch.client() as c:
        assert c.read_flow_run(fresh.id).state.is_crashed()
    again = orch.wait_waiting(code, "design-review")
    assert again.id not in (run.id, fresh.id)
    live = [r for r in orch.gate_runs(code, "design-review") if not r.state.is_final()]
    assert [r.id for r in live] == [again.id]  # one live run per review


def test_fast_resumes_lose_no_signature_to_the_schema_race(orchestra: Orchestra) -> None:
    """Resume each run the moment it is Paused (a signer under load). Prefect 3.9 saves the
    form's schema only after the Paused transition (which deletes inputs under that key),
    so a resume in between is refused with "Run input schema not found"; it stores
    nothing, and ``resume_with_retry`` (used by every resume cdmo sends) tries again:
    every signature is recorded exactly once."""
    from cdmo_workflow.orchestration.runs import SCHEMA_RACE, resume_with_retry

    orch = orchestra
    codes = [open_mini(orch, "RACE") for _ in range(6)]
    raced: list[str] = []
    with orch.client() as c:
        original = c.resume_flow_run

        def counting(run_id: Any, run_input: Any = None) -> Any:
            response = original(run_id, run_input=run_input)
            if SCHEMA_RACE in str(getattr(response, "details", "") or ""):
                raced.append(str(run_id))
            return response

        c.resume_flow_run = counting  # type: ignore[method-assign]
        for code in codes:
            for user, role in (("pm1", "pm"), ("cust1", "customer")):
                before = orch.last_seq(code)

                def paused(code: str = code) -> Any:
                    for r in orch.gate_runs(code, "design-review", waiting_only=True):
                        return r
                    return None

                run = wait_for(paused, 90, f"{code} paused", every=0.02)
                form = {"user": user, "role": role, "password": PASSWORD}
                response = resume_with_retry(c, run.id, form | SIGN)
                assert response.status.value == "ACCEPT", response.details
                wait_for(lambda code=code, b=before: orch.last_seq(code) > b, 90, "signed")
    print(f"resumes that met the schema race and were retried: {len(raced)} of 12")
    for code in codes:
        gate = orch.gate(code, "design-review")
        assert gate["state"] == "decided"
        assert sorted(s["user"] for s in gate["signatures"]) == ["cust1", "pm1"]
