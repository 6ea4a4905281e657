"""One sign-off form input applied through the service: shared by the gate run itself, the
event subscriber that applies it the moment Prefect stores it, and the reconcile that
salvages an input a dead run left behind.

Whoever deletes the input from Prefect owns it (the server answers 404 to every later
delete), and each applies it with the same idempotency key (run id and input key), so a
sign-off is processed exactly once whichever path wins."""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

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


def input_keys() -> tuple[str, str, str]:
    """(the prefix of a suspended run's input keys, the response's suffix, the schema's),
    from Prefect's own keyset helpers: ``<state name>-<pause key>-<part>``."""
    from prefect.input import keyset_from_base_key
    from prefect.states import Suspended

    parts = keyset_from_base_key("")
    return f"{(Suspended().name or '').lower()}-", parts["response"], parts["schema"]


def pending_inputs(client: Any, run_id: UUID) -> tuple[list[tuple[str, str]], set[str]]:
    """(unprocessed responses as (key, json) oldest first, pause keys already used)."""
    prefix, response, schema = input_keys()
    items = client.filter_flow_run_input(
        flow_run_id=run_id, key_prefix=prefix, limit=1000, exclude_keys=set()
    )
    responses: list[tuple[Any, str, str]] = []
    used: set[str] = set()
    for item in items:
        if item.key.endswith(response):
            responses.append((item.created, item.key, item.value))
        elif item.key.endswith(schema):
            used.add(item.key[len(prefix) : -len(schema)])
    responses.sort(key=lambda r: (r[0] is None, r[0], r[1]))
    return [(k, v) for _, k, v in responses], used


def claim_input(client: Any, run_id: UUID, key: str) -> bool:
    """Delete the input ``key`` of ``run_id``: True when this call deleted it (and so owns
    it), False when another path had (Prefect answers 404). Other failures propagate: an
    input that could not be deleted is never processed, so no password is left behind."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    try:
        client.delete_flow_run_input(flow_run_id=run_id, key=key)
    except ObjectNotFound:
        return False
    except PrefectHTTPStatusError as err:
        if err.response.status_code == 404:
            return False
        raise
    return True


def parse_input(raw: Any) -> tuple[SignOffInput | None, str | None]:
    """(the sign-off to apply, or None; the note for the next form when it cannot be one).

    A refresh gives (None, None): it only asks the run to re-read the database."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        inp = SignOffInput.model_validate(data or {})
    except (ValidationError, ValueError) as exc:
        return None, f"the form could not be read ({exc.__class__.__name__}); please fill it again"
    if is_refresh(inp):
        return None, None
    if not inp.user.strip() or not inp.password.get_secret_value():
        return None, "user id and password are both required to sign"
    return inp, None


def process_input(
    ctx: Any, project: str, gate: str, raw: Any, idempotency_key: str
) -> tuple[str | None, dict[str, Any] | None]:
    """Apply one form input. Returns (note for the next form, accepted signature summary)."""
    inp, note = parse_input(raw)
    if inp is None:
        return note, None
    return None, apply_input(ctx, project, gate, inp, idempotency_key)


def apply_input(
    ctx: Any,
    project: str,
    gate: str,
    inp: SignOffInput,
    idempotency_key: str,
    logger: Any = None,
) -> dict[str, Any] | None:
    """Sign through the service: the accepted signature's summary, or None when refused
    (logged at WARNING to ``logger``, by default the run's own logger)."""
    password = inp.password.get_secret_value()
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
            on_behalf_of=inp.on_behalf_of.strip() or None,
        )
    except service.Refused as refused:
        # Audited; the next form's first line and state message show it (from the audit trail).
        reason = str(refused)
        tag = f"[rule: {refused.rule}]"
        (logger or _logger()).warning(
            "sign-off by %s refused: %s",
            inp.user.strip(),
            reason if tag in reason else f"{reason} {tag}",
        )
        return None
    return {
        "user": inp.user.strip(),
        "role": inp.role,
        "decision": inp.decision,
        "events": [e.name for e in result.events],
    }
