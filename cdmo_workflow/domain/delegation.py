"""Delegation of signing authority: who may sign for whom, in which role, when. Pure.

A delegation lets ``delegate`` sign gates in ``role`` *on behalf of* ``delegator`` from
``starts_at`` (inclusive) to ``ends_at`` (exclusive), on one project or on every project
(``project`` None). It is time-boxed and ends by itself: whether it is in force is decided
at the command's ``now`` (:meth:`Delegation.in_force`), never by a background job. A
revocation ends it at ``revoked_at``.

The rules for granting one (each a ``RuleViolation`` with its id):

* ``delegation-to-self``: the delegate is another person;
* ``delegator-lacks-role`` / ``delegate-lacks-role``: both hold the global role (a delegate
  must be qualified for the role; authority one does not hold cannot be passed on);
* ``delegation-backdated``: it does not start before today (a start earlier today, or within
  :data:`START_GRACE` of now, starts now);
* ``delegation-end-before-start``: it ends after it starts;
* ``delegation-too-long``: it lasts at most :data:`MAX_DELEGATION_DAYS` days;
* ``delegation-overlap``: the same delegator has no other delegation of the same role whose
  scope overlaps (a delegation to every project overlaps each project's) and whose time
  overlaps, so at any instant one person at most signs for a delegator in a role and scope.

What a delegated signature may do is decided by the signing rules
(``domain/signing_rules.py``): see ``docs/delegation.md`` for segregation of duties.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from .errors import RuleViolation
from .limits import check_text
from .records import iso, parse_time

MAX_DELEGATION_DAYS = 90
"""The longest delegation: a quarter. Longer absences are a team change, not a delegation."""

START_GRACE = timedelta(minutes=10)
"""A start up to this far in the past (a clock skew, a slow typist) starts now instead."""

ENDING_SOON = timedelta(days=3)
"""A delegation in force that ends within this is listed in both people's task lists."""

DelegationStatus = Literal["scheduled", "in force", "ended", "revoked"]


@dataclass(frozen=True)
class Delegation:
    """One grant of signing authority (stored in the ``delegations`` table)."""

    id: str
    delegator: str
    delegate: str
    role: str
    project: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    granted_by: str
    granted_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    def covers(self, project: str) -> bool:
        return self.project is None or self.project == project

    def in_force(self, now: datetime) -> bool:
        """True from ``starts_at`` (inclusive) until ``ends_at`` or the revocation."""
        return self.starts_at <= now < self.effective_end

    @property
    def effective_end(self) -> datetime:
        if self.revoked_at is not None and self.revoked_at < self.ends_at:
            return self.revoked_at
        return self.ends_at

    def status(self, now: datetime) -> DelegationStatus:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if now < self.starts_at:
            return "scheduled"
        if now >= self.ends_at:
            return "ended"
        return "in force"

    def scope(self) -> str:
        return f"project {self.project}" if self.project else "every project"

    def overlaps(self, other: Delegation) -> bool:
        """Same delegator and role, overlapping scope and overlapping time."""
        if self.delegator != other.delegator or self.role != other.role:
            return False
        if None not in (self.project, other.project) and self.project != other.project:
            return False
        return self.starts_at < other.effective_end and other.starts_at < self.effective_end

    def summary(self) -> dict[str, Any]:
        """What a delegated signature records of the delegation it used."""
        return {
            "id": self.id,
            "delegator": self.delegator,
            "delegate": self.delegate,
            "role": self.role,
            "project": self.project,
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "reason": self.reason,
            "granted_by": self.granted_by,
            "granted_at": iso(self.granted_at),
        }

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        out = {
            **self.summary(),
            "revoked_at": iso(self.revoked_at),
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
        }
        if now is not None:
            out["status"] = self.status(now)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Delegation:
        starts, ends, granted = (
            parse_time(d["starts_at"]),
            parse_time(d["ends_at"]),
            parse_time(d.get("granted_at") or d["starts_at"]),
        )
        assert starts is not None and ends is not None and granted is not None
        return cls(
            id=str(d["id"]),
            delegator=d["delegator"],
            delegate=d["delegate"],
            role=d["role"],
            project=d.get("project"),
            starts_at=starts,
            ends_at=ends,
            reason=d.get("reason") or "",
            granted_by=d.get("granted_by") or d["delegator"],
            granted_at=granted,
            revoked_at=parse_time(d.get("revoked_at")),
            revoked_by=d.get("revoked_by"),
            revoke_reason=d.get("revoke_reason"),
        )


