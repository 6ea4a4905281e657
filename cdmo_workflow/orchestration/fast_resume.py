"""The resumed gate run re-executed in the serving process, not in a new subprocess.

After a Resume, Prefect's runner polls (up to a second), starts a flow-run subprocess that
imports Prefect (about a second on two cores) and re-executes the run from the top; only
then does the next signer's form exist. ``cdmo serve`` already has the flow imported and a
client open, so its subscriber claims the resumed run the way a runner or worker claims any
run (Scheduled → Pending, which Prefect grants to exactly one claimant:
``PreventPendingTransitions``) and runs it with Prefect's own flow engine
(``prefect.flow_engine.run_flow``) in its thread. The run is the same run with the same
states, logs and heartbeats; it only skips the process start. When the runner claimed it
first, Prefect aborts our claim and the runner runs it as always.

One window stays: a runner that fetched the run as Scheduled just before our claim proposes
Pending after our run is already Suspended again. Prefect answers Paused, and the runner's
``propose_pending`` lets the resulting ``Pause`` escape and ends ``serve``.
``guard_runner`` makes that proposal a plain "not submitted", which is what it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from uuid import UUID

log = logging.getLogger("cdmo_workflow.subscriber")

_guarded = False
RESUMED_HERE = "re-executed by the serving process right after Resume (no subprocess start)"


def guard_runner() -> bool:
    """Make the runner skip a run that is Paused when it proposes Pending (see above).

    Returns False, and the fast path stays off, if this Prefect has no such proposer.
    """
    global _guarded
    if _guarded:
        return True
    try:
        from prefect.exceptions import Pause
        from prefect.runner._state_proposer import StateProposer
    except ImportError:
        return False
    original = getattr(StateProposer, "propose_pending", None)
    if original is None:
        return False

    async def propose_pending(self: Any, flow_run: Any) -> bool:
        try:
            return bool(await original(self, flow_run))
        except Pause:
            log.info("runner: run %s is waiting again already; not submitted", flow_run.id)
            return False

    StateProposer.propose_pending = propose_pending  # type: ignore[method-assign]
    _guarded = True
    return True


def claim(run_id: UUID) -> Any | None:
    """Claim resumed run ``run_id`` (Scheduled → Pending): the run, or None if another
    claimant has it or it is not waiting to start."""
    from prefect import get_client
    from prefect.exceptions import Abort, Pause
    from prefect.states import Pending
    from prefect.utilities.engine import propose_state_sync

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        if run.state is None or not run.state.is_scheduled():
            return None
        try:
            state = propose_state_sync(client, Pending(), flow_run_id=run_id)
        except (Abort, Pause):
            return None
        if not state.is_pending():
            return None
        return client.read_flow_run(run_id)


def run_here(run_id: UUID, flow: Any) -> bool:
    """Claim resumed run ``run_id`` and re-execute it here; True if this process ran it."""
    run = claim(run_id)
    if run is None:
        return False
    run_claimed(run, flow)
    return True


def run_claimed(run: Any, flow: Any) -> None:
    """Re-execute a run this process claimed, with Prefect's flow engine, until it waits
    again or finishes.

    One execution of a run at a time in this process: Prefect's engine keeps a per-process
    registry of suspension requests by run id, and the previous execution's suspension
    observer, until it has stopped, would mark the next execution as suspended.
    """
    from prefect.exceptions import Pause
    from prefect.flow_engine import run_flow
    from prefect.logging.loggers import flow_run_logger

    with _lock_for(run.id):
        try:
            flow_run_logger(run).info(RESUMED_HERE)
            with suppress(Pause):  # waiting again, with the next form
                run_flow(flow, flow_run=run, return_type="state")
        finally:
            _forget(run.id)


_locks: dict[UUID, tuple[threading.Lock, int]] = {}
_locks_guard = threading.Lock()


@contextmanager
def _lock_for(run_id: UUID) -> Iterator[None]:
    with _locks_guard:
        lock, users = _locks.get(run_id, (threading.Lock(), 0))
        _locks[run_id] = (lock, users + 1)
    with lock:
        yield


def _forget(run_id: UUID) -> None:
    with _locks_guard:
        lock, users = _locks[run_id]
        if users <= 1:
            del _locks[run_id]
        else:
            _locks[run_id] = (lock, users - 1)
