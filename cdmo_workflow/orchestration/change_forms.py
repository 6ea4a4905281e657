"""The change-request actions of the UI: propose, submit, sign, withdraw (``actions.py`` runs
them like every other action: a form of choices from the database, the password deleted
from Prefect at once, the same service function as the CLI, Refused with one line).

The sign form is an electronic signature like a gate sign-off: the request, role, decision
and meaning are required selects that start empty (no preselected choice), the password is
asked every time, and the form shows what is signed (the request's title, reason, impacts,
target version, approvers, the signatures so far and the record's SHA-256). The propose
form takes a git revision of the definitions as the target version, never a folder: a
folder would be a path on the worker.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..domain import change_control as cc
from ..domain.change_records import OPEN_STATES, ChangeRequest, ChangeState
from ..domain.records import ChangeDecision, Meaning
from ..markup import md
from ..service import changes
from .action_fields import NothingToDo, _choice, _text
from .forms import _literal, _select

CHANGE_ACTIONS: dict[str, Any] = {
    "propose_change": changes.propose_change,
    "submit_change": changes.submit_change,
    "sign_change": changes.sign_change,
    "withdraw_change": changes.withdraw_change,
}

CHANGE_TITLES = {
    "propose_change": "Propose a change request",
    "submit_change": "Submit a change request for approval",
    "sign_change": "Sign a change request",
    "withdraw_change": "Withdraw a change request",
}

STATES = {
    "submit_change": (ChangeState.DRAFT,),
    "sign_change": (ChangeState.SUBMITTED,),
    "withdraw_change": OPEN_STATES,
}
PICK_STATES = ["active", "on-hold"]
"""Projects a change request can be made on (not completed or killed)."""
TITLE_MAX = 200
REASON_MAX = 2000


def _label(cr: ChangeRequest) -> str:
    title = cr.title if len(cr.title) <= 70 else cr.title[:67] + "..."
    return f"{cr.id}: {' '.join(title.split())} [{cr.state.value}]"


def change_choices(ctx: Any, name: str, code: str | None) -> dict[str, dict[str, Any]]:
    """For each select of the form: shown value → the service arguments it stands for."""
    if name == "propose_change":
        return {}
    assert code is not None
    from .. import service

    project = service.load_project(ctx, code)
    wanted = STATES[name]
    requests = [c for c in project.change_requests if c.state in wanted]
    out: dict[str, dict[str, Any]] = {"change": {_label(c): {"cr": c.id} for c in requests}}
    if name == "sign_change":
        roles: list[str] = []
        for c in requests:
            for m in c.missing():
                if m["role"] not in roles:
                    roles.append(m["role"])
        out["role"] = {r: {"role": r} for r in roles}
    return out


def change_fields(name: str, opts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The form's fields (besides user id and password) for a change-request action."""

    def optional(title: str, description: str, position: int, limit: int = 64) -> Any:
        return (
            str,
            Field(
                default="",
                title=title,
                description=description,
                max_length=limit,
                json_schema_extra={"position": position},
            ),
        )

    def long_text(title: str, description: str, position: int, limit: int) -> Any:
        return (
            str,
            Field(
                title=title,
                description=description,
                min_length=1,
                max_length=limit,
                json_schema_extra={"position": position},
            ),
        )

    fields: dict[str, Any] = {}
    if name == "propose_change":
        fields["title"] = long_text("Title", "What changes, in a line.", 0, TITLE_MAX)
        fields["reason"] = long_text(
            "Reason", "Why; the customer reads it and it is signed.", 1, REASON_MAX
        )
        fields["schedule_impact"] = optional(
            "Schedule impact",
            "Optional: how far the remaining plan moves, e.g. 10bd, 2w; -5d brings it forward.",
            2,
            32,
        )
        fields["cost_impact"] = optional(
            "Cost impact", "Optional: an exact amount, e.g. 12500.00.", 3, 32
        )
        fields["currency"] = optional(
            "Currency", "ISO 4217 code of the cost impact, e.g. EUR.", 4, 3
        )
        fields["to_version"] = optional(
            "Target version",
            "Optional: a git revision (tag, branch or commit) of the definitions repository "
            "the project should move to. Folders are not accepted here.",
            5,
            500,
        )
        return fields
    fields["change"] = _choice(
        "Change request",
        "Change requests you can act on (id: title [state]).",
        list(opts["change"]),
        0,
    )
    if name == "withdraw_change":
        fields["reason"] = _text("Reason", "Why it is withdrawn; recorded and sent.", 1)
    if name == "sign_change":
        roles = list(opts.get("role") or {})
        fields["role"] = _choice(
            "Role", "The approver role you sign for: only roles still missing.", roles, 1
        )
        decisions = [d.value for d in ChangeDecision]
        fields["decision"] = (
            _literal(decisions),
            Field(
                title="Decision",
                description="approve, or reject: a reject by any required approver rejects "
                "the request at once (say why in the comment).",
                json_schema_extra=_select(decisions, 2),
            ),
        )
        meanings = [m.value for m in Meaning]
        fields["meaning"] = (
            _literal(meanings),
            Field(
                title="Meaning of the signature",
                description="What your signature means (21 CFR 11.50): approval, review, "
                "responsibility or authorship.",
                json_schema_extra=_select(meanings, 3),
            ),
        )
        fields["comment"] = optional(
            "Comment", "Optional; required with reject. Recorded with the signature.", 4, 2000
        )
    return fields


