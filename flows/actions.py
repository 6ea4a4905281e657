"""Deployments for the commands operations staff run from the UI: choices, not free text.

Each deployment takes at most the project code. Its run then waits (Suspended) with a form
built from the database: selects of the deliverables, checks or conditions still open (the
processes for a new project; the projects themselves when the code was left empty), your
user id and your password. Open the run, ⋮ → Resume, fill the form. The run deletes the
form's input from Prefect at once, calls the same service function as the CLI (with an
idempotency key from the flow run id), and ends Completed, or Refused with the refusal as
its state message; either way a result artifact says what happened.

Prefect builds the parameter form from the signature and takes each field's help text from
the docstring's ``Args:`` section.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from cdmo_workflow.orchestration.actions import run_action

_PROJECT = "Project code, e.g. DEMO-001; leave empty to choose from a list in the next form."


@flow(name="start-project", description="Start a project on the current definitions.")
def start_project() -> Any:
    """Start a project: the run waits for a form (code, process, customer, team, your
    password); open the run, ⋮ → Resume."""
    return run_action("start_project")


@flow(name="submit-deliverable", description="Submit a deliverable of an active phase.")
def submit_deliverable(project: str = "") -> Any:
    """Submit a deliverable; the run waits for a form listing the open deliverables.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("submit_deliverable", project)


@flow(name="confirm-check", description="Confirm a must-meet check of a gate.")
def confirm_check(project: str = "") -> Any:
    """Confirm a check; the run waits for a form listing the open checks.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("confirm_check", project)


@flow(name="close-condition", description="Close a Conditional Go condition with evidence.")
def close_condition(project: str = "") -> Any:
    """Close a condition; the run waits for a form listing the open conditions.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("close_condition", project)


@flow(
    name="accept-condition",
    description="Accept a closed condition (the raiser's role or the quality role).",
)
def accept_condition(project: str = "") -> Any:
    """Accept a condition's closure; the run waits for a form listing the closed conditions.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("accept_condition", project)


@flow(
    name="hold-project",
    description="Put a project or one phase on hold (project manager or quality role).",
)
def hold_project(project: str = "") -> Any:
    """Put a project (or, quality role, one phase) on hold; the run waits for a form with
    what to hold, the reason and your password.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("hold_project", project)


@flow(name="resume-project", description="Resume a project on hold (project manager).")
def resume_project(project: str = "") -> Any:
    """Resume a project; the run waits for a form with the reason and your password.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("resume_project", project)


@flow(name="propose-change", description="Propose a change request (a draft).")
def propose_change(project: str = "") -> Any:
    """Propose a change request; the run waits for a form with the title, reason, impacts,
    the target version (a git revision) and your password.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("propose_change", project)


@flow(name="submit-change", description="Submit a draft change request to its approvers.")
def submit_change(project: str = "") -> Any:
    """Submit a change request; the run waits for a form listing the drafts.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("submit_change", project)


@flow(name="sign-change", description="Approve or reject a change request (e-signature).")
def sign_change(project: str = "") -> Any:
    """Sign a change request; the run waits for a form listing the submitted requests, with
    role, decision and meaning to choose and your password (every time).

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("sign_change", project)


@flow(name="withdraw-change", description="Withdraw a draft or submitted change request.")
def withdraw_change(project: str = "") -> Any:
    """Withdraw a change request; the run waits for a form listing the open requests.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("withdraw_change", project)


@flow(
    name="release-hold",
    description="Release a quality hold with a signature of the quality role.",
)
def release_hold(project: str = "") -> Any:
    """Release a quality hold; the run waits for a form with the hold, the meaning of your
    signature, the reason and your password.

    Args:
        project: Project code, e.g. DEMO-001; leave empty to choose from a list in the next form.
    """
    return run_action("release_hold", project)


ACTION_FLOWS = [
    start_project,
    submit_deliverable,
    confirm_check,
    close_condition,
    accept_condition,
    hold_project,
    resume_project,
    propose_change,
    submit_change,
    sign_change,
    withdraw_change,
    release_hold,
]
