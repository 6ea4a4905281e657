"""Body of the action flows: one service call, with an idempotency key from the flow run id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import service
from .gate_review import _logger, flow_context, relay_now

ACTIONS: dict[str, Callable[..., service.CommandResult]] = {
    "start_project": service.start_project,
    "submit_deliverable": service.submit_deliverable,
    "confirm_check": service.confirm_check,
    "close_condition": service.close_condition,
    "hold_project": service.hold_project,
    "resume_project": service.resume_project,
}


class ActionRefused(Exception):
    """The engine refused the command (already audited); the run fails with the reason."""


def run_action(name: str, **params: Any) -> dict[str, Any]:
    from prefect.context import FlowRunContext

    frc = FlowRunContext.get()
    run_id = frc.flow_run.id if frc is not None and frc.flow_run is not None else None
    ctx = flow_context(run_id)
    key = f"flow-run:{run_id}" if run_id else None
    logger = _logger()
    try:
        result = ACTIONS[name](ctx, idempotency_key=key, **params)
    except service.Refused as refused:
        raise ActionRefused(f"{refused} [rule: {refused.rule}]") from None
    if result.replayed:
        logger.info("%s was already applied by this run (idempotency key %s)", name, key)
    else:
        for e in result.events:
            logger.info("%s: %s %s", e.name, e.phase or "", e.gate or "")
        relay_now(ctx)
    payload: dict[str, Any] = result.to_dict()
    return payload
