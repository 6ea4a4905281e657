"""Scheduled deployments: gate-run reconciliation, the notification relay, the SLA watcher."""

from __future__ import annotations

from typing import Any

from prefect import flow

from cdmo_workflow.orchestration import maintenance


@flow(
    name="reconcile-gates",
    description="Every open gate review has a waiting gate-review run (covers commands made "
    "while Prefect was down); refreshes the portfolio artifact.",
)
def reconcile_gates() -> dict[str, Any]:
    return maintenance.reconcile()


@flow(name="notify-relay", description="Send queued notifications (outbox), with retries.")
def notify_relay() -> dict[str, Any]:
    return maintenance.relay()


@flow(name="sla-watch", description="Queue SLA reminders and escalations that are due.")
def sla_watch() -> dict[str, Any]:
    return maintenance.watch()
