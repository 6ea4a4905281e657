"""Gate-review flow runs: create one per open review, find the waiting ones, refresh them.

All functions take a synchronous Prefect client (``prefect.get_client(sync_client=True)``).
Creation is idempotent (``idempotency_key`` = project, gate, review, resume epoch), so the
post-commit hook and the reconcile flow can both call :func:`ensure_gate_runs` freely.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from .. import service
from ..domain.records import ProjectState
from . import naming
from .forms import refresh_input_for
from .reads import last_seqs, live_reviews, project_states, resume_epoch, resume_epochs
from .run_tags import gate_run_tags

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
                    tags=gate_run_tags(ctx, project, review.gate),
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
            response = resume_with_retry(client, run.id, refresh_input_for(client, run))
        except Exception as exc:  # not paused any more, gone, API hiccup: it re-reads anyway
            log.info("could not refresh gate run %s: %s", run.id, exc)
            continue
        if getattr(response, "status", None) is not None and response.status.value != "ACCEPT":
            log.info("refresh of gate run %s not accepted: %s", run.id, response.details)
            continue
        resumed.append(str(run.id))
    return resumed


# ---------------------------------------------------------------------------- reconcile

PAGE = 200  # the Prefect server's largest page
LIVE_TYPES = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING")
ENDED_TYPES = ("CRASHED", "FAILED")


@dataclass
class ReconcileStats:
    """What one reconcile pass found and did (returned by the housekeeping flow)."""

    open_reviews: int = 0
    gate_runs: int = 0
    waiting: int = 0
    created: int = 0
    crashed_stuck: int = 0
    replaced: int = 0
    refreshed: int = 0
    finished: int = 0
    duplicates_cancelled: int = 0
    inputs_deleted: int = 0
    salvaged_signatures: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def read_gate_runs(client: Any, types: tuple[str, ...], *, ended_after: Any = None) -> list[Any]:
    """Every gate-review run in one of ``types`` states, read a page of 200 at a time."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    flt = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType(t) for t in types]))
    )
    if ended_after is not None:
        flt.end_time = FlowRunFilterEndTime(after_=ended_after)
    dep = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id(client)]))
    out: list[Any] = []
    offset = 0
    while True:
        page = client.read_flow_runs(
            flow_run_filter=flt,
            deployment_filter=dep,
            sort=FlowRunSort.ID_DESC,
            limit=PAGE,
            offset=offset,
        )
        out.extend(page)
        if len(page) < PAGE:
            return out
        offset += PAGE


def _review_key(run: Any) -> tuple[str, str, int] | None:
    p = run.parameters or {}
    try:
        return (str(p["project"]), str(p["gate"]), int(p["review"]))
    except (KeyError, TypeError, ValueError):
        return None


def pause_seq(run: Any) -> int | None:
    """The audit seq a waiting run's form was built from (its pause key
    ``<gate>-<review>-<seq>[-n]``), or None when the key is not ours."""
    key = _review_key(run)
    details = run.state.state_details if run.state is not None else None
    pause_key = str(getattr(details, "pause_key", None) or "")
    if key is None or not pause_key.startswith(f"{key[1]}-{key[2]}-"):
        return None
    rest = pause_key[len(f"{key[1]}-{key[2]}-") :]
    try:
        return int(rest.split("-", 1)[0])
    except ValueError:
        return None


def _age_seconds(run: Any, now: datetime) -> float:
    at = run.state.timestamp if run.state is not None else None
    if at is None:
        return 0.0
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return float((now - at).total_seconds())


