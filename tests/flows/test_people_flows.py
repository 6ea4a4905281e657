"""People features through Prefect (real server, served deployments; issue #16): a delegated
signature from the gate run's form, "waiting for me" run tags kept current, a quality hold
placed and released through the action forms (the PM's release refused), and the
``tasks-<user>`` artifacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cdmo_workflow import service
from cdmo_workflow.orchestration.people import install, tasks_key
from tests.prefect_support import wait_for

from .conftest import MINI_TEAM, PASSWORD, Orchestra, run_action_form, submit_all


def _tags(orch: Orchestra, code: str, gate: str) -> set[str]:
    runs = orch.gate_runs(code, gate, waiting_only=False)
    live = [r for r in runs if r.state is not None and not r.state.is_final()]
    assert live, f"no live run of {gate}"
    return set(live[0].tags)


def _people(tags: set[str]) -> tuple[set[str], set[str]]:
    needs = {t.split(":", 1)[1] for t in tags if t.startswith("needs:")}
    waiting = {t.split(":", 1)[1] for t in tags if t.startswith("waiting-for:")}
    return needs, waiting


def _artifact(orch: Orchestra, key: str) -> str:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with orch.client() as c:
        arts = c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert arts, key
    return str(max(arts, key=lambda a: a.created).data)


def test_delegated_signature_and_quality_hold_through_prefect(orchestra: Orchestra) -> None:
    orch = orchestra
    ctx = orch.ctx()
    install(ctx, orch.api_url)  # what the composition root adds beside the Prefect hook
    code = orch.new_code("PPL")
    service.start_project(
        ctx, code, "mini-programme", "Helix Bio", MINI_TEAM, by="pm1", password=PASSWORD
    )
    submit_all(orch, code, "design")
    orch.wait_waiting(code, "design-review")
    assert _people(_tags(orch, code, "design-review")) == (
        {"pm", "customer"},
        {"pm1", "cust1"},
    )
    orch.sign_ui(code, "design-review", "pm1", "pm")
    orch.sign_ui(code, "design-review", "cust1", "customer")
    submit_all(orch, code, "build")

    # qa1 is away: qa3 signs on qa1's behalf for a week
    today = datetime.now(UTC).date()
    service.grant_delegation(
        ctx,
        "qa1",
        "qa3",
        "qa",
        today.isoformat(),
        (today + timedelta(days=7)).isoformat(),
        "annual leave",
        "qa1",
        code,
        password=PASSWORD,
    )
    orch.wait_waiting(code, "build-complete")
    needs, waiting = _people(_tags(orch, code, "build-complete"))
    assert needs == {"qa", "customer"} and waiting == {"qa1", "qa2", "qa3", "cust1"}

    # the delegate signs from the run's form ("On behalf of")
    from prefect.flow_runs import resume_flow_run

    run = orch.wait_waiting(code, "build-complete")
    schema = orch.schema(run)
    assert "on_behalf_of" in schema["properties"]
    assert "on_behalf_of" not in schema.get("required", [])
    before = orch.last_seq(code)
    resume_flow_run(
        run.id,
        run_input={
            "user": "qa3",
            "role": "qa",
            "decision": "go",
            "meaning": "approval",
            "comment": "",
            "conditions": [],
            "on_behalf_of": "qa1",
            "password": PASSWORD,
        },
    )
    wait_for(lambda: orch.last_seq(code) > before, 60, "qa3 signing on behalf of qa1")
    (sig,) = orch.gate(code, "build-complete")["signatures"]
    assert (sig["user"], sig["on_behalf_of"]) == ("qa3", "qa1")
    assert sig["delegation"]["reason"] == "annual leave"

    def retagged() -> Any:
        needs, waiting = _people(_tags(orch, code, "build-complete"))
        return (needs, waiting) if waiting == {"qa2", "cust1"} else None

    assert wait_for(retagged, 60, "tags without qa1 and qa3")[0] == {"qa", "customer"}
    description = orch.description(orch.wait_waiting(code, "build-complete"))
    assert "qa3" in description and "on behalf of" in description
    from cdmo_workflow.orchestration import naming

    artifact = wait_for(
        lambda: (t := _artifact(orch, naming.artifact_key(code))) and "on behalf of" in t and t,
        60,
        "the project artifact with both names",
    )
    assert "Dr. Quentin Assurance" in artifact

    # QA holds the whole project from the hold form; the PM cannot release it
    held = run_action_form(
        "hold-project/hold-project",
        {"project": code},
        {"scope": "(the whole project)"},
        {"reason": "OOS result on batch 3", "user": "qa2", "password": PASSWORD},
    )
    assert held.state.is_completed(), held.state
    status = orch.status(code)
    assert status["state"] == "on-hold" and status["holds"][-1]["quality"]
    hold_id = status["holds"][-1]["id"]
    refused = run_action_form(
        "release-hold/release-hold",
        {"project": code},
        {"hold": f"{hold_id}:", "meaning": "approval"},
        {"reason": "I decide", "user": "pm1", "password": PASSWORD},
    )
    assert refused.state.name == "Refused", refused.state
    assert "not-quality-role" in (refused.state.message or "")
    released = run_action_form(
        "release-hold/release-hold",
        {"project": code},
        {"hold": f"{hold_id}:", "meaning": "approval"},
        {"reason": "OOS invalidated (lab error)", "user": "qa2", "password": PASSWORD},
    )
    assert released.state.is_completed(), released.state
    status = orch.status(code)
    assert status["state"] == "active"
    signature = status["holds"][-1]["release_signature"]
    assert signature["user"] == "qa2" and signature["meaning"] == "approval"
    assert "## Holds" not in _artifact(orch, naming.artifact_key(code))  # none active

    # the review goes on where it was: qa2 and the customer sign, the project completes
    orch.sign_ui(code, "build-complete", "qa2", "qa")
    # every person's task list is an artifact, refreshed by the changes that concern them
    # (the server is shared with other tests' projects: only this project's rows count)
    wait_for(lambda: code in _artifact(orch, tasks_key("cust1")), 60, "cust1's signature task")
    orch.sign_ui(code, "build-complete", "cust1", "customer")
    assert orch.status(code)["state"] == "completed"

    text = _artifact(orch, tasks_key("qa2"))
    assert "Tasks of" in text and "qa2" in text
    wait_for(lambda: code not in _artifact(orch, tasks_key("cust1")), 60, "cust1's list done")
    assert PASSWORD not in text