def change_arguments(
    name: str, code: str | None, data: dict[str, Any], opts: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The service function's keyword arguments from the form's values."""
    by = str(data.get("user") or "").strip()

    def text(key: str) -> str | None:
        value = str(data.get(key) or "").strip()
        return value or None

    if name == "propose_change":
        return {
            "code": code,
            "by": by,
            "title": str(data.get("title") or "").strip(),
            "reason": str(data.get("reason") or "").strip(),
            "schedule_impact": text("schedule_impact"),
            "cost_impact": text("cost_impact"),
            "currency": text("currency"),
            "to_version": text("to_version"),
            "allow_folder": False,
        }
    chosen = opts["change"].get(str(data.get("change")))
    if chosen is None:
        raise NothingToDo(f"{data.get('change')!r} cannot be acted on any more; start again")
    if name == "sign_change":
        role = opts["role"].get(str(data.get("role")))
        if role is None:
            raise NothingToDo(f"role {data.get('role')!r} is not missing any more")
        return {
            "code": code,
            "user": by,
            "decision": str(data.get("decision") or ""),
            "meaning": str(data.get("meaning") or ""),
            "comment": text("comment"),
            **chosen,
            **role,
        }
    args = {"code": code, "by": by, **chosen}
    if name == "withdraw_change":
        args["reason"] = str(data.get("reason") or "").strip()
    return args


def describe_changes(ctx: Any, name: str, code: str) -> list[str]:
    """Markdown lines above the form: each request it offers, with what a signature signs."""
    if name == "propose_change":
        return [
            "",
            "A new request is a **draft**; submit it (the submit-change deployment) to send it "
            "to its approvers.",
        ]
    from .. import service

    project = service.load_project(ctx, code)
    lines: list[str] = []
    for cr in project.change_requests:
        if cr.state not in STATES[name]:
            continue
        v = cc.view(project, cr)
        lines += ["", f"### {md(cr.id)}: {md(cr.title)}", "", f"- Reason: {md(cr.reason)}"]
        if cr.schedule_impact:
            lines.append(f"- Schedule impact: {md(cr.schedule_impact)}")
        if cr.cost_impact:
            lines.append(f"- Cost impact: {md(cr.cost_impact)} {md(cr.currency)}")
        if cr.target:
            lines.append(
                f"- Moves to definition version {md(cr.target.version_hash[:12])} "
                f"({md(cr.target.ref)})"
            )
        approvers = ", ".join(f"{md(a['role'])} × {md(a['min'])}" for a in cr.approvers)
        lines.append(f"- Approvers: {approvers}")
        for s in v["signatures"]:
            lines.append(f"- Signed: {md(s['manifestation'])}")
        if v["missing"]:
            lines.append(
                "- Missing: "
                + ", ".join(f"{md(m['role'])} × {md(m['needed'])}" for m in v["missing"])
            )
        lines.append(f"- Record: sha256 {md(v['record_hash'])}")
    if name == "sign_change":
        lines += [
            "",
            "By entering your password and pressing Resume you sign the chosen change request "
            "with the decision, in the role and with the meaning you chose. Your printed name, "
            "the time and the meaning are recorded with the signature, linked to the SHA-256 of "
            "the request's record. The password is removed from Prefect as soon as it is read.",
        ]
    return lines
