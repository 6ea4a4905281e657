"""What changed between two versions of the definitions, in domain terms. Pure.

``diff_processes`` and ``diff_gates`` compare two models; ``diff_snapshots`` compares two
pinned snapshots of one process (the process and the gates it uses); ``diff_catalogs``
compares two whole trees (``cdmo definitions diff``). Each change is a :class:`Change`
with a stable ``kind``, the ``subject`` it is about (``phase tech-transfer``, ``gate
gmp-readiness``, ...), the old and new values (JSON-ready) and one sentence.

Kinds (process): ``process-added``, ``process-removed``, ``name``, ``description``,
``role-added``, ``role-removed``, ``role-described``, ``manager-role``, ``admin-role``,
``notify-route``, ``message``, ``approver-added``, ``approver-removed``,
``approver-changed``, ``phase-added``, ``phase-removed``, ``phase-moved`` (order in the
file), ``after-changed``, ``phase-gate``, ``phase-owner``, ``phase-duration``,
``phase-gmp``, ``phase-name``, ``phase-description``, ``deliverable-added``,
``deliverable-removed``, ``deliverable-changed``.

Kinds (gate): ``gate-added``, ``gate-removed``, ``name``, ``description``, ``check-added``,
``check-removed``, ``check-changed``, ``quota-added``, ``quota-removed``,
``quota-changed``, ``decision-added``, ``decision-removed``, ``recycle-to``, ``sla``,
``notify-route``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .approvers import default_approver_roles
from .models import (
    ApproverQuota,
    CheckDef,
    DeliverableDef,
    GateDef,
    PhaseDef,
    ProcessDef,
    ProcessSnapshot,
    SignoffQuota,
)

QUOTA_KINDS = frozenset({"quota-added", "quota-removed", "quota-changed"})
"""Changes of a gate's sign-off quotas (what ``when: [signoffs]`` reacts to)."""


@dataclass(frozen=True)
class Change:
    """One change: what kind, about what, the old and new values, and a sentence."""

    kind: str
    subject: str
    text: str
    old: Any = None
    new: Any = None
    phase: str | None = None
    """The phase the change is about (also for a change of the gate that ends it)."""
    gate: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "text": self.text,
            "old": self.old,
            "new": self.new,
            "phase": self.phase,
            "gate": self.gate,
        }


