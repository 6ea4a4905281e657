"""``cdmo audit verify --deep``: each project document against its accepted audit rows.

Two checks, both pure (the rows, the pinned snapshot and the document; no other state):

1. ``compare``: the rows' domain events are folded into the facts the trail vouches for
   (each signature, each gate decision, each phase's state, each current deliverable and
   check, the project's state) and compared with the document both ways. A signature,
   decision or phase state in the document without its audit row, or an audited one missing
   from the document, is named.
2. ``replay``: each accepted row's command is re-applied through ``domain.Project`` in seq
   order (start, deliverable submit and carry, check, condition close, accept and reject,
   sign, hold, resume, release, team changes). A row the core's rules refuse is named (a
   hash-correct, checkpointed row can still be one the engine would never have accepted);
   otherwise the replayed project is compared with the document on states, cycles, items,
   reviews, signatures, conditions, holds and team.
3. ``delegations``: a delegated signature's row records the delegation it used; the
   ``_system`` chain's ``delegation.grant`` and ``delegation.revoke`` rows must vouch for it
   (granted as recorded, not revoked before the signature); and every row of the
   ``delegations`` table must be the one those rows made (a delegation edited or added
   behind the engine is named).

Times: a row's ``new`` records the time of evidence, signatures, holds and closed conditions,
and the replay uses it; for a start or a resume the row's ``at`` stands in for the core's
``now`` (taken a moment earlier), so times and record hashes are not compared. Recording the
core's ``now`` as the row's ``at`` would make the replay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .source import Source, unit_of_work

SIGNATURE_FIELDS = (
    "name",
    "role",
    "decision",
    "meaning",
    "signed_at",
    "record_hash",
    "on_behalf_of",
)
SYSTEM_CHAIN = "_system"
CHANGE_FIELDS = (
    "title",
    "reason",
    "schedule_impact",
    "cost_impact",
    "currency",
    "target",
    "approvers",
    "base_version",
)


@dataclass
class Trail:
    """What the accepted audit rows of one project say its document must hold."""

    state: str | None = None
    phases: dict[str, str] = field(default_factory=dict)
    signatures: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)
    decisions: dict[tuple[str, int], str] = field(default_factory=dict)
    items: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    seq_of: dict[Any, int] = field(default_factory=dict)


def fold(rows: Iterable[Mapping[str, Any]]) -> Trail:
    """Fold the events of the accepted rows (in seq order) into a :class:`Trail`."""
    t = Trail()
    for row in rows:
        if row.get("outcome") != "accepted":
            continue
        for e in row.get("events") or []:
            if not isinstance(e, Mapping):
                continue
            name, phase, gate = e.get("name"), e.get("phase"), e.get("gate")
            data = e.get("data") or {}
            seq = int(row["seq"])
            if name == "project.started":
                t.state = "active"
            elif name == "project.on-hold":
                t.state = "on-hold"
            elif name == "project.resumed":
                t.state = "active"
            elif name == "project.completed":
                t.state = "completed"
            elif name == "project.killed":
                t.state = "killed"
            elif name == "phase.activated" and phase:
                t.phases[phase] = "active"
                t.items[phase] = {"deliverables": set(), "checks": set()}
            elif name == "phase.reset" and phase:
                t.phases[phase] = "pending"
                t.items[phase] = {"deliverables": set(), "checks": set()}
            elif name == "phase.completed" and phase:
                t.phases[phase] = "completed"
            elif name == "gate.opened" and phase:
                t.phases[phase] = "gate-review"
            elif name in ("deliverable.submitted", "deliverable.carried") and phase:
                t.items.setdefault(phase, {"deliverables": set(), "checks": set()})
                t.items[phase]["deliverables"].add(str(data.get("deliverable")))
            elif name == "check.confirmed" and phase:
                t.items.setdefault(phase, {"deliverables": set(), "checks": set()})
                t.items[phase]["checks"].add(str(data.get("check")))
            elif name == "gate.signed" and gate:
                key = (str(gate), int(data.get("review") or 0), str(data.get("user")))
                t.signatures[key] = {k: data.get(k) for k in SIGNATURE_FIELDS}
                t.seq_of[key] = seq
            elif name == "project.migrated":
                for pid in data.get("removed_phases") or []:
                    t.phases.pop(str(pid), None)
                    t.items.pop(str(pid), None)
                for pid, state in (data.get("phases") or {}).items():
                    if state != "pending" or str(pid) in t.phases:
                        t.phases[str(pid)] = str(state)
                for pid, items in (data.get("items") or {}).items():
                    t.items[str(pid)] = {
                        "deliverables": set(items.get("deliverables") or []),
                        "checks": set(items.get("checks") or []),
                    }
            elif name == "gate.decided" and gate:
                dkey = (str(gate), int(data.get("review") or 0))
                t.decisions[dkey] = str(data.get("outcome"))
                t.seq_of[dkey] = seq
    return t


def compare(code: str, document: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each disagreement between the document and its trail, as one sentence."""
    trail = fold(rows)
    out: list[str] = []
    doc_state = document.get("state")
    if trail.state is not None and doc_state != trail.state:
        out.append(
            f"project {code}: the document says the project is {doc_state}, but its audit trail "
            f"leaves it {trail.state}: the document was edited behind the engine"
        )
    doc_sigs: dict[tuple[str, int, str], dict[str, Any]] = {}
    doc_decisions: dict[tuple[str, int], str] = {}
    for review in document.get("reviews") or []:
        gate, number = str(review.get("gate")), int(review.get("number") or 0)
        for sig in review.get("signatures") or []:
            doc_sigs[(gate, number, str(sig.get("user")))] = {
                k: sig.get(k) for k in SIGNATURE_FIELDS
            }
        if review.get("outcome"):
            doc_decisions[(gate, number)] = str(review["outcome"])
    for key in sorted(doc_sigs.keys() - trail.signatures.keys()):
        gate, number, user = key
        out.append(
            f"project {code}: the document holds a signature by {user} on gate {gate} "
            f"(review {number}) that has no accepted row in the audit trail"
        )
    for key in sorted(trail.signatures.keys() - doc_sigs.keys()):
        gate, number, user = key
        out.append(
            f"project {code}: audit row seq {trail.seq_of[key]} records a signature by {user} on "
            f"gate {gate} (review {number}) that the document does not hold"
        )
    for key in sorted(doc_sigs.keys() & trail.signatures.keys()):
        diff = [f for f in SIGNATURE_FIELDS if doc_sigs[key][f] != trail.signatures[key][f]]
        if diff:
            gate, number, user = key
            out.append(
                f"project {code}: the signature by {user} on gate {gate} (review {number}) "
                f"differs from audit row seq {trail.seq_of[key]} in {', '.join(diff)}"
            )
    for dkey in sorted(doc_decisions.keys() | trail.decisions.keys()):
        gate, number = dkey
        doc, aud = doc_decisions.get(dkey), trail.decisions.get(dkey)
        if doc == aud:
            continue
        if aud is None:
            out.append(
                f"project {code}: the document records decision {doc} at gate {gate} (review "
                f"{number}) that has no accepted row in the audit trail"
            )
        elif doc is None:
            out.append(
                f"project {code}: audit row seq {trail.seq_of[dkey]} records decision {aud} at "
                f"gate {gate} (review {number}) that the document does not hold"
            )
        else:
            out.append(
                f"project {code}: the document records decision {doc} at gate {gate} (review "
                f"{number}), but audit row seq {trail.seq_of[dkey]} records {aud}"
            )
    for phase in document.get("phases") or []:
        pid, state = str(phase.get("id")), phase.get("state")
        audited = trail.phases.get(pid, "pending")
        if state != audited:
            out.append(
                f"project {code}: the document says phase {pid} is {state}, but its audit trail "
                f"leaves it {audited}"
            )
        items = trail.items.get(pid, {"deliverables": set(), "checks": set()})
        for kind in ("deliverables", "checks"):
            held = set((phase.get(kind) or {}).keys())
            extra, missing = held - items[kind], items[kind] - held
            if extra:
                out.append(
                    f"project {code}: phase {pid} holds {kind} {', '.join(sorted(extra))} with "
                    "no accepted row in the audit trail"
                )
            if missing:
                out.append(
                    f"project {code}: phase {pid} lacks audited {kind} {', '.join(sorted(missing))}"
                )
    return out


