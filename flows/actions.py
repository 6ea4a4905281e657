"""Deployments with parameter forms for the commands operations staff run from the UI.

Each flow calls exactly one service function (the same one as the CLI) with an idempotency
key derived from the flow run id, so a re-executed run records nothing twice. Sign-offs are
not here: they need a password and only happen through a gate-review run's form.

Prefect builds the parameter form from the signature and takes each field's help text from
the docstring's ``Args:`` section (it ignores pydantic ``Field`` metadata on parameters), so
the docstrings below are what users read in the "Run → Custom run" form.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from cdmo_workflow.orchestration.actions import run_action


@flow(name="start-project", description="Start a project on the current definitions.")
def start_project(
    code: str, process: str, customer: str, team: dict[str, list[str]], by: str
) -> dict[str, Any]:
    """Start a project, pinning the current definition version.

    Args:
        code: Project code, e.g. HX-042; unique and never reused.
        process: Process id from definitions/, e.g. api-clinical-program.
        customer: The sponsor's name.
        team: Role to user ids, e.g. {"pm": ["demo-pm"], "qa": ["demo-qa"]}.
        by: Your cdmo user id (the project manager); recorded in the audit trail.
    """
    return run_action(
        "start_project", code=code, process_id=process, customer=customer, team=team, by=by
    )


@flow(name="submit-deliverable", description="Submit a deliverable of an active phase.")
def submit_deliverable(
    project: str, phase: str, deliverable: str, by: str, evidence: str
) -> dict[str, Any]:
    """Submit a deliverable; the gate opens when the phase's last must-meet item is done.

    Args:
        project: Project code, e.g. DEMO-001.
        phase: Phase id, e.g. scoping.
        deliverable: Deliverable id, e.g. feasibility.
        by: Your cdmo user id; you must hold the deliverable's owner role on the project.
        evidence: Reference to the evidence, e.g. a DMS document id.
    """
    return run_action(
        "submit_deliverable",
        code=project,
        phase=phase,
        deliverable=deliverable,
        by=by,
        evidence=evidence,
    )


@flow(name="confirm-check", description="Confirm a must-meet check of a gate.")
def confirm_check(project: str, gate: str, check: str, by: str, evidence: str) -> dict[str, Any]:
    """Confirm a must-meet check of a gate whose phase is still active.

    Args:
        project: Project code, e.g. DEMO-001.
        gate: Gate id, e.g. scoping-go.
        check: Check id, e.g. capacity-confirmed.
        by: Your cdmo user id; you must hold the check's confirmed_by role on the project.
        evidence: Reference to the evidence, e.g. a DMS document id.
    """
    return run_action(
        "confirm_check", code=project, gate=gate, check=check, by=by, evidence=evidence
    )


@flow(name="close-condition", description="Close a Conditional Go condition with evidence.")
def close_condition(project: str, condition: str, by: str, evidence: str) -> dict[str, Any]:
    """Close a condition raised by a Conditional Go.

    Args:
        project: Project code, e.g. DEMO-001.
        condition: Condition id, e.g. C1 (see the project artifact).
        by: Your cdmo user id: the phase owner role or the project manager.
        evidence: Reference to the evidence that the condition is met.
    """
    return run_action(
        "close_condition", code=project, condition_id=condition, by=by, evidence=evidence
    )


@flow(name="hold-project", description="Put a project on hold (project manager).")
def hold_project(project: str, by: str, reason: str) -> dict[str, Any]:
    """Put a project on hold; nothing can be submitted or signed until it resumes.

    Args:
        project: Project code, e.g. DEMO-001.
        by: Your cdmo user id (the project manager role).
        reason: Why; recorded in the audit trail and sent to the team.
    """
    return run_action("hold_project", code=project, by=by, reason=reason)


@flow(name="resume-project", description="Resume a project on hold (project manager).")
def resume_project(project: str, by: str, reason: str) -> dict[str, Any]:
    """Resume a project; after a gate's Hold decision the gate reopens with a fresh review.

    Args:
        project: Project code, e.g. DEMO-001.
        by: Your cdmo user id (the project manager role).
        reason: Why; recorded in the audit trail and sent to the team.
    """
    return run_action("resume_project", code=project, by=by, reason=reason)


ACTION_FLOWS = [
    start_project,
    submit_deliverable,
    confirm_check,
    close_condition,
    hold_project,
    resume_project,
]
