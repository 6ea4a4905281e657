"""The tags of a gate-review run: project, customer, gate, and who it waits for.

``needs:<role>`` per role still short of its quota and ``waiting-for:<user>`` per person who
could sign now (in person or as a delegate): an operator filters the Runs page on
``waiting-for:<me>``. ``runs.ensure_gate_runs`` tags a new run with :func:`gate_run_tags`;
``people.retag_waiting`` keeps the tags of waiting runs current after each change.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import service
from . import naming

log = logging.getLogger("cdmo_workflow.orchestration")

NEEDS_PREFIX = "needs:"
WAITING_PREFIX = "waiting-for:"


def people_tags(signers: dict[str, list[str]]) -> list[str]:
    """``needs:<role>`` per missing role and ``waiting-for:<user>`` per possible signer."""
    tags = [f"{NEEDS_PREFIX}{role}" for role in signers]
    people = sorted({u for users in signers.values() for u in users})
    return tags + [f"{WAITING_PREFIX}{u}" for u in people]


def gate_run_tags(ctx: Any, project: Any, gate: str) -> list[str]:
    """Every tag of the gate run of ``gate``'s open review: project, customer, gate, and who
    it waits for (one read of the project and its delegations)."""
    base = [
        naming.project_tag(project.code),
        naming.customer_tag(project.customer),
        naming.gate_tag(gate),
    ]
    try:
        signers = service.signers_now(ctx, project.code).get(gate, {})
    except Exception as exc:  # a tag is a convenience: never stop the run's creation
        log.info("could not compute who can sign %s of %s: %s", gate, project.code, exc)
        signers = {}
    return base + people_tags(signers)
