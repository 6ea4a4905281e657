"""The CLI and the UI on the same gate; restarts; idle gates hold no process; actions,
reconcile, artifacts and events."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cdmo_workflow import service
from cdmo_workflow.orchestration import naming
from cdmo_workflow.orchestration.actions import WHOLE_PROJECT

from .conftest import (
    MINI_TEAM,
    PASSWORD,
    Orchestra,
    children_of,
    open_mini,
    rss_kb,
    run_action_form,
    submit_all,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_cli_and_ui_sign_the_same_gate(orchestra: Orchestra) -> None:
    orch = orchestra
    code = open_mini(orch, "MIX")
    run = orch.wait_waiting(code, "design-review")
    assert "Paula Manager" in orch.description(run)
    # The CLI path: a service call with the post-commit hook (what `cdmo gate sign` runs).
    service.sign_gate(orch.ctx(), code, "design-review", "pm1", PASSWORD, "pm", "go", "approval")
    # The waiting run is refreshed: it now offers only the customer role, and shows pm1.
    run = orch.wait_waiting(code, "design-review")
    schema = orch.schema(run)
    assert schema["properties"]["role"].get("enum", [schema["properties"]["role"].get("const")])
    text = orch.description(run)
    assert "| pm | go | approval |" in text
    assert "**pm**" not in text  # not listed as missing any more
    # The UI path finishes the gate; the same run completes.
    orch.sign_ui(code, "design-review", "cust1", "customer")
    wait_for(lambda: orch.gate(code, "design-review")["outcome"] == "go", 60, "decided")
    runs = orch.gate_runs(code, "design-review")
    assert len(runs) == 1
    wait_for(lambda: orch.gate_runs(code, "design-review")[0].state.is_completed(), 60, "completed")
    # A CLI signature that decides the gate completes a waiting run without any UI input.
    submit_all(orch, code, "build")
    orch.wait_waiting(code, "build-complete")
    service.sign_gate(
        orch.ctx(), code, "build-complete", "qa1", PASSWORD, "qa", "kill", "review", comment="no go"
    )
    wait_for(
        lambda: all(r.state.is_completed() for r in orch.gate_runs(code, "build-complete")),
        60,
        "run completed after a CLI veto",
    )
    assert orch.status(code)["state"] == "killed"


def test_hold_and_resume_finish_and_recreate_the_run(orchestra: Orchestra) -> None:
    orch = orchestra
    code = open_mini(orch, "HOLD")
    orch.wait_waiting(code, "design-review")
    service.hold_project(orch.ctx(), code, "pm1", "funding review", password=PASSWORD)
    wait_for(lambda: all(r.state.is_completed() for r in orch.gate_runs(code)), 60, "run finished")
    service.resume_project(orch.ctx(), code, "pm1", "funding confirmed", password=PASSWORD)
    orch.wait_waiting(code, "design-review")
    assert len(orch.gate_runs(code)) == 2
    orch.sign_ui(code, "design-review", "pm1", "pm")
    orch.sign_ui(code, "design-review", "cust1", "customer")
    wait_for(lambda: orch.gate(code, "design-review")["outcome"] == "go", 60, "decided")


def test_restart_the_runner_while_gates_wait(orchestra: Orchestra) -> None:
    orch = orchestra
    code = open_mini(orch, "RST")
    orch.wait_waiting(code, "design-review")
    orch.runner.kill()
    try:
        # While nothing serves the flows, a sign-off from the UI is stored and waits.
        run = orch.sign_ui(code, "design-review", "pm1", "pm", expect_change=False)
        time.sleep(1.0)
        assert orch.gate(code, "design-review")["signatures"] == []
    finally:
        orch.runner.start(orch.api_url)
    wait_for(lambda: orch.gate(code, "design-review")["signatures"], 60, "stored input applied")
    orch.sign_ui(code, "design-review", "cust1", "customer")
    wait_for(lambda: orch.gate(code, "design-review")["outcome"] == "go", 60, "decided")
    submit_all(orch, code, "build")
    for user, role in [("qa1", "qa"), ("qa2", "qa"), ("cust1", "customer")]:
        orch.sign_ui(code, "build-complete", user, role)
    wait_for(lambda: orch.status(code)["state"] == "completed", 60, "completed")
    assert run.id in {r.id for r in orch.gate_runs(code)}


def gate_children(orch: Orchestra, pid: int) -> list[int]:
    """The runner's flow-run processes, except the long-lived housekeeping run."""
    from pathlib import Path

    out = []
    for child in children_of(pid):
        try:
            env = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ids = [e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"PREFECT__FLOW_RUN_ID=")]
        if ids:
            with orch.client() as c:
                if "cdmo-housekeeping" in c.read_flow_run(ids[0]).tags:
                    continue
        out.append(child)
    return out