def deep_check(source: Source, chain: str | None = None) -> tuple[int, list[str]]:
    """(projects compared, sentences) for every project (or one) in the database."""
    problems: list[str] = []
    compared = 0
    with unit_of_work(source) as uow:
        system_rows = list(uow.audit.rows(SYSTEM_CHAIN))
        problems.extend(compare_delegations(uow.delegations.of(None), system_rows))
        codes = [chain] if chain is not None else [p.code for p in uow.projects.list()]
        for code in codes:
            stored = uow.projects.get(code)
            if stored is None:
                continue
            compared += 1
            found = compare(code, stored.document, uow.audit.rows(code))
            found += check_delegated_signatures(code, uow.audit.rows(code), system_rows)
            snapshot_doc = uow.snapshots.get(stored.version_hash)
            if snapshot_doc is not None:
                from cdmo_workflow.spec.models import ProcessSnapshot

                snapshot = ProcessSnapshot.model_validate(snapshot_doc)

                def snapshots(version_hash: str, uow: Any = uow) -> Any:
                    doc = uow.snapshots.get(version_hash)
                    return ProcessSnapshot.model_validate(doc) if doc is not None else None

                replayed, refused = replay(code, uow.audit.rows(code), snapshot, snapshots)
                found += refused
                if replayed is not None and not refused:
                    found += [
                        p for p in compare_replay(code, stored.document, replayed) if p not in found
                    ]
            problems.extend(found)
    return compared, problems


