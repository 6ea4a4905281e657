"""``cdmo audit verify --deep``: each project document against its accepted audit rows.

Two checks, both pure (the rows, the pinned snapshot and the document; no other state):

1. ``compare``: the rows' domain events are folded into the facts the trail vouches for
   (each signature, each gate decision, each phase's state, each current deliverable and
   check, the project's state) and compared with the document both ways. A signature,
   decision or phase state in the document without its audit row, or an audited one missing
   from the document, is named.
2. ``replay``: each accepted row's command is re-applied through ``domain.Project`` in seq
   order (start, deliverable, check, condition, sign, hold, resume). A row the core's rules
   refuse is named (a hash-correct, checkpointed row can still be one the engine would never
   have accepted); otherwise the replayed project is compared with the document on states,
   cycles, items, reviews, signatures and conditions.

Times: a row's ``new`` records the time of evidence, signatures, holds and closed conditions,
and the replay uses it; for a start or a resume the row's ``at`` stands in for the core's
``now`` (taken a moment earlier), so times and record hashes are not compared. Recording the
core's ``now`` as the row's ``at`` would make the replay exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .source import Source, unit_of_work

SIGNATURE_FIELDS = ("name", "role", "decision", "meaning", "signed_at", "record_hash")


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
            elif name == "deliverable.submitted" and phase:
                t.items.setdefault(phase, {"deliverables": set(), "checks": set()})
                t.items[phase]["deliverables"].add(str(data.get("deliverable")))
            elif name == "check.confirmed" and phase:
                t.items.setdefault(phase, {"deliverables": set(), "checks": set()})
                t.items[phase]["checks"].add(str(data.get("check")))
            elif name == "gate.signed" and gate:
                key = (str(gate), int(data.get("review") or 0), str(data.get("user")))
                t.signatures[key] = {k: data.get(k) for k in SIGNATURE_FIELDS}
                t.seq_of[key] = seq
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
        codes = [chain] if chain is not None else [p.code for p in uow.projects.list()]
        for code in codes:
            stored = uow.projects.get(code)
            if stored is None:
                continue
            compared += 1
            found = compare(code, stored.document, uow.audit.rows(code))
            snapshot_doc = uow.snapshots.get(stored.version_hash)
            if snapshot_doc is not None:
                from cdmo_workflow.spec.models import ProcessSnapshot

                snapshot = ProcessSnapshot.model_validate(snapshot_doc)
                replayed, refused = replay(code, uow.audit.rows(code), snapshot)
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


def replay(code: str, rows: Iterable[Mapping[str, Any]], snapshot: Any) -> tuple[Any, list[str]]:
    """Re-apply each accepted row's command through the pure core (``domain.Project``).

    Returns (the replayed project or None, sentences): a row the core refuses is named, and
    the replay stops there. Times are taken from the row's ``new`` where it records them
    (evidence, signature, hold); otherwise the row's ``at`` stands in for the core's ``now``,
    so times and record hashes are not compared (see ``compare_replay``).
    """
    from datetime import UTC

    from cdmo_workflow.domain.errors import EngineError
    from cdmo_workflow.domain.project import Project, Signer

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
                    snapshot,
                    {r: list(u) for r, u in (new.get("team") or {}).items()},
                    actor,
                    at,
                    by_is_admin=True,  # the row was accepted; who may start is not replayed
                )
            elif project is None:
                problems.append(
                    f"project {code}: audit row seq {seq} ({action}) comes before the row that "
                    "started the project"
                )
                return None, problems
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
            elif action == "gate.sign":
                project.sign(
                    str(new.get("gate")),
                    Signer(str(new.get("user")), str(new.get("name"))),
                    str(new.get("role")),
                    str(new.get("decision")),
                    str(new.get("meaning")),
                    _time(new.get("signed_at"), at),
                    comment=new.get("comment"),
                    conditions=list(new.get("conditions") or []),
                )
            elif action == "project.hold":
                project.put_on_hold(actor, str(new.get("reason")), _time(new.get("at"), at))
            elif action == "project.resume":
                reason = next(
                    (
                        (e.get("data") or {}).get("reason")
                        for e in row.get("events") or []
                        if isinstance(e, Mapping) and e.get("name") == "project.resumed"
                    ),
                    None,
                )
                project.resume(actor, str(reason or ""), at)
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
    want_c = {(c["id"], c["state"]) for c in got["conditions"]}
    have_c = {(c.get("id"), c.get("state")) for c in document.get("conditions") or []}
    if want_c != have_c:
        out.append(
            f"project {code}: replaying its audit trail gives conditions {sorted(want_c)}, but "
            f"the document has {sorted(have_c)}"
        )
    return out