def clear_inputs(
    ctx: Any, client: Any, run: Any, live: bool, stats: ReconcileStats | None = None
) -> int:
    """Delete every run input a dead run left in Prefect (the sign-off form's answer holds a
    password). An answer the run never processed is applied first, with the idempotency key
    the run itself would have used, so a signature is neither lost nor recorded twice."""
    from .signoff import claim_input, input_keys, process_input

    key = _review_key(run)
    response = input_keys()[1]
    items = client.filter_flow_run_input(
        flow_run_id=run.id, key_prefix="", limit=1000, exclude_keys=set()
    )
    responses = sorted(
        (i for i in items if i.key.endswith(response)),
        key=lambda i: (i.created is None, i.created, i.key),
    )
    for item in responses:
        try:
            mine = claim_input(client, run.id, item.key)
        except Exception:  # left for the next pass: never applied unless deleted here
            continue
        if mine and live and key is not None:
            try:
                _, sig = process_input(ctx, key[0], key[1], item.value, f"{run.id}:{item.key}")
            except Exception as exc:  # never lose the pass over one bad input
                log.warning("could not apply the input left in run %s: %s", run.id, exc)
                sig = None
            if sig and stats is not None:
                stats.salvaged_signatures += 1
    deleted = len(responses)
    for item in items:
        if not item.key.endswith(response):
            with contextlib.suppress(Exception):
                client.delete_flow_run_input(flow_run_id=run.id, key=item.key)
                deleted += 1
    if stats is not None:
        stats.inputs_deleted += deleted
    return deleted


def _set_state(client: Any, run: Any, state: Any) -> bool:
    try:
        client.set_flow_run_state(run.id, state, force=True)
        return True
    except Exception as exc:
        log.info("could not set gate run %s to %s: %s", run.id, state.type, exc)
        return False


def create_gate_run(ctx: Any, client: Any, review: Any, epoch: int, after: Any = None) -> Any:
    """Create the run of one open review: idempotency key per (review, epoch), chained after
    the id of the run it replaces, so concurrent reconcilers create it once."""
    project = service.load_project(ctx, review.project)
    gname = project.snapshot.gates[review.gate].name
    base = naming.gate_run_key(review.project, review.gate, review.review, epoch)
    key = base if after is None else f"{base}:after:{after}"
    for _ in range(20):
        run = client.create_flow_run_from_deployment(
            deployment_id(client),
            parameters={"project": review.project, "gate": review.gate, "review": review.review},
            name=naming.run_name(review.project, gname),
            tags=gate_run_tags(ctx, project, review.gate),
            idempotency_key=key,
        )
        if run.state is None or not run.state.is_final():
            return run
        key = f"{base}:after:{run.id}"  # that one ended without a decision: chain a new one
    raise RuntimeError(f"could not create a live gate run for {base}")