# --------------------------------------------------------------------------- replay


def _time(value: Any, fallback: Any) -> Any:
    from cdmo_workflow.domain.records import parse_time

    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            return fallback
    return fallback


def replay(
    code: str,
    rows: Iterable[Mapping[str, Any]],
    snapshot: Any,
    snapshots: Callable[[str], Any] | None = None,
) -> tuple[Any, list[str]]:
    """Re-apply each accepted row's command through the pure core (``domain.Project``).

    ``snapshots`` finds a stored snapshot by version hash: a project starts on the version
    its start row names and a migration (an approving ``change.sign`` or ``project.migrate``)
    moves it to the version its row names, so a migrated project replays on each version in
    turn. Without it every row replays on ``snapshot``.

    Returns (the replayed project or None, sentences): a row the core refuses is named, and
    the replay stops there. Times are taken from the row's ``new`` where it records them
    (evidence, signature, hold); otherwise the row's ``at`` stands in for the core's ``now``,
    so times and record hashes are not compared (see ``compare_replay``).
    """
    from datetime import UTC

    from cdmo_workflow.domain import change_control as cc
    from cdmo_workflow.domain.errors import EngineError
    from cdmo_workflow.domain.project import Project, Signer

    def version(version_hash: Any) -> Any:
        found = snapshots(str(version_hash)) if snapshots and version_hash else None
        return found if found is not None else snapshot

    project: Any = None
    problems: list[str] = []
    for row in rows:
        if row.get("outcome") != "accepted":
            continue
        action, new = row.get("action"), row.get("new") or {}
        at = row["at"]
        if isinstance(at, str):
            at = _time(at, None)
        elif at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        actor, subject, seq = row.get("actor") or "", str(row.get("subject") or ""), row["seq"]
        try:
            if action == "project.start":
                project, _ = Project.start(
                    code,
                    str(new.get("customer")),
                    version(new.get("version_hash")),
                    {r: list(u) for r, u in (new.get("team") or {}).items()},
                    actor,
                    at,
                    by_is_admin=True,  # the row was accepted; who may start is not replayed
                )
                if new.get("currency"):
                    from cdmo_workflow.domain.budget import open_budget

                    open_budget(project, str(new["currency"]))
                if new.get("plan"):
                    _replay_plan(project, new["plan"], actor, at)
            elif project is None:
                problems.append(
                    f"project {code}: audit row seq {seq} ({action}) comes before the row that "
                    "started the project"
                )
                return None, problems
            elif action == "plan.set":
                _replay_plan(project, new, actor, at)
            elif action == "deliverable.submit":
                phase, _, deliverable = subject.partition("/")
                now = _time(new.get("at"), at)
                project.submit_deliverable(phase, deliverable, actor, new.get("evidence"), now)
            elif action == "check.confirm":
                gate, _, check = subject.partition("/")
                now = _time(new.get("at"), at)
                project.confirm_check(gate, check, actor, new.get("evidence"), now)
            elif action == "condition.close":
                now = _time(new.get("closed_at"), at)
                project.close_condition(subject, actor, new.get("evidence"), now)
            elif action == "condition.accept":
                now = _time(new.get("accepted_at"), at)
                project.accept_condition(subject, actor, now, new.get("accept_comment"))
            elif action == "condition.reject":
                last = (new.get("rejections") or [{}])[-1]
                now = _time(last.get("at"), at)
                project.reject_condition(subject, actor, str(last.get("reason") or ""), now)
            elif action == "deliverable.carry":
                phase, _, deliverable = subject.partition("/")
                carried = new.get("carried") or {}
                now = _time(carried.get("at"), at)
                project.carry_deliverable(
                    phase, deliverable, actor, str(carried.get("reason") or ""), now
                )
            elif action == "gate.sign":
                _replay_sign(project, new, at)
            elif action == "project.hold":
                project.put_on_hold(
                    actor, str(new.get("reason")), _time(new.get("at"), at), new.get("held_phase")
                )
            elif action in ("budget.set-quote", "cost.add", "cost.import"):
                replay_budget(project, action, subject, new, actor, at)
            elif action == "project.resume":
                reason = new.get("reason") or next(
                    (
                        (e.get("data") or {}).get("reason")
                        for e in row.get("events") or []
                        if isinstance(e, Mapping) and e.get("name") == "project.resumed"
                    ),
                    None,
                )
                project.resume(actor, str(reason or ""), at)
            elif action == "change.propose":
                target = new.get("target") or None
                cc.propose(
                    project,
                    actor,
                    str(new.get("title")),
                    str(new.get("reason")),
                    _time(new.get("proposed_at"), at),
                    schedule_impact=new.get("schedule_impact"),
                    cost_impact=new.get("cost_impact"),
                    currency=new.get("currency"),
                    target=version(target["version_hash"]) if target else None,
                    target_ref=target.get("ref") if target else None,
                )
            elif action == "change.submit":
                cc.submit(project, subject, actor, _time(new.get("submitted_at"), at))
            elif action == "change.withdraw":
                cc.withdraw(
                    project, subject, actor, str(new.get("reason")), _time(new.get("at"), at)
                )
            elif action == "change.sign":
                found = cc.find(project, subject)
                cc.sign(
                    project,
                    subject,
                    Signer(str(new.get("user")), str(new.get("name"))),
                    str(new.get("role")),
                    str(new.get("decision")),
                    str(new.get("meaning")),
                    _time(new.get("signed_at"), at),
                    comment=new.get("comment"),
                    target=version(found.target.version_hash) if found.target else None,
                )
            elif action == "project.migrate":
                cc.migrate_approved(project, version(new.get("version_hash")), actor, at)
            elif action == "project.release":
                project.release_hold(
                    subject,
                    Signer(str(new.get("user")), str(new.get("name"))),
                    str(new.get("meaning")),
                    str(new.get("reason") or ""),
                    _time(new.get("signed_at"), at),
                )
            elif action in ("team.add", "team.replace", "team.remove"):
                role, _, user = subject.partition("/")
                project.change_team(
                    action.split(".", 1)[1],
                    role,
                    user,
                    new.get("new_user"),
                    actor,
                    str(new.get("reason") or ""),
                    at,
                    by_is_admin=True,  # accepted: the manager or an administrator did it
                )
            else:
                problems.append(
                    f"project {code}: audit row seq {seq} ({action}) cannot be replayed yet; "
                    "the replay stopped there"
                )
                return project, problems
        except EngineError as err:
            problems.append(
                f"project {code}: audit row seq {seq} ({action} by {actor}) is refused by the "
                f"engine's rules when replayed: {err}"
            )
            return None, problems
        project.drain_events()
    return project, problems


