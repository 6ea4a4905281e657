"""Deployment ``gate-review``: one run per open gate review; its Resume form is the sign-off.

Created by the post-commit hook when a gate opens (and by the reconcile flow), named
``<PROJECT> · <gate name>`` and tagged ``project:<code>``, ``customer:<name>``,
``gate:<id>``. The logic lives in ``cdmo_workflow.orchestration.gate_review``.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from pydantic import Field

from cdmo_workflow.orchestration.gate_review import review_gate


@flow(
    name="gate-review",
    description="Waits (without a process) for the sign-offs of one gate review; every "
    "resume is a sign-off, re-authenticated and checked by the engine.",
    validate_parameters=True,
)
def gate_review(
    project: Annotated[str, Field(title="Project code", description="e.g. DEMO-001")],
    gate: Annotated[str, Field(title="Gate id", description="e.g. scoping-go")],
    review: Annotated[int, Field(title="Review number", description="1 for the first review")],
) -> dict[str, Any]:
    return review_gate(project, gate, review)
