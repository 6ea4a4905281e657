"""Bodies of the scheduled flows: reconcile gate runs, relay notifications, watch SLAs."""

from __future__ import annotations

from typing import Any

from .. import service


def _stats(obj: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return {"result": str(obj)}


def reconcile() -> dict[str, Any]:
    """Create any missing gate-review run; publish the portfolio artifact."""
    from prefect import get_client

    from .publish import publish_portfolio
    from .runs import ensure_gate_runs

    ctx = service.open_context()
    with get_client(sync_client=True) as client:
        runs = ensure_gate_runs(ctx, client)
    rows = publish_portfolio(ctx)
    return {"open_reviews": len(runs), "portfolio_rows": rows}


def relay() -> dict[str, Any]:
    from ..notify.relay import relay_once

    ctx = service.open_context()
    stats = relay_once(
        ctx.db, max_attempts=ctx.settings.relay_max_attempts, ui_url=ctx.settings.ui_url
    )
    return _stats(stats)


def watch() -> dict[str, Any]:
    try:
        from ..notify.watcher import watch_once
    except ImportError:  # the watcher is not built yet in this tree
        return {"skipped": "cdmo_workflow.notify.watcher is not available"}
    ctx = service.open_context()
    stats = watch_once(ctx.db)
    return _stats(stats)
