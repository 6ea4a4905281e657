"""Sign-offs applied the moment Prefect stores them: a subscriber to Prefect's event stream.

Without it, a sign-off waits for Prefect's machinery: the runner polls, starts a flow-run
subprocess that imports Prefect and re-executes the gate run from the top, and only then
is the input read and committed (about 3 s after Resume on two cores). ``cdmo serve``,
``cdmo up`` and ``cdmo listen`` already run a process, so they subscribe to the
``prefect.flow-run.Resuming`` events of gate-review runs, read the submitted input at once,
claim it by deleting it from Prefect, and sign through the same service function with the
same idempotency key the run would use (``signoff.py``). The resumed run then finds no input
and waits again with the next form. Without a subscriber (it is down, or a team runs only
``prefect worker``), the run processes the input itself, unchanged.

In ``cdmo serve`` and ``cdmo up`` the subscriber first claims the resumed run, applies the
input, then re-executes the run in its own process (``fast_resume.py``), so the next form is
ready without waiting for the runner's poll and a subprocess start. ``cdmo listen`` beside
Prefect workers only applies the input: the workers run the run.

Inputs that are not a sign-off (a refresh, an unreadable form, a missing password) are left
to the run: it shows their note above the next form.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from .fast_resume import claim, run_claimed
from .signoff import apply_input, claim_input, parse_input, pending_inputs

log = logging.getLogger("cdmo_workflow.subscriber")

RESUMING = "prefect.flow-run.Resuming"
GATE_FLOW = "gate-review"
RUN_PREFIX = "prefect.flow-run."
INPUT_WAIT_S = 2.0  # the event may be published before the server commits the input
FRESH_S = 10.0  # an older event is a replay after a reconnect: its input is stored already
PARALLEL = 4  # sign-offs applied at once (each holds a database transaction briefly)
RECONNECT_MAX_S = 10.0


def gate_run_id(event: Any) -> UUID | None:
    """The flow-run id of a gate-review run's Resuming event, else None."""
    if event.event != RESUMING or not event.resource.id.startswith(RUN_PREFIX):
        return None
    if not any(
        r.get("prefect.resource.role") == "flow" and r.get("prefect.resource.name") == GATE_FLOW
        for r in event.related
    ):
        return None
    try:
        return UUID(event.resource.id[len(RUN_PREFIX) :])
    except ValueError:
        return None


def apply_resume(run_id: UUID, *, wait: float = INPUT_WAIT_S) -> int:
    """Apply the sign-offs waiting in gate run ``run_id``; how many this call claimed."""
    from prefect import get_client
    from prefect.logging.loggers import flow_run_logger

    from .gate_review import flow_context, relay_now

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        project, gate = run.parameters.get("project"), run.parameters.get("gate")
        if not isinstance(project, str) or not isinstance(gate, str):
            return 0
        deadline = time.monotonic() + wait
        responses, _ = pending_inputs(client, run_id)
        while not responses and time.monotonic() < deadline:
            time.sleep(0.05)
            responses, _ = pending_inputs(client, run_id)
        ctx = None
        claimed = 0
        for key, raw in responses:
            inp, _note = parse_input(raw)
            if inp is None or not claim_input(client, run_id, key):
                continue  # a refresh or a form note (the run shows it), or the run took it
            claimed += 1
            ctx = ctx or flow_context(run_id)
            run_log = flow_run_logger(run)  # into the run's own logs in the UI
            sig = apply_input(ctx, project, gate, inp, f"{run_id}:{key}", logger=run_log)
            if sig:
                run_log.info(
                    "sign-off subscriber: signature recorded: %s as %s (%s)",
                    sig["user"],
                    sig["role"],
                    sig["decision"],
                )
            log.info(
                "subscriber: sign-off by %s on %s/%s %s (run %s)",
                inp.user.strip(),
                project,
                gate,
                "recorded" if sig else "refused",
                run_id,
            )
        if ctx is not None:
            relay_now(ctx)
    return claimed


class SignOffSubscriber:
    """The subscriber in a daemon thread with its own event loop; reconnects for ever."""

    def __init__(self, flow: Any | None = None) -> None:
        """``flow``: the gate-review flow, to re-execute resumed runs here (``fast_resume``)."""
        self.flow = flow
        self.thread = threading.Thread(
            target=self._run, name="cdmo-signoff-subscriber", daemon=True
        )
        self.connected = threading.Event()
        self.handled = 0

    def start(self) -> SignOffSubscriber:
        self.thread.start()
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._listen()
                backoff = 0.5
            except Exception as exc:  # the server restarts, the network drops: try again
                self.connected.clear()
                log.warning(
                    "subscriber: event stream lost (%s); the gate runs process sign-offs "
                    "themselves until it is back",
                    type(exc).__name__,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_S)

    async def _listen(self) -> None:
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventFilter, EventNameFilter

        slots = asyncio.Semaphore(PARALLEL)
        tasks: set[asyncio.Task[None]] = set()
        flt = EventFilter(event=EventNameFilter(name=[RESUMING]))
        async with get_events_subscriber(filter=flt, reconnect_on_clean_close=True) as events:
            self.connected.set()
            log.info("subscriber: listening for sign-offs on Prefect's event stream")
            async for event in events:
                run_id = gate_run_id(event)
                if run_id is None:
                    continue
                # A replayed event (the stream backfills a minute on reconnect) finds its
                # input stored long ago, or already applied: no need to wait for it.
                age = (datetime.now(UTC) - event.occurred).total_seconds()
                wait = INPUT_WAIT_S if age < FRESH_S else 0.0
                task = asyncio.create_task(self._handle(slots, run_id, wait))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def _handle(self, slots: asyncio.Semaphore, run_id: UUID, wait: float) -> None:
        """Claim the run first when this process re-executes runs (the runner polls every
        second, and a claim holds it off while the input is applied), apply the input,
        then re-execute the claimed run: it is never left Pending, whatever failed."""
        async with slots:
            run = None
            try:
                if self.flow is not None:
                    run = await asyncio.to_thread(claim, run_id)
                self.handled += await asyncio.to_thread(apply_resume, run_id, wait=wait)
            except Exception as exc:  # the run applies the input itself
                _warn(f"could not apply the input of run {run_id}", "the run will", exc)
            finally:
                if run is not None:
                    try:
                        await asyncio.to_thread(run_claimed, run, self.flow)
                    except Exception as exc:  # the engine sets the run's final state
                        _warn(f"re-executing run {run_id} failed", "see the run's logs", exc)


def _warn(what: str, then: str, exc: Exception) -> None:
    first = str(exc).splitlines()[0] if str(exc) else ""
    log.warning("subscriber: %s (%s: %s); %s", what, type(exc).__name__, first, then)