@dataclass(frozen=True)
class SnapshotDiff:
    """Two versions of one process: its own changes and those of the gates it uses."""

    process: str
    old_version: str
    new_version: str
    process_changes: tuple[Change, ...]
    gate_changes: dict[str, tuple[Change, ...]]

    @property
    def changes(self) -> list[Change]:
        out = list(self.process_changes)
        for gid in sorted(self.gate_changes):
            out.extend(self.gate_changes[gid])
        return out

    @property
    def unchanged(self) -> bool:
        return not self.changes

    def gate_changed(self, gate_id: str) -> bool:
        return bool(self.gate_changes.get(gate_id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "process_changes": [c.to_dict() for c in self.process_changes],
            "gate_changes": {
                g: [c.to_dict() for c in cs] for g, cs in sorted(self.gate_changes.items()) if cs
            },
        }


@dataclass
class CatalogDiff:
    """Two trees: each process and each gate that was added, removed or changed."""

    processes: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(p["status"] != "unchanged" for p in self.processes.values()) or any(
            g["status"] != "unchanged" for g in self.gates.values()
        )

    def to_dict(self) -> dict[str, Any]:
        def entry(d: dict[str, Any]) -> dict[str, Any]:
            return {**d, "changes": [c.to_dict() for c in d["changes"]]}

        return {
            "changed": self.changed,
            "processes": [entry(self.processes[k]) for k in sorted(self.processes)],
            "gates": [entry(self.gates[k]) for k in sorted(self.gates)],
        }


# --------------------------------------------------------------------------- helpers


def _dump(model: BaseModel | None) -> Any:
    return None if model is None else model.model_dump(mode="json", by_alias=True)


def _fields(old: BaseModel, new: BaseModel, skip: Iterable[str] = ()) -> dict[str, Any]:
    """``{field: [old, new]}`` for the fields that differ."""
    a, b = _dump(old), _dump(new)
    return {
        k: [a.get(k), b.get(k)]
        for k in sorted(set(a) | set(b))
        if k not in skip and a.get(k) != b.get(k)
    }


def _by_id(items: Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(item.id, item)
    return out


def _fmt(value: Any) -> str:
    """A value as YAML writes it: true/false, none, text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def _roles(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "nobody"


def _quota_text(q: SignoffQuota | ApproverQuota) -> str:
    extra = []
    if isinstance(q, SignoffQuota):
        extra += ["independent"] if q.independent else []
        extra += ["veto"] if q.veto else []
        extra += [] if q.delegable else ["not delegable"]
    else:
        extra += [f"when {', '.join(q.when)}"] if q.when else []
    return f"{q.role} × {q.min}" + (f" ({', '.join(extra)})" if extra else "")


def _routes(
    subject: str,
    old: Mapping[Any, Sequence[str]],
    new: Mapping[Any, Sequence[str]],
    gate: str | None = None,
) -> list[Change]:
    out = []
    for event in sorted(set(old) | set(new)):
        a, b = list(old.get(event, [])), list(new.get(event, []))
        if a != b:
            before = _roles(a) if event in old else "the default"
            after = _roles(b) if event in new else "the default"
            out.append(
                Change(
                    "notify-route",
                    subject,
                    f"{subject}: notify '{event}' goes to {after} (was {before})",
                    a if event in old else None,
                    b if event in new else None,
                    gate=gate,
                )
            )
    return out


# --------------------------------------------------------------------------- gates


def diff_gates(old: GateDef | None, new: GateDef | None) -> list[Change]:
    """The changes of one gate (``None`` on one side: added or removed)."""
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        quotas = ", ".join(_quota_text(q) for q in new.signoffs)
        return [
            Change(
                "gate-added",
                f"gate {new.id}",
                f"gate {new.id} is new (quotas {quotas})",
                None,
                _dump(new),
                gate=new.id,
            )
        ]
    if new is None:
        return [
            Change(
                "gate-removed",
                f"gate {old.id}",
                f"gate {old.id} is removed",
                _dump(old),
                None,
                gate=old.id,
            )
        ]
    gid = new.id
    subject = f"gate {gid}"
    out: list[Change] = []
    for key in ("name", "description"):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            out.append(Change(key, subject, f"{subject}: {key} changed", a, b, gate=gid))
    out += _items(
        subject,
        "check",
        _by_id(old.checks),
        _by_id(new.checks),
        gate=gid,
        describe=lambda c: f"{c.name} (confirmed by {c.confirmed_by})",
    )
    oq = {q.role: q for q in old.signoffs}
    nq = {q.role: q for q in new.signoffs}
    for role in [*oq, *(r for r in nq if r not in oq)]:
        a, b = oq.get(role), nq.get(role)
        if a is None and b is not None:
            out.append(
                Change(
                    "quota-added",
                    subject,
                    f"{subject}: new quota {_quota_text(b)}",
                    None,
                    _dump(b),
                    gate=gid,
                )
            )
        elif b is None and a is not None:
            out.append(
                Change(
                    "quota-removed",
                    subject,
                    f"{subject}: quota {_quota_text(a)} is removed",
                    _dump(a),
                    None,
                    gate=gid,
                )
            )
        elif a is not None and b is not None and a != b:
            out.append(
                Change(
                    "quota-changed",
                    subject,
                    f"{subject}: quota {_quota_text(a)} becomes {_quota_text(b)}",
                    _dump(a),
                    _dump(b),
                    gate=gid,
                )
            )
    od, nd = [d.value for d in old.decisions], [d.value for d in new.decisions]
    for d in nd:
        if d not in od:
            out.append(
                Change(
                    "decision-added",
                    subject,
                    f"{subject}: decision {d} is allowed",
                    None,
                    d,
                    gate=gid,
                )
            )
    for d in od:
        if d not in nd:
            out.append(
                Change(
                    "decision-removed",
                    subject,
                    f"{subject}: decision {d} is no longer allowed",
                    d,
                    None,
                    gate=gid,
                )
            )
    if old.recycle_to != new.recycle_to:
        out.append(
            Change(
                "recycle-to",
                subject,
                f"{subject}: recycle_to {new.recycle_to or 'the gated phase'} "
                f"(was {old.recycle_to or 'the gated phase'})",
                old.recycle_to,
                new.recycle_to,
                gate=gid,
            )
        )
    a_sla, b_sla = _dump(old.sla) or {}, _dump(new.sla) or {}
    for key in ("decide_within", "remind_every", "escalate_to"):
        if a_sla.get(key) != b_sla.get(key):
            out.append(
                Change(
                    "sla",
                    subject,
                    f"{subject}: sla.{key} {b_sla.get(key) or 'none'} "
                    f"(was {a_sla.get(key) or 'none'})",
                    a_sla.get(key),
                    b_sla.get(key),
                    gate=gid,
                )
            )
    out += _routes(subject, old.notify, new.notify, gate=gid)
    return out


def _items(
    subject: str,
    what: str,
    old: Mapping[str, CheckDef | DeliverableDef],
    new: Mapping[str, CheckDef | DeliverableDef],
    *,
    describe: Any,
    phase: str | None = None,
    gate: str | None = None,
) -> list[Change]:
    out: list[Change] = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if a is None and b is not None:
            out.append(
                Change(
                    f"{what}-added",
                    subject,
                    f"{subject}: new {what} {key}: {describe(b)}",
                    None,
                    _dump(b),
                    phase=phase,
                    gate=gate,
                )
            )
        elif b is None and a is not None:
            out.append(
                Change(
                    f"{what}-removed",
                    subject,
                    f"{subject}: {what} {key} is removed",
                    _dump(a),
                    None,
                    phase=phase,
                    gate=gate,
                )
            )
        elif a is not None and b is not None and a != b:
            diff = _fields(a, b)
            names = ", ".join(diff)
            out.append(
                Change(
                    f"{what}-changed",
                    subject,
                    f"{subject}: {what} {key} changes its {names}",
                    {k: v[0] for k, v in diff.items()},
                    {k: v[1] for k, v in diff.items()},
                    phase=phase,
                    gate=gate,
                )
            )
    return out


# --------------------------------------------------------------------------- processes


def diff_processes(old: ProcessDef | None, new: ProcessDef | None) -> list[Change]:
    """The changes of one process file (not of its gates; see :func:`diff_snapshots`)."""
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        return [
            Change(
                "process-added",
                f"process {new.id}",
                f"process {new.id} is new",
                None,
                [p.id for p in new.phases],
            )
        ]
    if new is None:
        return [
            Change(
                "process-removed",
                f"process {old.id}",
                f"process {old.id} is removed",
                [p.id for p in old.phases],
                None,
            )
        ]
    subject = f"process {new.id}"
    out: list[Change] = []
    for key in ("name", "description"):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            out.append(Change(key, subject, f"{subject}: {key} changed", a, b))
    for role in new.roles:
        if role not in old.roles:
            out.append(Change("role-added", subject, f"{subject}: new role {role}", None, role))
        elif old.roles[role] != new.roles[role]:
            out.append(
                Change(
                    "role-described",
                    subject,
                    f"{subject}: role {role} is described differently",
                    old.roles[role],
                    new.roles[role],
                )
            )
    for role in old.roles:
        if role not in new.roles:
            out.append(
                Change("role-removed", subject, f"{subject}: role {role} is removed", role, None)
            )
    for key, kind in (("manager_role", "manager-role"), ("admin_role", "admin-role")):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            out.append(Change(kind, subject, f"{subject}: {key} {b} (was {a})", a, b))
    out += _routes(subject, old.notify, new.notify)
    for event in sorted(set(old.messages) | set(new.messages)):
        a_msg, b_msg = old.messages.get(event), new.messages.get(event)
        if a_msg != b_msg:
            out.append(
                Change(
                    "message",
                    subject,
                    f"{subject}: message for '{event}' changed",
                    _dump(a_msg),
                    _dump(b_msg),
                )
            )
    out += _approvers(subject, old, new)
    out += _phases(subject, old, new)
    return out


def _approvers(subject: str, old: ProcessDef, new: ProcessDef) -> list[Change]:
    def quotas(p: ProcessDef) -> dict[str, ApproverQuota]:
        if p.change_control is None:
            return {r: ApproverQuota(role=r) for r in default_approver_roles(p)}
        return {q.role: q for q in p.change_control.approvers}

    oq, nq = quotas(old), quotas(new)
    out: list[Change] = []
    for role in [*oq, *(r for r in nq if r not in oq)]:
        a, b = oq.get(role), nq.get(role)
        if a is None and b is not None:
            out.append(
                Change(
                    "approver-added",
                    subject,
                    f"{subject}: change requests also need {_quota_text(b)}",
                    None,
                    _dump(b),
                )
            )
        elif b is None and a is not None:
            out.append(
                Change(
                    "approver-removed",
                    subject,
                    f"{subject}: change requests no longer need {_quota_text(a)}",
                    _dump(a),
                    None,
                )
            )
        elif a is not None and b is not None and a != b:
            out.append(
                Change(
                    "approver-changed",
                    subject,
                    f"{subject}: change approver {_quota_text(a)} becomes {_quota_text(b)}",
                    _dump(a),
                    _dump(b),
                )
            )
    return out


def _phases(subject: str, old: ProcessDef, new: ProcessDef) -> list[Change]:
    op, np_ = _by_id(old.phases), _by_id(new.phases)
    out: list[Change] = []
    for pid, p in np_.items():
        if pid not in op:
            after = f" after {', '.join(p.after)}" if p.after else " at the start"
            out.append(
                Change(
                    "phase-added",
                    f"phase {pid}",
                    f"phase {pid} is new{after} (gate {p.gate})",
                    None,
                    {"after": list(p.after), "gate": p.gate},
                    phase=pid,
                )
            )
    for pid, p in op.items():
        if pid not in np_:
            out.append(
                Change(
                    "phase-removed",
                    f"phase {pid}",
                    f"phase {pid} is removed",
                    {"after": list(p.after), "gate": p.gate},
                    None,
                    phase=pid,
                )
            )
    old_order = [p for p in op if p in np_]
    new_order = [p for p in np_ if p in op]
    if old_order != new_order:
        out.append(
            Change(
                "phase-moved",
                subject,
                f"{subject}: phases are listed in another order",
                old_order,
                new_order,
            )
        )
    for pid in new_order:
        out += _phase(op[pid], np_[pid])
    return out


def _phase(a: PhaseDef, b: PhaseDef) -> list[Change]:
    pid = b.id
    s = f"phase {pid}"
    out: list[Change] = []
    if list(a.after) != list(b.after):
        added = [x for x in b.after if x not in a.after]
        removed = [x for x in a.after if x not in b.after]
        parts = [f"now after {', '.join(added)}"] if added else []
        parts += [f"no longer after {', '.join(removed)}"] if removed else []
        text = "; ".join(parts) or "its after list is reordered"
        out.append(
            Change("after-changed", s, f"{s}: {text}", list(a.after), list(b.after), phase=pid)
        )
    if a.gate != b.gate:
        out.append(
            Change(
                "phase-gate",
                s,
                f"{s}: ends at gate {b.gate} (was {a.gate})",
                a.gate,
                b.gate,
                phase=pid,
            )
        )
    for key, kind in (
        ("owner", "phase-owner"),
        ("duration", "phase-duration"),
        ("gmp", "phase-gmp"),
        ("name", "phase-name"),
        ("description", "phase-description"),
    ):
        x, y = getattr(a, key), getattr(b, key)
        if x != y:
            out.append(Change(kind, s, f"{s}: {key} {_fmt(y)} (was {_fmt(x)})", x, y, phase=pid))
    out += _items(
        s,
        "deliverable",
        _by_id(a.deliverables),
        _by_id(b.deliverables),
        phase=pid,
        describe=lambda d: f"{d.name} (owner {d.owner}{'' if d.required else ', optional'})",
    )
    return out


# --------------------------------------------------------------------------- snapshots


def diff_snapshots(old: ProcessSnapshot, new: ProcessSnapshot) -> SnapshotDiff:
    """Two versions of one process with the gates each uses; a gate's changes carry the
    phase it ends (in the new version, else the old one)."""
    ends = {p.gate: p.id for p in old.process.phases}
    ends.update({p.gate: p.id for p in new.process.phases})
    gates: dict[str, tuple[Change, ...]] = {}
    for gid in sorted(set(old.gates) | set(new.gates)):
        changes = diff_gates(old.gates.get(gid), new.gates.get(gid))
        if changes:
            gates[gid] = tuple(
                Change(c.kind, c.subject, c.text, c.old, c.new, phase=ends.get(gid), gate=gid)
                for c in changes
            )
    return SnapshotDiff(
        process=new.process.id,
        old_version=old.version_hash,
        new_version=new.version_hash,
        process_changes=tuple(diff_processes(old.process, new.process)),
        gate_changes=gates,
    )


def diff_catalogs(
    old_processes: Mapping[str, ProcessDef],
    old_gates: Mapping[str, GateDef],
    new_processes: Mapping[str, ProcessDef],
    new_gates: Mapping[str, GateDef],
    old_versions: Mapping[str, str] | None = None,
    new_versions: Mapping[str, str] | None = None,
) -> CatalogDiff:
    """Every process and gate of two trees, each ``added``, ``removed``, ``changed`` or
    ``unchanged``; a process whose gates changed is ``changed`` too (its version hash is)."""
    out = CatalogDiff()
    users: dict[str, list[str]] = {}
    for procs in (old_processes, new_processes):
        for pid, proc in procs.items():
            for p in proc.phases:
                users.setdefault(p.gate, [])
                if pid not in users[p.gate]:
                    users[p.gate].append(pid)
    for gid in sorted(set(old_gates) | set(new_gates)):
        changes = diff_gates(old_gates.get(gid), new_gates.get(gid))
        status = (
            "added"
            if gid not in old_gates
            else "removed"
            if gid not in new_gates
            else "changed"
            if changes
            else "unchanged"
        )
        out.gates[gid] = {
            "id": gid,
            "status": status,
            "used_by": sorted(users.get(gid, [])),
            "changes": changes,
        }
    for pid in sorted(set(old_processes) | set(new_processes)):
        a, b = old_processes.get(pid), new_processes.get(pid)
        changes = diff_processes(a, b)
        used = {p.gate for p in (a.phases if a else [])} | {p.gate for p in (b.phases if b else [])}
        gates_changed = sorted(g for g in used if out.gates.get(g, {}).get("status") != "unchanged")
        status = (
            "added"
            if a is None
            else "removed"
            if b is None
            else "changed"
            if changes or gates_changed
            else "unchanged"
        )
        out.processes[pid] = {
            "id": pid,
            "status": status,
            "old_version": (old_versions or {}).get(pid),
            "new_version": (new_versions or {}).get(pid),
            "gates_changed": gates_changed,
            "changes": changes,
        }
    return out


def touched(diff: SnapshotDiff, old: ProcessSnapshot, new: ProcessSnapshot) -> dict[str, list[str]]:
    """What a definition change touches, for ``change_control`` quotas: ``gmp`` (a change
    about a phase marked ``gmp: true`` in either version, or about the gate that ends one)
    and ``signoffs`` (a gate's sign-off quotas changed, or a gate added or removed), each
    with the sentences that make it so."""
    gmp_phases = {p.id for p in old.process.phases if p.gmp}
    gmp_phases |= {p.id for p in new.process.phases if p.gmp}
    out: dict[str, list[str]] = {}
    for c in diff.changes:
        if c.phase is not None and c.phase in gmp_phases:
            out.setdefault("gmp", []).append(c.text)
        if c.kind in QUOTA_KINDS or c.kind in ("gate-added", "gate-removed"):
            out.setdefault("signoffs", []).append(c.text)
    return out
