"""The gate-review loop: one flow run per open gate review, waiting without a process.

Each pass reads the database. If the review is no longer open (decided, void, project not
active) the run writes its artifacts and finishes. Otherwise it processes any sign-off input
that arrived and was not processed yet (oldest first), and when none is left it suspends
with a key derived from the database: ``<gate>-<review>-<last audit seq>[-n]``. Every
processed sign-off (accepted or refused) appends an audit row, so the next key is new; the
``-n`` suffix covers inputs that change nothing (a refresh, an empty form).

A resumed run re-executes from the top (Prefect's suspend semantics): it reads the
database again and finds the stored input in the run-input store, so re-execution never
records anything twice (each sign-off also carries an idempotency key derived from the run
id and the input key). The input is deleted from Prefect as soon as it is read, so no
password stays in Prefect's database. Invalid input never fails the run: the refusal is
shown above the next form.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from .. import service
from ..domain.errors import NotFound
from . import naming
from .forms import REFRESH, REFRESH_INPUT, SignOffInput, build_form, describe
from .state import last_attempt, last_seq, review_is_live, user_names

log = logging.getLogger("cdmo_workflow.orchestration")

MAX_PASSES = 50  # a run handles at most this many inputs before waiting again (safety net)


def _logger() -> Any:
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:
        return log


def pending_inputs(client: Any, run_id: UUID) -> tuple[list[tuple[str, str]], set[str]]:
    """(unprocessed responses as (key, json) oldest first, pause keys already used)."""
    items = client.filter_flow_run_input(
        flow_run_id=run_id, key_prefix=naming.SUSPENDED_PREFIX, limit=1000, exclude_keys=set()
    )
    responses: list[tuple[Any, str, str]] = []
    used: set[str] = set()
    for item in items:
        if item.key.endswith("-response"):
            responses.append((item.created, item.key, item.value))
        elif item.key.endswith("-schema"):
            used.add(item.key[len(naming.SUSPENDED_PREFIX) : -len("-schema")])
    responses.sort(key=lambda r: (r[0] is None, r[0], r[1]))
    return [(k, v) for _, k, v in responses], used


def process_input(
    ctx: Any, project: str, gate: str, raw: Any, idempotency_key: str
) -> tuple[str | None, dict[str, Any] | None]:
    """Apply one form input. Returns (note for the next form, accepted signature summary)."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        inp = SignOffInput.model_validate(data or {})
    except (ValidationError, ValueError) as exc:
        return f"the form could not be read ({exc.__class__.__name__}); please fill it again", None
    if inp.action == REFRESH:
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
    except service.Refused:
        return None, None  # audited; the description shows the refusal from the audit trail
    return None, {
        "user": inp.user.strip(),
        "role": inp.role,
        "decision": inp.decision,
        "events": [e.name for e in result.events],
    }


def flow_context(run_id: UUID | None) -> Any:
    """A service context whose commits update Prefect, except for this very run."""
    from .hooks import PrefectHook

    ctx = service.open_context(prefect_hooks=False)
    ctx.after_commit.append(PrefectHook(ctx, exclude_run_id=run_id, trigger_relay=False))
    return ctx


def relay_now(ctx: Any) -> None:
    """Send queued notifications right away (the scheduled relay retries failures)."""
    try:
        from ..notify.relay import relay_once

        relay_once(
            ctx.db,
            max_attempts=ctx.settings.relay_max_attempts,
            ui_url=ctx.settings.ui_url,
        )
    except Exception:  # notifications never break a gate run
        _logger().warning("notification relay failed; the scheduled relay will retry")


def review_gate(project: str, gate: str, review: int) -> dict[str, Any]:
    """Body of the ``gate-review`` flow (must run inside a flow run from a deployment)."""
    from prefect import get_client
    from prefect.context import FlowRunContext
    from prefect.exceptions import Pause
    from prefect.flow_runs import suspend_flow_run

    frc = FlowRunContext.get()
    if frc is None or frc.flow_run is None:
        raise RuntimeError("review_gate must run inside a flow run")
    run_id = frc.flow_run.id
    logger = _logger()
    ctx = flow_context(run_id)
    note: str | None = None
    accepted: list[dict[str, Any]] = []
    with get_client(sync_client=True) as client:
        for _ in range(MAX_PASSES):
            try:
                proj = service.load_project(ctx, project)
            except NotFound:
                logger.warning("project %s is not in this database: nothing to review", project)
                return {"project": project, "gate": gate, "review": review, "missing": True}
            if not review_is_live(proj, gate, review):
                return _finish(ctx, proj, gate, review, accepted, logger)
            responses, used = pending_inputs(client, run_id)
            if responses:
                key, raw = responses[0]
                client.delete_flow_run_input(flow_run_id=run_id, key=key)  # password gone
                note, sig = process_input(ctx, project, gate, raw, f"{run_id}:{key}")
                if sig:
                    accepted.append(sig)
                    logger.info("signature recorded: %s as %s (%s)", *list(sig.values())[:3])
                    relay_now(ctx)
                elif note:
                    logger.info("input not accepted: %s", note)
                else:
                    logger.info("input processed (refresh or refused sign-off)")
                continue
            seq = last_seq(ctx, project)
            base = f"{gate}-{review}-{seq}"
            n = 0
            while (f"{base}-{n}" if n else base) in used:
                n += 1
            key = f"{base}-{n}" if n else base
            r = proj.open_review(gate)
            assert r is not None
            text = describe(proj, r, user_names(ctx), last_attempt(ctx, project, gate), note)
            form = build_form(proj, r, text)
            try:
                value = suspend_flow_run(wait_for_input=form, key=key, timeout=None)
            except Pause:
                # The database may have changed between our read and the suspend (a CLI
                # sign-off whose refresh found us still running): wake ourselves up.
                if last_seq(ctx, project) != seq:
                    client.resume_flow_run(run_id, run_input=dict(REFRESH_INPUT))
                raise
            # The key had fired already and its input was not in the store listing (race):
            # process what suspend returned, then make sure it is deleted.
            with_secret = value.model_dump()
            pw = with_secret.get("password")
            if pw is not None and hasattr(pw, "get_secret_value"):
                with_secret["password"] = pw.get_secret_value()
            with contextlib.suppress(Exception):
                client.delete_flow_run_input(
                    flow_run_id=run_id, key=f"{naming.SUSPENDED_PREFIX}{key}-response"
                )
            note, sig = process_input(ctx, project, gate, with_secret, f"{run_id}:{key}")
            if sig:
                accepted.append(sig)
    raise RuntimeError(f"gate run for {project}/{gate} handled {MAX_PASSES} inputs in one go")


def _finish(
    ctx: Any, proj: Any, gate: str, review: int, accepted: list[dict[str, Any]], logger: Any
) -> dict[str, Any]:
    from .publish import publish_portfolio, publish_project

    rev = next((r for r in proj.reviews if r.gate == gate and r.number == review), None)
    outcome = rev.outcome.value if rev is not None and rev.outcome is not None else None
    state = rev.state.value if rev is not None else "unknown"
    try:
        publish_project(ctx, proj.code)
        publish_portfolio(ctx)
    except Exception:
        logger.warning("could not publish artifacts", exc_info=True)
    logger.info(
        "gate %s review %s of %s is %s (outcome %s, project %s): finishing",
        gate,
        review,
        proj.code,
        state,
        outcome,
        proj.state.value,
    )
    return {
        "project": proj.code,
        "gate": gate,
        "review": review,
        "review_state": state,
        "outcome": outcome,
        "project_state": proj.state.value,
        "signed_in_this_run": accepted,
    }
