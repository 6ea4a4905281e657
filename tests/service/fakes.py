"""A fake unit of work for rule-level tests of the service, the way cosmicpython does it.

State lives in plain dicts; a unit of work works on a deep copy and writes it back only on
``commit()``, so a refused or rolled-back command leaves nothing behind, as with the store.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cdmo_workflow.store import ConcurrentUpdate, DuplicateUser, StoredProject, StoredUser
from cdmo_workflow.store.credentials import StoredCode, StoredSession


@dataclass
class State:
    users: dict[str, StoredUser] = field(default_factory=dict)
    targets: dict[str, list[str]] = field(default_factory=dict)
    projects: dict[str, StoredProject] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, StoredSession] = field(default_factory=dict)
    codes: dict[str, StoredCode] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


class _Repo:
    def __init__(self, state: State, now: Clock) -> None:
        self.s = state
        self.now = now


class FakeUsers(_Repo):
    def get(self, user_id: str) -> StoredUser | None:
        return self.s.users.get(user_id)

    def names(self, ids: Any) -> dict[str, str]:
        return {u: self.s.users[u].name for u in ids if u in self.s.users}

    def list(self) -> list[StoredUser]:
        return [self.s.users[k] for k in sorted(self.s.users)]

    def add(
        self, user_id: str, name: str, roles: Any, password_hash: str, time_zone: Any = None
    ) -> StoredUser:
        if user_id in self.s.users:
            raise DuplicateUser(user_id)
        now = self.now()
        user = StoredUser(
            user_id, name, list(roles), password_hash, now, 0, False, None, True, now,
            time_zone=time_zone,
        )  # fmt: skip
        self.s.users[user_id] = user
        return user

    def _set(self, user_id: str, **values: Any) -> None:
        self.s.users[user_id] = replace(self.s.users[user_id], **values)

    def record_failure(self, user_id: str, lock_after: int = 5) -> tuple[int, bool]:
        user = self.s.users[user_id]
        attempts = user.failed_attempts + 1
        locked_now = not user.locked and attempts >= lock_after
        self._set(user_id, failed_attempts=attempts, locked=user.locked or locked_now)
        return attempts, locked_now

    def reset_failures(self, user_id: str) -> None:
        self._set(user_id, failed_attempts=0)

    def unlock(self, user_id: str) -> None:
        self._set(user_id, failed_attempts=0, locked=False, locked_at=None)

    def set_password(self, user_id: str, password_hash: str, *, must_change: bool = False) -> None:
        self._set(user_id, password_hash=password_hash, must_change_password=must_change)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._set(user_id, password_hash=password_hash)

    def any_active_with_role(self, role: str) -> bool:
        return any(u.active and role in u.roles for u in self.s.users.values())

    def set_active(self, user_id: str, active: bool) -> None:
        self._set(user_id, active=active)

    def set_roles(self, user_id: str, roles: Any) -> None:
        self._set(user_id, roles=list(roles))

    def targets(self, user_id: str) -> list[str]:
        return list(self.s.targets.get(user_id, []))

    def add_target(self, user_id: str, url: str) -> None:
        self.s.targets.setdefault(user_id, []).append(url)

    def remove_target(self, user_id: str, url: str) -> bool:
        have = self.s.targets.get(user_id, [])
        if url in have:
            have.remove(url)
            return True
        return False


class FakeProjects(_Repo):
    lose_next_save = 0
    """Set to N to make the next N saves lose a race (ConcurrentUpdate)."""

    def get(self, code: str) -> StoredProject | None:
        return self.s.projects.get(code)

    def add(self, code: str, process_id: str, version_hash: str, customer: str, state: str,
            document: dict[str, Any], summary: Any = None) -> StoredProject:  # fmt: skip
        now = self.now()
        stored = StoredProject(code, process_id, version_hash, customer, state,
                               json.loads(json.dumps(document, default=str)), 1, now, now,
                               summary)  # fmt: skip
        self.s.projects[code] = stored
        return stored

    def save(self, code: str, document: dict[str, Any], state: str, expected_version: int,
             summary: Any = None, version_hash: str | None = None) -> int:  # fmt: skip
        if FakeProjects.lose_next_save:
            FakeProjects.lose_next_save -= 1
            raise ConcurrentUpdate(code, expected_version)
        old = self.s.projects[code]
        if old.version != expected_version:
            raise ConcurrentUpdate(code, expected_version)
        doc = json.loads(json.dumps(document, default=str))
        self.s.projects[code] = replace(old, document=doc, state=state, version=old.version + 1,
                                        version_hash=version_hash or old.version_hash)  # fmt: skip
        return old.version + 1

    def list(self, states: Any = None) -> list[Any]:
        return []


class FakeSnapshots(_Repo):
    def put(self, doc: dict[str, Any], version_hash: str, *_: Any) -> bool:
        self.s.snapshots.setdefault(version_hash, json.loads(json.dumps(doc, default=str)))
        return True

    def get(self, version_hash: str) -> dict[str, Any] | None:
        return self.s.snapshots.get(version_hash)


@dataclass
class Rec:
    seq: int


class FakeAudit(_Repo):
    def append(self, chain: str, actor: str, action: str, subject: str, **row: Any) -> Rec:
        seq = 1 + sum(1 for r in self.s.audit if r["chain"] == chain)
        self.s.audit.append({"chain": chain, "seq": seq, "actor": actor, "action": action,
                             "subject": subject, "outcome": "accepted", **row})  # fmt: skip
        return Rec(seq)


class FakeOutbox(_Repo):
    def add(self, rows: Any) -> int:
        rows = list(rows)
        self.s.outbox.extend(rows)
        return len(rows)


class FakeKeys(_Repo):
    def get(self, key: str) -> dict[str, Any] | None:
        return self.s.keys.get(key)

    def put(self, key: str, command: str, project: str | None, result: dict[str, Any]) -> None:
        if key in self.s.keys:
            raise ConcurrentUpdate(key, None, "idempotency key already used")
        self.s.keys[key] = json.loads(json.dumps(result, default=str))


class FakeSessions(_Repo):
    def add(self, token_hash: str, user_id: str, expires_at: datetime) -> None:
        now = self.now()
        self.s.sessions[token_hash] = StoredSession(token_hash, user_id, now, now, expires_at, None)

    def get(self, token_hash: str) -> StoredSession | None:
        return self.s.sessions.get(token_hash)

    def touch(self, token_hash: str) -> None:
        self.s.sessions[token_hash] = replace(self.s.sessions[token_hash], last_used_at=self.now())

    def revoke(self, token_hash: str) -> bool:
        self.s.sessions[token_hash] = replace(self.s.sessions[token_hash], revoked_at=self.now())
        return True

    def revoke_all(self, user_id: str) -> int:
        hit = [k for k, v in self.s.sessions.items() if v.user_id == user_id and not v.revoked_at]
        for k in hit:
            self.revoke(k)
        return len(hit)


class FakeCodes(_Repo):
    def add(self, code_hash: str, user_id: str, purpose: str, expires_at: datetime) -> None:
        now = self.now()
        for k, c in list(self.s.codes.items()):
            if c.user_id == user_id and c.used_at is None:
                self.s.codes[k] = replace(c, used_at=now)
        self.s.codes[code_hash] = StoredCode(code_hash, user_id, purpose, now, expires_at, None)

    def live(self, user_id: str) -> StoredCode | None:
        live = [c for c in self.s.codes.values() if c.user_id == user_id and c.used_at is None]
        return live[-1] if live else None

    def use(self, code_hash: str) -> None:
        self.s.codes[code_hash] = replace(self.s.codes[code_hash], used_at=self.now())


class FakeHistory(_Repo):
    """Completed phase runs: kept in ``State.runs`` (the forecast's history)."""

    def add(self, rows: Any) -> int:
        self.s.runs.extend(dict(r) for r in rows)
        return len(rows)


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def __enter__(self) -> FakeUnitOfWork:
        self.state = copy.deepcopy(self.db.state)
        clock = self.db.clock
        self.users = FakeUsers(self.state, clock)
        self.projects = FakeProjects(self.state, clock)
        self.snapshots = FakeSnapshots(self.state, clock)
        self.audit = FakeAudit(self.state, clock)
        self.outbox = FakeOutbox(self.state, clock)
        self.idempotency = FakeKeys(self.state, clock)
        self.sessions = FakeSessions(self.state, clock)
        self.codes = FakeCodes(self.state, clock)
        self.history = FakeHistory(self.state, clock)
        return self

    def __exit__(self, *_: Any) -> None:
        pass  # anything not committed is dropped with the copy

    def now(self) -> datetime:
        return self.db.clock()

    def commit(self) -> None:
        self.db.state = self.state
        self.db.commits += 1


class FakeDatabase:
    url = "fake://"

    def __init__(self) -> None:
        self.state = State()
        self.clock = Clock()
        self.commits = 0
        self.units = 0

    @property
    def engine(self) -> Any:
        raise NotImplementedError("the fake has no engine")

    def migrate(self) -> None:
        pass

    def unit_of_work(self, *, read_only: bool = False) -> FakeUnitOfWork:
        self.units += 1
        return FakeUnitOfWork(self)


def fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
