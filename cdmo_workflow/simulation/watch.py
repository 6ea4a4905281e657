"""The SLA watcher on a simulated clock.

The real watcher (``cdmo gates watch``, the housekeeping run of ``cdmo up``) wakes up at an
interval, asks :func:`notify.sla_notices.due_notices` what is due *now*, and records each
notice once in a ledger. Here the ledger is a set, and the watcher wakes on the scenario's
grid (``start + k * watch_every``) — but only at the wake-ups where something can fall due
(the first wake-up after the clock moved, each reminder boundary, the first wake-up strictly
after a review's due instant), so a year of simulated time costs a handful of calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import ProjectState
from cdmo_workflow.domain.sla import gate_due_at
from cdmo_workflow.notify.sla_notices import Notice, due_notices, periods_elapsed
from cdmo_workflow.spec.durations import add_business_days, parse_duration

MAX_WAKEUPS = 5_000
"""Most watcher wake-ups one dry run may need (a one-hour reminder over years would be
hundreds of thousands): beyond it the scenario is refused with a clear message."""


class TooManyWakeups(Exception):
    """The scenario would wake the simulated watcher more than :data:`MAX_WAKEUPS` times."""


@dataclass(frozen=True)
class Batch:
    """The notices one wake-up of the watcher sent."""

    at: datetime
    notices: list[Notice]


class SimulatedWatcher:
    """Wakes on ``origin + k * every``; remembers every notice sent (the ledger)."""

    def __init__(self, origin: datetime, every: timedelta) -> None:
        self.origin = origin
        self.every = every
        self.sent: set[tuple[str, str, int, str, int, str]] = set()
        self.wakeups = 0

    def _at_or_after(self, t: datetime) -> datetime:
        k = -((self.origin - t) // self.every)  # ceil((t - origin) / every)
        return self.origin + max(k, 0) * self.every

    def _after(self, t: datetime) -> datetime:
        k = (t - self.origin) // self.every + 1
        return self.origin + max(k, 0) * self.every

    def _wakeups(self, project: Project, start: datetime, end: datetime) -> Iterator[datetime]:
        """Wake-ups in ``(start, end]`` at which a notice may fall due."""
        yield self._after(start)  # catches up with whatever fell due while nothing ran
        for review in project.open_reviews():
            gate = project.snapshot.gates[review.gate]
            if gate.sla is None:
                continue
            if gate.sla.remind_every:
                every = parse_duration(gate.sla.remind_every)
                k = periods_elapsed(every, review.opened_at, start)
                while True:
                    k += 1
                    if every.business_days is None:
                        boundary = review.opened_at + k * every.delta
                    else:
                        boundary = add_business_days(review.opened_at, every.business_days * k)
                    if boundary > end:
                        break
                    yield self._at_or_after(boundary)
                    self._count()
            due = gate_due_at(gate, review.opened_at)
            if due is not None:
                yield self._after(max(due, start))

    def _count(self) -> None:
        self.wakeups += 1
        if self.wakeups > MAX_WAKEUPS:
            raise TooManyWakeups(
                f"the simulated SLA watcher would wake more than {MAX_WAKEUPS} times: "
                "advance the clock by less, or remind less often"
            )

    def advance(
        self, project: Project, start: datetime, end: datetime, context: dict[str, Any]
    ) -> list[Batch]:
        """Every notice the watcher sends while the clock moves from ``start`` to ``end``."""
        if project.state != ProjectState.ACTIVE or not project.open_reviews():
            return []
        moments = sorted({t for t in self._wakeups(project, start, end) if start < t <= end})
        document = project.to_dict()
        batches: list[Batch] = []
        for at in moments:
            fresh = [
                n
                for n in due_notices(document, project.snapshot, at, context=context)
                if n.key not in self.sent
            ]
            if fresh:
                self.sent.update(n.key for n in fresh)
                batches.append(Batch(at, fresh))
        return batches
