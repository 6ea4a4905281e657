"""``cdmo audit verify --deep``: the stored project document against its audit trail.

First version: the accepted rows' domain events are folded into the facts the trail vouches
for (each signature, each gate decision, each phase's state, each current deliverable and
check, the project's state), and the document is compared with them both ways. A signature,
decision or phase state in the document without its audit row, or an audited one missing from
the document, is reported; so is a document edited behind the engine in any of those facts.

A full replay (re-applying each row's command through ``domain.Project``) needs the exact
time the core used (``now``) in each row; see docs/architecture.md.
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
            problems.extend(compare(code, stored.document, uow.audit.rows(code)))
    return compared, problems
