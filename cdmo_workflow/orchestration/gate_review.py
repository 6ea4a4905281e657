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
password stays in Prefect's database; the deletion is also the claim: an input that the
event subscriber (``subscriber.py``) deleted first is its to apply, and the run just reads
the database again. Invalid input never fails the run: the refusal is shown above the
next form.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

from .. import service
from ..domain.errors import NotFound
from . import naming
from .forms import (
    build_form,
    describe,
    refresh_input,
    refusal_text,
)
from .reads import form_facts, last_seq, review_is_live
from .signoff import _logger, claim_input, pending_inputs, process_input

log = logging.getLogger("cdmo_workflow.orchestration")

MAX_PASSES = 50  # a run handles at most this many inputs before waiting again (safety net)


def form_schema(form: Any) -> dict[str, Any]:
    """The JSON schema Prefect stores for ``form`` (what the server validates against)."""
    from prefect._internal.pydantic.v2_schema import create_v2_schema

    return dict(create_v2_schema(form.__name__, model_base=form))


def suspend_with_message(
    client: Any, run_id: UUID, form: Any, key: str, message: str
) -> tuple[str, Any]:
    """``suspend_flow_run`` with a state message (the refusal, when there is one).

    The same steps as Prefect's ``suspend_flow_run`` (propose Suspended, then store the
    form's schema and description: the server deletes a keyset's inputs when the run enters
    Paused, so they cannot be stored first), plus the state ``message`` the UI shows beside
    the state, and a lenient load: when the key had fired already (re-execution) it returns
    the response's input key and the stored input as a plain dict (a form with required
    fields cannot be built empty), or None when there is none. Raises ``Pause`` when the run
    is suspended.
    """
    from prefect._flow_run_suspension import mark_flow_run_suspension_requested
    from prefect.exceptions import Abort, Pause
    from prefect.input import keyset_from_paused_state
    from prefect.states import Suspended
    from prefect.utilities.engine import propose_state_sync

    proposed: Any = Suspended(timeout_seconds=None, pause_key=key, message=message)
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = dict(keyset)
    try:
        state = propose_state_sync(client=client, state=proposed, flow_run_id=run_id)
    except Abort as exc:
        raise RuntimeError(f"Flow run cannot be suspended: {exc}") from None
    if state.is_running():
        try:
            raw = client.read_flow_run_input(flow_run_id=run_id, key=keyset["response"])
        except Exception:
            return keyset["response"], None
        return keyset["response"], json.loads(raw) if raw else None
    if not state.is_paused():
        raise RuntimeError(f"Flow run cannot be suspended; the API answered {state}")
    # After the state: the server deletes a keyset's inputs when the run enters Paused.
    description = getattr(form, "_description", None)
    stored: list[tuple[str, Any]] = [(keyset["schema"], form_schema(form))]
    if isinstance(description, str) and description:
        stored.append((keyset["description"], description))
    for input_key, value in stored:
        client.create_flow_run_input(flow_run_id=run_id, key=input_key, value=json.dumps(value))
    mark_flow_run_suspension_requested(run_id, state)
    raise Pause(state=state)


_links: dict[tuple[str, str], str] = {}


def action_links(ctx: Any, client: Any, code: str) -> dict[str, str]:
    """UI links for a gate run's description: the project artifact and the action deployments.

    Paths relative to the run page (``../../artifacts/...`` from ``<ui>/runs/flow-run/<id>``,
    so they work under whichever UI base Prefect serves) unless ``CDMO_UI_URL`` is set; a
    deployment that is not served here is left out.
    """
    base = (ctx.settings.ui_url or "").rstrip("/") or "../.."
    out = {"artifact": f"{base}/artifacts/key/{naming.artifact_key(code)}"}
    for name in naming.ACTION_DEPLOYMENTS:
        cache = (str(client.api_url), name)
        if cache not in _links:
            try:
                dep = client.read_deployment_by_name(f"{name}/{name}")
            except Exception:
                continue
            _links[cache] = f"/deployments/deployment/{dep.id}"
        out[name] = base + _links[cache]
    return out


def flow_context(run_id: UUID | None) -> Any:
    """A service context whose commits update Prefect, except for this very run."""
    from .hooks import PrefectHook
    from .people import install as install_people

    ctx = service.open_context()
    ctx.after_commit.append(PrefectHook(ctx, exclude_run_id=run_id, trigger_relay=False))
    install_people(ctx, None)  # "waiting for me" run tags and tasks-<user> artifacts
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
                facts = form_facts(ctx, project, gate)
            except NotFound:
                logger.warning("project %s is not in this database: nothing to review", project)
                return {"project": project, "gate": gate, "review": review, "missing": True}
            proj = facts.project
            if not review_is_live(proj, gate, review):
                return _finish(ctx, proj, gate, review, accepted, logger)
            responses, used = pending_inputs(client, run_id)
            if responses:
                key, raw = responses[0]
                if not claim_input(client, run_id, key):  # the subscriber took it
                    continue
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
            seq = facts.seq
            base = f"{gate}-{review}-{seq}"
            n = 0
            while (f"{base}-{n}" if n else base) in used:
                n += 1
            key = f"{base}-{n}" if n else base
            r = proj.open_review(gate)
            assert r is not None
            attempt = facts.attempt
            refusal = refusal_text(attempt, note, seq)
            links = action_links(ctx, client, project)
            text = describe(proj, r, facts.names, attempt, note, links=links, seq=seq)
            form = build_form(proj, r, text)
            message = f"REFUSED: {refusal}" if refusal else f"Waiting for sign-off of {r.gate}"
            try:
                input_key, raw_value = suspend_with_message(
                    client, run_id, form, key, message[:500]
                )
            except Pause:
                # The database may have changed between our read and the suspend (a CLI
                # sign-off whose refresh found us still running): wake ourselves up.
                if last_seq(ctx, project) != seq:
                    client.resume_flow_run(run_id, run_input=refresh_input(form_schema(form)))
                raise
            # The key had fired already and its input was not in the store listing (race):
            # process what the store held if this run owns it (it deleted it).
            if raw_value is None or not claim_input(client, run_id, input_key):
                note = None
                continue
            note, sig = process_input(ctx, project, gate, raw_value, f"{run_id}:{input_key}")
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
