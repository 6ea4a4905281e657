"""One sign-off form input applied through the service: shared by the gate run itself and the
reconcile that salvages an input a dead run left behind (same idempotency key, so once)."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from .. import service
from .forms import SignOffInput, is_refresh

log = logging.getLogger("cdmo_workflow.orchestration")


def _logger() -> Any:
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:
        return log


def process_input(
    ctx: Any, project: str, gate: str, raw: Any, idempotency_key: str
) -> tuple[str | None, dict[str, Any] | None]:
    """Apply one form input. Returns (note for the next form, accepted signature summary)."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        inp = SignOffInput.model_validate(data or {})
    except (ValidationError, ValueError) as exc:
        return f"the form could not be read ({exc.__class__.__name__}); please fill it again", None
    if is_refresh(inp):
        return None, None
    password = inp.password.get_secret_value()
    if not inp.user.strip() or not password:
        return "user id and password are both required to sign", None
    try:
        result = service.sign_gate(
            ctx,
            project,
            gate,
            inp.user.strip(),
            password,
            inp.role,
            inp.decision,
            inp.meaning,
            comment=(inp.comment or "").strip() or None,
            conditions=[c for c in inp.conditions if c and c.strip()],
            idempotency_key=idempotency_key,
        )
    except service.Refused as refused:
        # Audited; the next form's first line and state message show it (from the audit trail).
        reason = str(refused)
        tag = f"[rule: {refused.rule}]"
        _logger().warning(
            "sign-off by %s refused: %s",
            inp.user.strip(),
            reason if tag in reason else f"{reason} {tag}",
        )
        return None, None
    return None, {
        "user": inp.user.strip(),
        "role": inp.role,
        "decision": inp.decision,
        "events": [e.name for e in result.events],
    }