def _replay_plan(project: Any, plan: Mapping[str, Any], actor: str, at: Any) -> None:
    """The agreed plan a ``plan.set`` (or a ``project.start --plan``) row recorded."""
    from datetime import date

    from cdmo_workflow.domain.agreed_plan import set_plan

    def day(text: Any) -> date:
        return date.fromisoformat(str(text)[:10])

    phases = {
        pid: (day(v.get("start")), day(v.get("end")))
        for pid, v in (plan.get("phases") or {}).items()
    }
    milestones = {str(k): day(v) for k, v in (plan.get("milestones") or {}).items()}
    set_plan(project, phases, milestones, actor, _time(plan.get("at"), at))


def _replay_sign(project: Any, new: Mapping[str, Any], at: Any) -> None:
    """A ``gate.sign`` row again, with the delegation and condition terms it recorded."""
    from cdmo_workflow.domain.delegation import Delegation
    from cdmo_workflow.domain.project import Signer

    conditions = list(new.get("conditions") or [])
    terms = list(new.get("condition_terms") or [])
    owners = [str(t.get("owner") or "") for t in terms]
    dues = [str(t.get("due") or "") for t in terms]
    blocks = [",".join(t.get("blocks") or []) for t in terms]
    delegation = new.get("delegation")
    project.sign(
        str(new.get("gate")),
        Signer(str(new.get("user")), str(new.get("name"))),
        str(new.get("role")),
        str(new.get("decision")),
        str(new.get("meaning")),
        _time(new.get("signed_at"), at),
        comment=new.get("comment"),
        conditions=conditions,
        condition_owner=owners if any(owners) else [],
        condition_due=dues if any(dues) else [],
        condition_blocks=blocks if any(blocks) else [],
        on_behalf_of=new.get("on_behalf_of"),
        on_behalf_of_name=new.get("on_behalf_of_name"),
        delegation=Delegation.from_dict(dict(delegation)) if delegation else None,
    )


