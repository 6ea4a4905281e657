"""The sign-off subscriber against a real Prefect server and ``cdmo serve``: it applies a
resume from the event stream and the run finds nothing left to do; without it the run
applies the input itself; racing (the subscriber, the run and a third claimant) every
signature is recorded exactly once; a wrong password is refused and shown like the run's
own refusal; no password stays in Prefect."""

from __future__ import annotations

import contextvars
import json
import random
import threading
import time
from typing import Any

import pytest

from cdmo_workflow import service
from cdmo_workflow.orchestration.fast_resume import RESUMED_HERE
from cdmo_workflow.orchestration.runs import resume_with_retry

from .conftest import (
    PASSWORD,
    WRONG_PASSWORD,
    Orchestra,
    open_mini,
    wait_for,
)
from .test_programme import _no_password_in_prefect

pytestmark = pytest.mark.slow

SIGN = {"decision": "go", "meaning": "approval", "comment": "", "conditions": []}
GATE = "design-review"


def _rows(orch: Orchestra, code: str) -> list[dict[str, Any]]:
    return [
        r
        for r in json.loads(service.export_audit(orch.plain(), code, "json"))
        if r["action"] == "gate.sign"
    ]


def _resume(orch: Orchestra, run: Any, user: str, role: str, password: str = PASSWORD) -> None:
    with orch.client() as c:
        form = {"user": user, "role": role, "password": password} | SIGN
        response = resume_with_retry(c, run.id, form)
    assert response.status.value == "ACCEPT", response.details


def _log_after(orch: Orchestra, offset: int) -> str:
    return orch.runner.log.read_bytes()[offset:].decode(errors="replace")


def _run_logs(orch: Orchestra, run_id: Any) -> list[str]:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with orch.client() as c:
        logs = c.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
    return [entry.message for entry in logs]


def test_the_subscriber_applies_a_resume_and_the_run_finds_nothing_to_do(
    orchestra: Orchestra,
) -> None:
    orch = orchestra
    code = open_mini(orch, "SUB")
    run = orch.wait_waiting(code, GATE)
    before, offset = orch.last_seq(code), orch.runner.log.stat().st_size
    _resume(orch, run, "pm1", "pm")
    pressed = time.monotonic()
    wait_for(lambda: orch.last_seq(code) > before, 60, "pm1 signing", every=0.02)
    print(f"resume → decision committed: {time.monotonic() - pressed:.2f} s")

    line = f"subscriber: sign-off by pm1 on {code}/{GATE} recorded (run {run.id})"
    wait_for(lambda: line in _log_after(orch, offset), 10, "the subscriber's log line")
    again = orch.wait_waiting(code, GATE)  # the run re-executed, found no input, waits again
    assert again.id == run.id
    assert again.state.state_details.pause_key != run.state.state_details.pause_key
    assert [(r["actor"], r["outcome"]) for r in _rows(orch, code)] == [("pm1", "accepted")]
    # The run's logs in the UI say who recorded it; the run itself recorded nothing.
    recorded = "sign-off subscriber: signature recorded: pm1 as pm (go)"
    wait_for(lambda: recorded in _run_logs(orch, run.id), 30, "the line in the run's logs")
    assert not [m for m in _run_logs(orch, run.id) if m.startswith("signature recorded")]
    # The next form offers only the role still missing.
    assert orch.schema(again)["properties"]["role"]["enum"] == ["customer"]
    # ``cdmo serve`` re-executed the run itself, without a subprocess start.
    assert RESUMED_HERE in _run_logs(orch, run.id)