def parse_moment(text: str, field: str, *, end: bool = False) -> datetime:
    """A ``--start``/``--end`` value: ``YYYY-MM-DD`` (a UTC day) or an ISO 8601 time.

    A day means its first instant for a start and the first instant of the next day for an
    end (the end day is included). A time without an offset is UTC.
    """
    value = (text or "").strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(0, 0), tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RuleViolation(
            "invalid-date",
            f"{field} {value[:40]!r} is not a date (YYYY-MM-DD) or an ISO 8601 time",
            field=field,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def window(start: str, end: str, now: datetime) -> tuple[datetime, datetime]:
    """The ``[starts_at, ends_at)`` of a new delegation, checked against ``now``."""
    starts = parse_moment(start, "start")
    ends = parse_moment(end, "end", end=True)
    date_only = len(start.strip()) == 10
    today = now.astimezone(UTC).date()
    if (date_only and starts.date() < today) or (not date_only and starts < now - START_GRACE):
        raise RuleViolation(
            "delegation-backdated",
            f"a delegation cannot start in the past ({iso(starts)}; now is {iso(now)}): "
            "authority cannot be delegated after the fact",
            starts_at=iso(starts),
        )
    starts = max(starts, now)
    if ends <= starts:
        raise RuleViolation(
            "delegation-end-before-start",
            f"a delegation must end after it starts (start {iso(starts)}, end {iso(ends)})",
            starts_at=iso(starts),
            ends_at=iso(ends),
        )
    if ends - starts > timedelta(days=MAX_DELEGATION_DAYS):
        raise RuleViolation(
            "delegation-too-long",
            f"a delegation lasts at most {MAX_DELEGATION_DAYS} days; this one lasts "
            f"{(ends - starts).days} days (for a longer absence, change the team)",
            limit=MAX_DELEGATION_DAYS,
        )
    return starts, ends


def grant(
    *,
    new_id: str,
    delegator: str,
    delegate: str,
    role: str,
    project: str | None,
    start: str,
    end: str,
    reason: str,
    by: str,
    now: datetime,
    delegator_roles: Sequence[str],
    delegate_roles: Sequence[str],
    existing: Iterable[Delegation],
) -> Delegation:
    """A new delegation, or the rule it breaks. ``*_roles`` are the global roles held."""
    check_text("user id", delegator)
    check_text("user id", delegate)
    if not reason or not reason.strip():
        raise RuleViolation("reason-required", "a delegation needs a reason (--reason TEXT)")
    check_text("reason", reason)
    if delegator == delegate:
        raise RuleViolation(
            "delegation-to-self",
            f"user {delegator!r} cannot delegate to themselves",
            user=delegator,
        )
    if role not in delegator_roles:
        raise RuleViolation(
            "delegator-lacks-role",
            f"user {delegator!r} does not hold the role {role!r} and cannot delegate it "
            f"(holds: {', '.join(delegator_roles) or 'none'})",
            user=delegator,
            role=role,
        )
    if role not in delegate_roles:
        raise RuleViolation(
            "delegate-lacks-role",
            f"user {delegate!r} does not hold the role {role!r} and cannot sign for it on "
            f"behalf of {delegator!r} (holds: {', '.join(delegate_roles) or 'none'}); "
            "an administrator grants the role first",
            user=delegate,
            role=role,
        )
    starts, ends = window(start, end, now)
    made = Delegation(
        id=new_id,
        delegator=delegator,
        delegate=delegate,
        role=role,
        project=project,
        starts_at=starts,
        ends_at=ends,
        reason=reason,
        granted_by=by,
        granted_at=now,
    )
    for other in existing:
        if other.overlaps(made) and other.effective_end > now:
            raise RuleViolation(
                "delegation-overlap",
                f"{delegator!r} already delegates role {role!r} to {other.delegate!r} "
                f"({other.id}, {other.scope()}, {iso(other.starts_at)} to "
                f"{iso(other.effective_end)}); one delegate per role and scope at a time: "
                f"revoke {other.id} first or choose other dates",
                delegation=other.id,
                user=delegator,
                role=role,
            )
    return made


def revoke(
    delegation: Delegation, *, by: str, reason: str, now: datetime, by_is_admin: bool
) -> Delegation:
    """End a delegation now: by its delegator or delegate, or an administrator."""
    if not reason or not reason.strip():
        raise RuleViolation("reason-required", "a revocation needs a reason (--reason TEXT)")
    check_text("reason", reason)
    if by not in (delegation.delegator, delegation.delegate) and not by_is_admin:
        raise RuleViolation(
            "not-delegation-party",
            f"user {by!r} may not revoke {delegation.id}: only its delegator "
            f"{delegation.delegator!r}, its delegate {delegation.delegate!r} or an "
            "administrator may",
            user=by,
            delegation=delegation.id,
        )
    status = delegation.status(now)
    if status in ("ended", "revoked"):
        raise RuleViolation(
            "delegation-not-active",
            f"{delegation.id} has already {'ended' if status == 'ended' else 'been revoked'} "
            f"({iso(delegation.effective_end)})",
            delegation=delegation.id,
        )
    return replace(delegation, revoked_at=now, revoked_by=by, revoke_reason=reason)


def in_force_for(
    delegations: Iterable[Delegation], *, delegate: str, project: str, now: datetime
) -> list[Delegation]:
    """The delegations ``delegate`` may sign under on ``project`` at ``now``."""
    return [
        d for d in delegations if d.delegate == delegate and d.covers(project) and d.in_force(now)
    ]


def best_match(
    delegations: Iterable[Delegation],
    *,
    delegator: str,
    delegate: str,
    role: str,
    project: str,
    now: datetime,
) -> Delegation | None:
    """The delegation a signature on behalf of ``delegator`` would use: one in force, else
    the latest that matched (so the refusal can say it ended or was revoked)."""
    matching = [
        d
        for d in delegations
        if d.delegator == delegator and d.delegate == delegate and d.covers(project)
    ]
    in_role = [d for d in matching if d.role == role] or matching
    live = [d for d in in_role if d.in_force(now)]
    if live:
        return live[0]
    return max(in_role, key=lambda d: d.starts_at, default=None)
