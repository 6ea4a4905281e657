"""Prefect glue: sign-off forms, gate-review runs, post-commit hooks, artifacts, events, serving.

Importing this package is cheap: nothing here imports Prefect at module level except the
modules that only flows and ``cdmo up``/``cdmo serve`` load (``gate_review``, ``serving``).
The flows in ``flows/`` are thin: parameters → one service call → artifacts and events.
"""

from __future__ import annotations

from .naming import (
    GATE_REVIEW_DEPLOYMENT,
    artifact_key,
    customer_tag,
    gate_run_key,
    gate_tag,
    project_tag,
    run_name,
)

__all__ = [
    "GATE_REVIEW_DEPLOYMENT",
    "artifact_key",
    "customer_tag",
    "gate_run_key",
    "gate_tag",
    "project_tag",
    "run_name",
]
