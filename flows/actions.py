"""Deployments with parameter forms for the commands operations staff run from the UI.

Each flow calls exactly one service function (the same one as the CLI) with an idempotency
key derived from the flow run id, so a re-executed run records nothing twice. Sign-offs are
not here: they need a password and only happen through a gate-review run's form.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from pydantic import Field

from cdmo_workflow.orchestration.actions import run_action

Project = Annotated[str, Field(title="Project code", description="e.g. DEMO-001")]
By = Annotated[
    str,
    Field(title="Acting user id", description="Your cdmo user id; it is recorded in the audit"),
]
Evidence = Annotated[
    str,
    Field(title="Evidence", description="Reference to the evidence, e.g. a DMS document id"),
]
Reason = Annotated[str, Field(title="Reason", description="Why; recorded in the audit trail")]


@flow(name="start-project", description="Start a project on the current definitions.")
def start_project(
    code: Project,
    process: Annotated[
        str, Field(title="Process id", description="e.g. api-clinical-program (definitions/)")
    ],
    customer: Annotated[str, Field(title="Customer", description="The sponsor's name")],
    team: Annotated[
        dict[str, list[str]],
        Field(
            title="Team",
            description='Role → user ids, e.g. {"pm": ["demo-pm"], "qa": ["demo-qa"]}',
        ),
    ],
    by: By,
) -> dict[str, Any]:
    return run_action(
        "start_project", code=code, process_id=process, customer=customer, team=team, by=by
    )


@flow(name="submit-deliverable", description="Submit a deliverable of an active phase.")
def submit_deliverable(
    project: Project,
    phase: Annotated[str, Field(title="Phase id", description="e.g. scoping")],
    deliverable: Annotated[str, Field(title="Deliverable id", description="e.g. feasibility")],
    by: By,
    evidence: Evidence,
) -> dict[str, Any]:
    return run_action(
        "submit_deliverable",
        code=project,
        phase=phase,
        deliverable=deliverable,
        by=by,
        evidence=evidence,
    )


@flow(name="confirm-check", description="Confirm a must-meet check of a gate.")
def confirm_check(
    project: Project,
    gate: Annotated[str, Field(title="Gate id", description="e.g. scoping-go")],
    check: Annotated[str, Field(title="Check id", description="e.g. capacity-confirmed")],
    by: By,
    evidence: Evidence,
) -> dict[str, Any]:
    return run_action(
        "confirm_check", code=project, gate=gate, check=check, by=by, evidence=evidence
    )


@flow(name="close-condition", description="Close a Conditional Go condition with evidence.")
def close_condition(
    project: Project,
    condition: Annotated[str, Field(title="Condition id", description="e.g. C1")],
    by: By,
    evidence: Evidence,
) -> dict[str, Any]:
    return run_action(
        "close_condition", code=project, condition_id=condition, by=by, evidence=evidence
    )


@flow(name="hold-project", description="Put a project on hold (project manager).")
def hold_project(project: Project, by: By, reason: Reason) -> dict[str, Any]:
    return run_action("hold_project", code=project, by=by, reason=reason)


@flow(name="resume-project", description="Resume a project on hold (project manager).")
def resume_project(project: Project, by: By, reason: Reason) -> dict[str, Any]:
    return run_action("resume_project", code=project, by=by, reason=reason)


ACTION_FLOWS = [
    start_project,
    submit_deliverable,
    confirm_check,
    close_condition,
    hold_project,
    resume_project,
]
