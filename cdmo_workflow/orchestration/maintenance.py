"""Bodies of the maintenance flows: reconcile gate runs, relay notifications, watch SLAs,
and ``housekeeping``, which does all three in one long-lived run.

Why one long-lived run (docs/orchestration.md, "Housekeeping"): three deployments on minute
schedules made about 3,200 runs a day and pushed the gate runs off the first page of the
Runs list. The housekeeping run loops (a pass every ``CDMO_HOUSEKEEPING_EVERY`` seconds,
20 by default) for the length of its schedule interval, so a team sees 96 housekeeping
runs a day, tagged ``cdmo-housekeeping``. It sends heartbeats like any run: if its worker
dies, the zombie automation crashes it and the deployment's trigger starts another one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, is_dataclass
from typing import Any

from .. import service

log = logging.getLogger("cdmo_workflow.orchestration")

HOUSEKEEPING_RUN_SECONDS = 15 * 60  # the schedule interval of the housekeeping deployment
WATCH_EVERY_SECONDS = 300
PORTFOLIO_EVERY_SECONDS = 300


def _stats(obj: Any) -> dict[str, Any]:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return {"result": str(obj)}


def _hooked_context() -> Any:
    """Signatures salvaged from dead runs update Prefect like any other command."""
    from .hooks import PrefectHook

    ctx = service.open_context()
    ctx.after_commit.append(PrefectHook(ctx, trigger_relay=False, artifacts=True))
    return ctx


def reconcile(ctx: Any | None = None, *, portfolio: bool = True) -> dict[str, Any]:
    """One reconcile pass (see ``runs.reconcile_runs``); publish the portfolio artifact."""
    from prefect import get_client

    from .publish import publish_portfolio
    from .runs import reconcile_runs

    ctx = ctx or _hooked_context()
    with get_client(sync_client=True) as client:
        stats = reconcile_runs(ctx, client)
    out = _stats(stats)
    if portfolio:
        out["portfolio_rows"] = publish_portfolio(ctx)
    return out


def relay(ctx: Any | None = None) -> dict[str, Any]:
    from ..notify.relay import relay_once

    ctx = ctx or service.open_context()
    stats = relay_once(
        ctx.db, max_attempts=ctx.settings.relay_max_attempts, ui_url=ctx.settings.ui_url
    )
    return _stats(stats)


def watch(ctx: Any | None = None) -> dict[str, Any]:
    try:
        from ..notify.watcher import watch_once
    except ImportError:  # the watcher is not built yet in this tree
        return {"skipped": "cdmo_workflow.notify.watcher is not available"}
    ctx = ctx or service.open_context()
    stats = watch_once(ctx.db)
    return _stats(stats)


def _alive() -> None:
    """A heartbeat of this run on every pass, whatever PREFECT_FLOWS_HEARTBEAT_FREQUENCY the
    worker has (Prefect's default 180 s is longer than the zombie automation's 75 s)."""
    try:
        from prefect.context import FlowRunContext
        from prefect.events import emit_event

        frc = FlowRunContext.get()
        if frc is None or frc.flow_run is None:
            return
        emit_event(
            event="prefect.flow-run.heartbeat",
            resource={"prefect.resource.id": f"prefect.flow-run.{frc.flow_run.id}"},
            related=[
                {"prefect.resource.id": f"prefect.tag.{t}", "prefect.resource.role": "tag"}
                for t in frc.flow_run.tags
            ],
        )
    except Exception:  # never let the heartbeat stop the housekeeping
        log.debug("could not emit the housekeeping heartbeat", exc_info=True)


def housekeeping(run_for: float = HOUSEKEEPING_RUN_SECONDS) -> dict[str, Any]:
    """Reconcile and relay every ``CDMO_HOUSEKEEPING_EVERY`` s, watch SLAs every 5 min,
    for ``run_for`` seconds; then finish (the schedule starts the next run)."""
    from .serving import ensure_automations

    ctx = _hooked_context()
    plain = service.open_context()
    every = max(1.0, ctx.settings.housekeeping_every_seconds)
    start = time.monotonic()
    passes = 0
    last: dict[str, Any] = {}
    last_watch = last_portfolio = -1e9
    try:
        ensure_automations()
    except Exception as exc:  # an old server without automations: reconcile still heals
        log.warning("could not ensure the zombie automation: %s", exc)
    while True:
        t = time.monotonic()
        try:
            publish = t - last_portfolio >= PORTFOLIO_EVERY_SECONDS
            last = reconcile(ctx, portfolio=publish)
            if publish:
                last_portfolio = t
            if any(last.get(k) for k in ("created", "crashed_stuck", "refreshed", "finished")):
                log.info("reconcile: %s", {k: v for k, v in last.items() if v})
        except Exception as exc:  # one bad pass (Prefect restarting) never ends the loop
            log.warning("reconcile pass failed: %s", exc)
        try:
            relay(plain)
        except Exception as exc:
            log.warning("relay pass failed: %s", exc)
        if t - last_watch >= WATCH_EVERY_SECONDS:
            last_watch = t
            try:
                watch(plain)
            except Exception as exc:
                log.warning("SLA watch failed: %s", exc)
        passes += 1
        _alive()
        if time.monotonic() - start + every > run_for:
            return {"passes": passes, "last_reconcile": last}
        time.sleep(max(0.0, every - (time.monotonic() - t)))