def check_delegated_signatures(
    code: str, rows: Iterable[Mapping[str, Any]], system_rows: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Each delegated signature of the project against the ``_system`` chain's delegation
    rows: granted as the signature records it, and not revoked before it was signed."""
    from cdmo_workflow.domain.delegation import Delegation

    granted: dict[str, Mapping[str, Any]] = {}
    revoked: dict[str, Any] = {}
    for row in system_rows:
        if row.get("outcome") != "accepted":
            continue
        new = row.get("new") or {}
        if row.get("action") == "delegation.grant":
            granted[str(row.get("subject"))] = new
        elif row.get("action") == "delegation.revoke":
            revoked[str(row.get("subject"))] = _time(new.get("revoked_at"), None)
    out: list[str] = []
    for row in rows:
        new = row.get("new") or {}
        if row.get("outcome") != "accepted" or row.get("action") != "gate.sign":
            continue
        used = new.get("delegation")
        if not new.get("on_behalf_of"):
            continue
        seq, signer = row["seq"], new.get("user")
        if not isinstance(used, Mapping) or str(used.get("id")) not in granted:
            out.append(
                f"project {code}: audit row seq {seq} records a signature by {signer} on behalf "
                f"of {new.get('on_behalf_of')} under delegation "
                f"{(used or {}).get('id') if isinstance(used, Mapping) else None}, which no "
                "accepted delegation.grant row of the _system chain records"
            )
            continue
        did = str(used["id"])
        grant = Delegation.from_dict(dict(granted[did])).summary()
        if {k: grant.get(k) for k in grant} != {k: used.get(k) for k in grant}:
            out.append(
                f"project {code}: audit row seq {seq} records delegation {did} differently from "
                "its delegation.grant row on the _system chain"
            )
        signed_at = _time(new.get("signed_at"), None)
        ended = revoked.get(did)
        if ended is not None and signed_at is not None and signed_at >= ended:
            out.append(
                f"project {code}: audit row seq {seq} records a signature under delegation "
                f"{did} after it was revoked ({ended.isoformat()})"
            )
    return out


def compare_delegations(
    table: Iterable[Any], system_rows: Iterable[Mapping[str, Any]]
) -> list[str]:
    """The ``delegations`` table against the ``_system`` chain: each row granted (and revoked)
    as an accepted row records it, and each accepted grant in the table."""
    from cdmo_workflow.domain.delegation import Delegation

    granted: dict[str, dict[str, Any]] = {}
    revoked: dict[str, Any] = {}
    for row in system_rows:
        if row.get("outcome") != "accepted":
            continue
        new = row.get("new") or {}
        if row.get("action") == "delegation.grant":
            granted[str(row.get("subject"))] = Delegation.from_dict(dict(new)).summary()
        elif row.get("action") == "delegation.revoke":
            revoked[str(row.get("subject"))] = new.get("revoked_at")
    out: list[str] = []
    seen: set[str] = set()
    for d in table:
        seen.add(d.id)
        want = granted.get(d.id)
        if want is None:
            out.append(
                f"delegation {d.id} ({d.delegator} to {d.delegate}, role {d.role}) has no "
                "accepted delegation.grant row in the _system chain: it was added behind the "
                "engine"
            )
            continue
        have = d.summary()
        diff = sorted(k for k in want if want[k] != have.get(k))
        if diff:
            out.append(
                f"delegation {d.id} differs from its delegation.grant row in "
                f"{', '.join(diff)}: it was edited behind the engine"
            )
        revoked_at = d.to_dict()["revoked_at"]
        if revoked.get(d.id) != revoked_at:
            out.append(
                f"delegation {d.id} is recorded as revoked at {revoked_at} but the trail says "
                f"{revoked.get(d.id)}"
            )
    for did in sorted(granted.keys() - seen):
        out.append(f"delegation {did} has a delegation.grant row but no row in the table")
    return out


def replay_budget(
    project: Any, action: str, subject: str, new: Mapping[str, Any], actor: str, at: Any
) -> None:
    """A budget row through the core: the quote, or the lines whose totals the row records
    (an import's row carries the sums per phase and kind; the entries are in cost_entries)."""
    from decimal import Decimal

    from cdmo_workflow.domain import budget

    if action == "budget.set-quote":
        budget.set_quote(
            project,
            subject,
            str(new.get("quoted")),
            actor,
            _time(new.get("at"), at),
            change_request=new.get("change_request"),
        )
        return
    budget.require_cost_recorder(project, actor, "record a cost")
    lines = [
        budget.CostLine(phase, kind, Decimal(str(amount)), f"{phase}/{kind}")
        for phase, sums in sorted((new.get("added") or {}).items())
        for kind, amount in sorted(sums.items())
    ]
    budget.record(project, lines, actor, at, action=action, subject=subject)


def compare_replay(code: str, document: Mapping[str, Any], replayed: Any) -> list[str]:
    """The replayed project against the stored document, on the facts that do not depend on
    the core's exact ``now``: states, cycles, items, reviews, signatures, conditions."""
    got = replayed.to_dict()
    out: list[str] = []
    if document.get("state") != got["state"]:
        out.append(
            f"project {code}: replaying its audit trail leaves the project {got['state']}, but "
            f"the document says {document.get('state')}"
        )
    phases = {p["id"]: p for p in document.get("phases") or []}
    for p in got["phases"]:
        d = phases.get(p["id"], {})
        for key in ("state", "cycle"):
            if d.get(key) != p[key]:
                out.append(
                    f"project {code}: replaying its audit trail gives phase {p['id']} {key} "
                    f"{p[key]}, but the document has {d.get(key)}"
                )
        for key in ("deliverables", "checks"):
            want = {k: v.get("evidence") for k, v in p[key].items()}
            have = {k: (v or {}).get("evidence") for k, v in (d.get(key) or {}).items()}
            if want != have:
                out.append(
                    f"project {code}: replaying its audit trail gives phase {p['id']} {key} "
                    f"{sorted(want)}, but the document has {sorted(have)}"
                )

    def reviews(doc: Mapping[str, Any]) -> dict[tuple[str, int], tuple[Any, ...]]:
        return {
            (r["gate"], r["number"]): (
                r["state"],
                r.get("outcome"),
                tuple(
                    (s["user"], s["role"], s["decision"], s["meaning"], s["signed_at"])
                    for s in r.get("signatures") or []
                ),
            )
            for r in doc.get("reviews") or []
        }

    want_r, have_r = reviews(got), reviews(document)
    for rkey in sorted(want_r.keys() | have_r.keys()):
        if want_r.get(rkey) != have_r.get(rkey):
            out.append(
                f"project {code}: replaying its audit trail gives review {rkey[1]} of gate "
                f"{rkey[0]} differently from the document"
            )
    if document.get("version_hash") != got["version_hash"]:
        out.append(
            f"project {code}: replaying its audit trail leaves the project on version "
            f"{got['version_hash'][:12]}, but the document is on "
            f"{str(document.get('version_hash'))[:12]}"
        )

    def changes(doc: Mapping[str, Any]) -> dict[Any, tuple[Any, ...]]:
        """Each request's content and signatures (the record hashes included: the replay
        signs with the rows' own times, so they are reproduced exactly)."""
        return {
            c.get("id"): (
                c.get("state"),
                *(c.get(k) for k in CHANGE_FIELDS),
                tuple(
                    tuple(s.get(k) for k in ("user", "role", "decision", "meaning", "record_hash"))
                    for s in c.get("signatures") or []
                ),
            )
            for c in doc.get("change_requests") or []
        }

    want_cr, have_cr = changes(got), changes(document)
    for cr in sorted(want_cr.keys() | have_cr.keys(), key=str):
        if want_cr.get(cr) != have_cr.get(cr):
            out.append(
                f"project {code}: replaying its audit trail gives change request {cr} "
                "differently from the document (its content, state or signatures)"
            )
    want_b = [b["number"] for b in got.get("baselines") or []]
    have_b = [b.get("number") for b in document.get("baselines") or []]
    if document.get("baselines") is not None and want_b != have_b:
        out.append(
            f"project {code}: replaying its audit trail gives baselines {want_b}, but the "
            f"document has {have_b}"
        )
    out += _compare_budget(code, document.get("budget"), got.get("budget"))
    want_c = {(c["id"], c["state"]) for c in got["conditions"]}
    have_c = {(c.get("id"), c.get("state")) for c in document.get("conditions") or []}
    if want_c != have_c:
        out.append(
            f"project {code}: replaying its audit trail gives conditions {sorted(want_c)}, but "
            f"the document has {sorted(have_c)}"
        )
    if "holds" in document:
        want_h = {(h["id"], h["released_at"] is None) for h in got["holds"]}
        have_h = {(h.get("id"), h.get("released_at") is None) for h in document["holds"] or []}
        if want_h != have_h:
            out.append(
                f"project {code}: replaying its audit trail gives holds {sorted(want_h)} "
                f"(id, active), but the document has {sorted(have_h)}"
            )
    want_t = {r: sorted(u) for r, u in (got.get("team") or {}).items()}
    have_t = {r: sorted(u) for r, u in (document.get("team") or {}).items()}
    if want_t != have_t:
        out.append(
            f"project {code}: replaying its audit trail gives the team {want_t}, but the "
            f"document has {have_t}"
        )
    return out


def _compare_budget(code: str, stored: Any, replayed: Any) -> list[str]:
    """Quotes and cost totals per phase: the document against its replayed trail."""
    from decimal import Decimal

    def figures(doc: Any) -> dict[str, tuple[Any, Decimal, Decimal]]:
        phases = (doc or {}).get("phases") or {}
        return {
            pid: (
                Decimal(v["quoted"]) if v.get("quoted") is not None else None,
                Decimal(v.get("committed") or "0"),
                Decimal(v.get("actual") or "0"),
            )
            for pid, v in phases.items()
        }

    want, have = figures(replayed), figures(stored)
    out = []
    for pid in sorted(want.keys() | have.keys()):
        w = want.get(pid, (None, Decimal(0), Decimal(0)))
        h = have.get(pid, (None, Decimal(0), Decimal(0)))
        if w != h:
            out.append(
                f"project {code}: replaying its audit trail gives phase {pid} a budget of "
                f"quoted {w[0]}, committed {w[1]}, actual {w[2]}, but the document has quoted "
                f"{h[0]}, committed {h[1]}, actual {h[2]}"
            )
    return out