def test_a_runner_that_fetched_the_run_before_it_waited_again_skips_it(
    orchestra: Orchestra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window ``guard_runner`` closes: a runner fetched the resumed run as Scheduled,
    ``cdmo serve`` claimed and re-suspended it first, and only then does the runner propose
    Pending. Prefect answers Paused; unguarded, ``propose_pending`` lets ``Pause`` escape
    (it would end ``serve``); guarded, the run is simply not submitted."""
    import asyncio

    from prefect import get_client
    from prefect.exceptions import Pause
    from prefect.runner._state_proposer import StateProposer

    from cdmo_workflow.orchestration import fast_resume

    orch = orchestra
    code = open_mini(orch, "GUARD")
    run = orch.wait_waiting(code, GATE)
    monkeypatch.setattr(StateProposer, "propose_pending", StateProposer.propose_pending)
    monkeypatch.setattr(fast_resume, "_guarded", False)

    async def propose() -> bool:
        async with get_client() as client:
            return await StateProposer(client=client).propose_pending(run)

    with pytest.raises(Pause):
        asyncio.run(propose())
    assert fast_resume.guard_runner()
    assert asyncio.run(propose()) is False
    still = orch.wait_waiting(code, GATE)
    assert still.id == run.id and still.state.id == run.state.id  # untouched, still waiting


def test_without_the_subscriber_the_run_applies_the_sign_off(orchestra: Orchestra) -> None:
    orch = orchestra
    code = open_mini(orch, "NOSUB")
    orch.runner.stop()
    orch.runner.start(orch.api_url, "--no-subscriber")
    try:
        run = orch.wait_waiting(code, GATE)
        before, offset = orch.last_seq(code), orch.runner.log.stat().st_size
        _resume(orch, run, "pm1", "pm")
        wait_for(lambda: orch.last_seq(code) > before, 60, "pm1 signing")
        wait_for(
            lambda: [m for m in _run_logs(orch, run.id) if m.startswith("signature recorded")],
            30,
            "the run's own log line",
        )
        assert "subscriber:" not in _log_after(orch, offset)
        assert [(r["actor"], r["outcome"]) for r in _rows(orch, code)] == [("pm1", "accepted")]
    finally:
        orch.runner.stop()
        orch.runner.start(orch.api_url)
    _no_password_in_prefect(orch, {run.id}, PASSWORD)


def test_racing_paths_record_each_of_20_signatures_once(
    orchestra: Orchestra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty resumes, each raced by the runner's subscriber, the gate run itself and a
    third claimant in this process calling the subscriber's handler at once; the
    re-execution is raced too (the runner, ``cdmo serve``'s own and this process's)."""
    from cdmo_workflow.orchestration.fast_resume import run_here
    from cdmo_workflow.orchestration.serving import load_flow_module
    from cdmo_workflow.orchestration.subscriber import apply_resume

    orch = orchestra
    monkeypatch.setenv("CDMO_DATABASE_URL", orch.db_url)
    monkeypatch.setenv("CDMO_DEFINITIONS", str(orch.definitions))
    codes = [open_mini(orch, "RACE20") for _ in range(10)]
    jitter = random.Random(20)
    offset = orch.runner.log.stat().st_size
    claimed_here: list[int] = []
    ran_here: list[bool] = []
    failures: list[BaseException] = []
    flow = load_flow_module("gate_review").gate_review

    def claim(run_id: Any, delay: float) -> None:
        time.sleep(delay)  # spread the start so each path wins some of the races
        try:
            claimed_here.append(apply_resume(run_id, wait=1.0))
            ran_here.append(run_here(run_id, flow))
        except BaseException as exc:  # reported below: a racer must never fail
            failures.append(exc)

    for user, role in (("pm1", "pm"), ("cust1", "customer")):
        racers: list[threading.Thread] = []
        befores = {code: orch.last_seq(code) for code in codes}
        for code in codes:
            run = orch.wait_waiting(code, GATE, timeout=90)
            _resume(orch, run, user, role)
            # The test's Prefect settings live in a context variable: carry them over.
            args = (claim, run.id, jitter.uniform(0, 0.25))
            racer = threading.Thread(target=contextvars.copy_context().run, args=args)
            racer.start()
            racers.append(racer)
        for racer in racers:
            racer.join(60)
        for code in codes:
            seq = befores[code]
            wait_for(lambda c=code, b=seq: orch.last_seq(c) > b, 90, f"{user} on {code}")
    assert not failures, failures
    assert len(claimed_here) == 20
    for code in codes:
        rows = _rows(orch, code)
        assert sorted((r["actor"], r["outcome"]) for r in rows) == [
            ("cust1", "accepted"),
            ("pm1", "accepted"),
        ], rows
        gate = orch.gate(code, GATE)
        assert gate["state"] == "decided"
        assert sorted(s["user"] for s in gate["signatures"]) == ["cust1", "pm1"]
    by_subscriber = sum(_log_after(orch, offset).count(f" on {c}/{GATE} recorded") for c in codes)
    print(
        f"of 20 sign-offs: the third claimant applied {sum(claimed_here)}, the runner's "
        f"subscriber {by_subscriber}, the gate runs {20 - sum(claimed_here) - by_subscriber}; "
        f"this process re-executed {sum(ran_here)} of the 20 resumed runs"
    )
    runs = {r.id for code in codes for r in orch.gate_runs(code)}
    try:
        wait_for(
            lambda: all(r.state.is_final() for c in codes for r in orch.gate_runs(c)), 90, "done"
        )
    except AssertionError:
        left = [(c, r.id, r.state) for c in codes for r in orch.gate_runs(c)]
        raise AssertionError(f"gate runs not finished: {left}") from None
    _no_password_in_prefect(orch, runs, PASSWORD)


def test_a_wrong_password_through_the_subscriber_is_refused_and_shown(
    orchestra: Orchestra,
) -> None:
    orch = orchestra
    code = open_mini(orch, "SUBPW")
    run = orch.wait_waiting(code, GATE)
    before, offset = orch.last_seq(code), orch.runner.log.stat().st_size
    _resume(orch, run, "pm1", "pm", password=WRONG_PASSWORD)
    wait_for(lambda: orch.last_seq(code) > before, 60, "the refusal audited")
    line = f"subscriber: sign-off by pm1 on {code}/{GATE} refused (run {run.id})"
    wait_for(lambda: line in _log_after(orch, offset), 10, "the subscriber's log line")

    refusal = "sign-off by pm1 refused: "
    logged = wait_for(
        lambda: [m for m in _run_logs(orch, run.id) if m.startswith(refusal)], 30, "run's log"
    )
    assert len(logged) == 1 and logged[0].count("[rule: authentication-failed]") == 1, logged
    again = orch.wait_waiting(code, GATE)
    assert (again.state.message or "").startswith("REFUSED: Sign-off by pm1 refused")
    first = orch.description(again).splitlines()[0]
    assert first.startswith("> ⚠️ **REFUSED.**") and "authentication-failed" in first
    rows = _rows(orch, code)
    assert [(r["actor"], r["outcome"], r["rule"]) for r in rows] == [
        ("pm1", "refused", "authentication-failed")
    ]
    assert orch.gate(code, GATE)["signatures"] == []
    _no_password_in_prefect(orch, {run.id}, PASSWORD, WRONG_PASSWORD)


# The budget of one Prefect sign-off pass (house issue: at most 5): authenticate, the
# command, the artifact's facts, and who can sign now read with everyone's task lists.
PASS_UNITS = 4


def test_a_sign_off_pass_through_the_subscriber_stays_within_its_units(
    orchestra: Orchestra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One sign-off applied by the subscriber's handler, with every post-commit hook
    (artifacts, run refresh, task lists, the notification relay), counted; the runner is
    stopped so nothing else applies the input."""
    from cdmo_workflow.orchestration.subscriber import apply_resume
    from tests.counting import CountingDatabase

    orch = orchestra
    code = open_mini(orch, "COUNT")
    run = orch.wait_waiting(code, GATE)
    db = CountingDatabase(orch.db_url)
    real = service.open_context

    def counting(*args: Any, **kwargs: Any) -> Any:
        ctx = real(db_url=orch.db_url, definitions=orch.definitions)
        ctx.database = db
        return ctx

    monkeypatch.setattr(service, "open_context", counting)
    # Stop the runner only once the run has waited, untouched, for 5 s (a refresh by the
    # housekeeping pass or a hook re-executes it; the stop would then crash it).
    settled = run.state.id
    for _ in range(60):
        time.sleep(5)
        run = orch.wait_waiting(code, GATE, timeout=60)
        if run.state.id == settled:
            break
        settled = run.state.id
    orch.runner.stop()
    try:
        _resume(orch, run, "pm1", "pm")
        with db.measure() as cost:
            assert apply_resume(run.id) == 1
    finally:
        orch.runner.start(orch.api_url)
    print(f"a sign-off pass through the subscriber: {cost}")
    assert [(r["actor"], r["outcome"]) for r in _rows(orch, code)] == [("pm1", "accepted")]
    assert cost["units"] <= PASS_UNITS, cost
