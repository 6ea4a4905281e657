"""Names shared by flows, hooks and tests: deployments, tags, run names, keys (no Prefect)."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

GATE_REVIEW_FLOW = "gate-review"
GATE_REVIEW_DEPLOYMENT = f"{GATE_REVIEW_FLOW}/gate-review"
RECONCILE_DEPLOYMENT = "reconcile-gates/reconcile-gates"
RELAY_DEPLOYMENT = "notify-relay/notify-relay"
WATCH_DEPLOYMENT = "sla-watch/sla-watch"
PORTFOLIO_KEY = "portfolio"
EVENT_PREFIX = "cdmo."

ACTION_DEPLOYMENTS = (
    "start-project",
    "submit-deliverable",
    "confirm-check",
    "close-condition",
    "accept-condition",
    "hold-project",
    "resume-project",
    "release-hold",
)


def project_tag(code: str) -> str:
    return f"project:{code}"


def customer_tag(customer: str) -> str:
    return f"customer:{customer}"


def gate_tag(gate: str) -> str:
    return f"gate:{gate}"


def run_name(code: str, gate_name: str) -> str:
    """``P-001 · Go to process development``: how a waiting gate reads in the runs list."""
    return f"{code} · {gate_name}"


def artifact_key(code: str) -> str:
    """``project-<code>``, lowercased, only ``[a-z0-9-]`` (Prefect's artifact key rule)."""
    key = re.sub(r"[^a-z0-9-]+", "-", f"project-{code}".lower())
    return re.sub(r"-{2,}", "-", key).strip("-")


def gate_run_key(code: str, gate: str, review: int, epoch: int = 0, attempt: int = 0) -> str:
    """Idempotency key of the gate-review run of one review.

    ``epoch`` is the audit sequence of the project's last resume: a run that finished while
    the project was on hold is replaced by a new one after the resume. ``attempt`` > 0 only
    when an earlier run of the same review ended without the review being decided (crash).
    """
    key = f"{code}:{gate}:{review}:{epoch}"
    return f"{key}:{attempt}" if attempt else key


def event_name(domain_event: str) -> str:
    return EVENT_PREFIX + domain_event


def project_resource(code: str) -> str:
    return f"cdmo.project.{code}"


def gate_resource(code: str, gate: str) -> str:
    return f"cdmo.gate.{code}.{gate}"


def ui_time(value: Any) -> str:
    """A UTC time as the UI shows it: ``2026-11-25 12:52:17 UTC`` (seconds, no fraction).

    Full ISO timestamps wrapped over three lines in the resume dialog and in artifact tables.
    """
    from ..domain.records import parse_time

    if not value:
        return ""
    at = parse_time(value) if isinstance(value, str) else value
    if at is None:
        return str(value)
    return str(at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
