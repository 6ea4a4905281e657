"""Gate-review flow runs: create one per open review, find the waiting ones, refresh them.

All functions take a synchronous Prefect client (``prefect.get_client(sync_client=True)``).
Creation is idempotent (``idempotency_key`` = project, gate, review, resume epoch), so the
post-commit hook and the reconcile flow can both call :func:`ensure_gate_runs` freely.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from .. import service
from ..domain.records import ProjectState
from . import naming
from .forms import refresh_input_for
from .state import resume_epoch

log = logging.getLogger("cdmo_workflow.orchestration")

_deployment_ids: dict[tuple[str, str], UUID] = {}
MAX_ATTEMPTS = 5


def deployment_id(client: Any, name: str = naming.GATE_REVIEW_DEPLOYMENT) -> UUID:
    key = (str(client.api_url), name)
    if key not in _deployment_ids:
        _deployment_ids[key] = client.read_deployment_by_name(name).id
    return _deployment_ids[key]


def ensure_gate_runs(ctx: Any, client: Any, codes: list[str] | None = None) -> list[dict[str, Any]]:
    """Make sure every open review of every active project (or of ``codes``) has a run.

    Returns one entry per open review: ``{project, gate, review, flow_run_id, created}``.
    """
    if codes is None:
        codes = [p["code"] for p in service.list_projects(ctx, ["active"]) if p.get("open_gates")]
    out: list[dict[str, Any]] = []
    dep = None
    for code in codes:
        project = service.load_project(ctx, code)
        if project.state != ProjectState.ACTIVE or not project.open_reviews():
            continue
        if dep is None:
            dep = deployment_id(client)
        epoch = resume_epoch(ctx, code)
        for review in project.open_reviews():
            gname = project.snapshot.gates[review.gate].name
            for attempt in range(MAX_ATTEMPTS):
                key = naming.gate_run_key(code, review.gate, review.number, epoch, attempt)
                run = client.create_flow_run_from_deployment(
                    dep,
                    parameters={"project": code, "gate": review.gate, "review": review.number},
                    name=naming.run_name(code, gname),
                    tags=[
                        naming.project_tag(code),
                        naming.customer_tag(project.customer),
                        naming.gate_tag(review.gate),
                    ],
                    idempotency_key=key,
                )
                state = run.state
                if state is not None and state.is_final():
                    # an earlier run of this review ended without a decision (crash, cancel,
                    # or it finished while the database said otherwise): start a fresh one
                    log.info("gate run %s for %s is %s; creating another", run.id, key, state)
                    continue
                out.append(
                    {
                        "project": code,
                        "gate": review.gate,
                        "review": review.number,
                        "flow_run_id": str(run.id),
                        "state": state.name if state else None,
                    }
                )
                break
    return out


def gate_runs(
    client: Any, code: str, gate: str | None = None, *, waiting_only: bool = True
) -> list[Any]:
    """Gate-review runs of a project (optionally one gate), waiting ones only by default."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    tags = [naming.project_tag(code)] + ([naming.gate_tag(gate)] if gate else [])
    flt = FlowRunFilter(tags=FlowRunFilterTags(all_=tags))
    if waiting_only:
        flt.state = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
    dep_name = naming.GATE_REVIEW_DEPLOYMENT.split("/", 1)[1]
    return list(
        client.read_flow_runs(
            flow_run_filter=flt,
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[dep_name])),
            limit=200,
        )
    )


def refresh_waiting(
    client: Any, code: str, gates: set[str] | None = None, exclude: UUID | str | None = None
) -> list[str]:
    """Resume the project's waiting gate runs with a refresh input: they re-read the database
    and wait again with a fresh description, or finish. Returns the ids resumed."""
    resumed: list[str] = []
    for run in gate_runs(client, code):
        if exclude is not None and str(run.id) == str(exclude):
            continue
        if gates is not None and run.parameters.get("gate") not in gates:
            continue
        try:
            response = client.resume_flow_run(run.id, run_input=refresh_input_for(client, run))
        except Exception as exc:  # not paused any more, gone, API hiccup: it re-reads anyway
            log.info("could not refresh gate run %s: %s", run.id, exc)
            continue
        if getattr(response, "status", None) is not None and response.status.value != "ACCEPT":
            log.info("refresh of gate run %s not accepted: %s", run.id, response.details)
            continue
        resumed.append(str(run.id))
    return resumed