def test_waiting_gates_hold_no_process(orchestra: Orchestra) -> None:
    from cdmo_workflow.orchestration.fast_resume import RESUMED_HERE
    from cdmo_workflow.orchestration.forms import refresh_input_for

    orch = orchestra
    pid = orch.runner.pid
    # Warm the serving process first: its first re-execution of a resumed run imports
    # Prefect's flow engine once, a constant that does not grow with the waiting gates.
    warm = open_mini(orch, "WARM")
    run = orch.wait_waiting(warm, "design-review")
    offset = orch.runner.log.stat().st_size
    with orch.client() as c:
        c.resume_flow_run(run.id, run_input=refresh_input_for(c, run))
    wait_for(
        lambda: RESUMED_HERE in orch.runner.log.read_bytes()[offset:].decode(errors="replace"),
        60,
        "a re-execution in the serving process",
    )
    orch.wait_waiting(warm, "design-review")
    wait_for(lambda: not gate_children(orch, pid), 60, "runner idle")
    idle_rss = rss_kb(pid)
    codes = [open_mini(orch, "IDLE") for _ in range(20)]
    for code in codes:
        orch.wait_waiting(code, "design-review", timeout=120)
    wait_for(lambda: not gate_children(orch, pid), 60, "no child process")
    busy_rss = rss_kb(pid)
    assert gate_children(orch, pid) == []
    assert busy_rss < idle_rss * 1.25 + 20_000, (idle_rss, busy_rss)
    waiting = [r for c in codes for r in orch.gate_runs(c, waiting_only=True)]
    assert len(waiting) == 20


def test_action_flows_reconcile_artifacts_and_events(orchestra: Orchestra) -> None:
    from prefect.deployments import run_deployment

    orch = orchestra
    code = orch.new_code("ACT")
    # Commands made without the hook (as if Prefect were down): no run is created...
    plain = orch.plain()
    service.start_project(
        plain, code, "mini-programme", "Helix Bio", MINI_TEAM, by="pm1", password=PASSWORD
    )
    assert orch.gate_runs(code) == []
    # ... an action deployment then changes the project through its form of choices ...
    fr = run_action_form(
        "submit-deliverable/submit-deliverable",
        {"project": code},
        {"deliverable": "[spec,"},
        {"evidence": "DMS-UI-1", "user": "pm1", "password": PASSWORD},
    )
    assert fr.state.is_completed(), fr.state
    assert orch.gate(code, "design-review")["state"] == "open"
    _assert_no_credential_left(orch, fr.id)
    # ... and its hook created the gate's run (a refused action fails with the reason).
    orch.wait_waiting(code, "design-review")
    bad = run_action_form(
        "hold-project/hold-project",
        {"project": code},
        {},
        {"scope": WHOLE_PROJECT, "reason": "x", "user": "cust1", "password": PASSWORD},
    )
    assert bad.state.name == "Refused", bad.state
    assert "not-assigned-to-role" in (bad.state.message or "")
    assert "Traceback" not in (bad.state.message or "")
    # A wrong password is refused the same way, with no traceback.
    wrong = run_action_form(
        "hold-project/hold-project",
        {"project": code},
        {},
        {
            "scope": WHOLE_PROJECT,
            "reason": "x",
            "user": "pm1",
            "password": "not-the-password",
        },
    )
    assert wrong.state.name == "Refused", wrong.state
    assert "authentication-failed" in (wrong.state.message or ""), wrong.state.message
    _assert_no_credential_left(orch, wrong.id)
    # An unknown project: refused at once, naming the known ones.
    unknown = run_action_form("hold-project/hold-project", {"project": "NOPE-1"}, {}, {})
    assert unknown.state.name == "Refused", unknown.state
    assert code in (unknown.state.message or "")

    # Reconcile: a gate opened while Prefect was not told gets its run.
    code2 = open_mini(orch, "REC", ctx=plain)
    assert orch.gate_runs(code2) == []
    rec = run_deployment("reconcile-gates/reconcile-gates", timeout=90, poll_interval=0.5)
    assert rec.state.is_completed(), rec.state
    orch.wait_waiting(code2, "design-review")
    # Reconcile again: nothing is created twice.
    run_deployment("reconcile-gates/reconcile-gates", timeout=90, poll_interval=0.5)
    assert len(orch.gate_runs(code2)) == 1

    with orch.client() as c:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        def latest(key: str) -> str:
            arts = c.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            assert arts, key
            return str(max(arts, key=lambda a: a.created).data)

        md = latest(naming.artifact_key(code))
        assert "Design review" in md and "verified" in md and "Paula Manager" in md
        assert code2 in latest("portfolio")
        events = _events(c, code)
    assert "cdmo.gate.opened" in events and "cdmo.deliverable.submitted" in events


def _events(client, code: str) -> set[str]:
    resp = client.request(
        "POST",
        "/events/filter",
        json={
            "filter": {
                "resource": {"id": [naming.project_resource(code)]},
                "occurred": {"since": "2000-01-01T00:00:00Z"},
            },
            "limit": 50,
        },
    )
    return {e["event"] for e in resp.json()["events"]}


def _assert_no_credential_left(orch: Orchestra, run_id: Any) -> None:
    """No password in the run's inputs, parameters or artifacts once it has read its form."""
    with orch.client() as c:
        inputs = c.filter_flow_run_input(
            flow_run_id=run_id, key_prefix="", limit=100, exclude_keys=set()
        )
        assert not [i.key for i in inputs if i.key.endswith("-response")]
        assert PASSWORD not in str(c.read_flow_run(run_id).parameters)
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        arts = c.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        assert arts, "a result artifact"
        assert all(PASSWORD not in str(a.data) for a in arts)