def reconcile_runs(
    ctx: Any,
    client: Any,
    *,
    stuck_after: float | None = None,
    ended_window: timedelta = timedelta(hours=1),
) -> ReconcileStats:
    """One pass: compare every gate-review run in Prefect with the database and heal.

    * an open review without a live run gets one (commands made while Prefect was down);
    * a run Pending or Running longer than ``stuck_after`` seconds (its worker is gone) is
      marked Crashed, its inputs applied and deleted, and it is replaced;
    * a Crashed or Failed run's leftover inputs are applied and deleted;
    * a waiting run whose review was decided or voided is finished with a message;
    * a waiting run whose form predates the project's last audit row is refreshed;
    * a second live run of one review is cancelled.

    Prefect is read in pages of 200 runs (not one call per gate) and the database in four
    grouped queries, so a pass over 1,000 open gates costs a few seconds.
    """
    from prefect.states import Cancelled, Completed, Crashed

    t0 = time.monotonic()
    stuck_after = ctx.settings.stuck_after_seconds if stuck_after is None else stuck_after
    stats = ReconcileStats()
    now = datetime.now(UTC)
    live = live_reviews(ctx)
    stats.open_reviews = len(live)
    seqs = last_seqs(ctx)
    epochs = resume_epochs(ctx)
    runs = read_gate_runs(client, LIVE_TYPES)
    stats.gate_runs = len(runs)
    by_review: dict[tuple[str, str, int], list[Any]] = {}
    for run in runs:
        key = _review_key(run)
        if key is not None:
            by_review.setdefault(key, []).append(run)

    not_live = {k[0] for k in by_review if k not in live}
    states = project_states(ctx, not_live)
    replaced_after: dict[tuple[str, str, int], Any] = {}
    for key, group in by_review.items():
        is_live = key in live
        keep: list[Any] = []
        for run in group:
            kind = run.state.type.value
            if kind in ("PENDING", "RUNNING") and _age_seconds(run, now) > stuck_after:
                msg = (
                    f"cdmo reconcile: {kind.lower()} for {int(_age_seconds(run, now))} s "
                    f"(limit {int(stuck_after)} s); its worker is gone, a new run replaces it"
                )
                if _set_state(client, run, Crashed(message=msg)):
                    stats.crashed_stuck += 1
                    clear_inputs(ctx, client, run, is_live, stats)
                    replaced_after[key] = run.id
                continue
            keep.append(run)
        if not is_live:
            for run in keep:
                if run.state.type.value != "PAUSED":
                    continue  # it is running: it re-reads the database and finishes itself
                pstate = states.get(key[0])
                if pstate is None:
                    msg, end = f"project {key[0]} is not in this database", Cancelled
                elif pstate != "active":
                    msg, end = f"project {key[0]} is {pstate}: nothing to sign", Cancelled
                else:
                    msg = f"gate {key[1]} review {key[2]} of {key[0]} is no longer open"
                    end = Completed
                if _set_state(client, run, end(message=f"cdmo reconcile: {msg}")):
                    stats.finished += 1
                    clear_inputs(ctx, client, run, False, stats)
            continue
        # one live run per review: keep a waiting one if there is one, cancel the others
        keep.sort(key=lambda r: (r.state.type.value != "PAUSED", str(r.id)))
        for extra in keep[1:]:
            if _set_state(client, extra, Cancelled(message="cdmo reconcile: duplicate run")):
                stats.duplicates_cancelled += 1
                clear_inputs(ctx, client, extra, True, stats)
        if keep:
            run = keep[0]
            if run.state.type.value == "PAUSED":
                stats.waiting += 1
                seq = pause_seq(run)
                stale = seq is not None and seq != seqs.get(key[0], 0)
                if stale and _refresh(client, run):
                    stats.refreshed += 1
            by_review[key] = keep[:1]
        else:
            by_review[key] = []

    # runs that ended without a decision (the heartbeat automation crashed them, or they
    # failed): apply and delete what they left behind
    for run in read_gate_runs(client, ENDED_TYPES, ended_after=now - ended_window):
        key = _review_key(run)
        try:
            clear_inputs(ctx, client, run, key in live, stats)
        except Exception as exc:
            stats.errors.append(f"inputs of {run.id}: {exc}")

    for key, review in live.items():
        if by_review.get(key):
            continue
        try:
            create_gate_run(ctx, client, review, epochs.get(key[0], 0), replaced_after.get(key))
            stats.created += 1
            if key in replaced_after:
                stats.replaced += 1
        except Exception as exc:
            stats.errors.append(f"{key}: {exc}")
            log.warning("could not create the gate run of %s: %s", key, exc)
    stats.seconds = round(time.monotonic() - t0, 3)
    return stats


def _refresh(client: Any, run: Any) -> bool:
    try:
        response = resume_with_retry(client, run.id, refresh_input_for(client, run))
    except Exception as exc:
        log.info("could not refresh gate run %s: %s", run.id, exc)
        return False
    status = getattr(response, "status", None)
    return status is None or status.value == "ACCEPT"


SCHEMA_RACE = "Run input schema not found"


def resume_with_retry(
    client: Any, run_id: Any, run_input: dict[str, Any], attempts: int = 8, delay: float = 0.25
) -> Any:
    """``resume_flow_run`` that absorbs the schema race.

    Prefect 3.9 marks a run Paused first and saves its form's schema after, and the server
    deletes any input under the new pause key's keyset at the Paused transition (so the
    schema cannot be saved before). A resume in between is refused with "Run input schema
    not found" and stores nothing; it is retried here after a short wait. Other refusals
    (not paused, invalid input) are returned at once."""
    response = None
    for i in range(attempts):
        response = client.resume_flow_run(run_id, run_input=run_input)
        status = getattr(response, "status", None)
        details = str(getattr(response, "details", "") or "")
        if status is None or status.value == "ACCEPT" or SCHEMA_RACE not in details:
            return response
        time.sleep(delay * (i + 1))
    return response
