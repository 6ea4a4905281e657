"""Maintenance deployments: ``housekeeping`` (scheduled, long-lived: reconcile + relay + SLA
watch in one run) and the single-pass ``reconcile-gates``, ``notify-relay``, ``sla-watch``
(unscheduled; run them by hand or from an automation)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from cdmo_workflow.orchestration import maintenance


@flow(
    name="housekeeping",
    description="Every 20 s for 15 min: heal gate runs (missing, lost worker, stale form, "
    "decided), send queued notifications; SLA reminders every 5 min.",
)
def housekeeping(run_for: float = maintenance.HOUSEKEEPING_RUN_SECONDS) -> dict[str, Any]:
    return maintenance.housekeeping(run_for)


@flow(
    name="reconcile-gates",
    description="One pass: every open gate review has one waiting gate-review run with a "
    "current form; runs of lost workers are replaced; refreshes the portfolio artifact.",
)
def reconcile_gates() -> dict[str, Any]:
    return maintenance.reconcile()


@flow(name="notify-relay", description="Send queued notifications (outbox), with retries.")
def notify_relay() -> dict[str, Any]:
    return maintenance.relay()


@flow(name="sla-watch", description="Queue SLA reminders and escalations that are due.")
def sla_watch() -> dict[str, Any]:
    return maintenance.watch()
