"""The sign-off form of a waiting gate: a pydantic model built per suspend, and its markdown.

The model is built with ``create_model`` from the database state at the moment of the
suspend, so the role select holds exactly the roles still missing and the decision select
exactly the gate's allowed decisions. Prefect's UI renders ``Literal`` as selects,
``SecretStr`` as a password input (JSON Schema ``format: password``), ``Field(title=...,
description=...)`` as label and help text, and ``json_schema_extra={"position": n}`` orders
the fields. The markdown returned by :func:`describe` is shown above the form.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..domain.project import Project
from ..domain.records import GateReview, Meaning
from ..domain.views import must_meet_items
from .naming import ui_time
from .state import Attempt

REFRESH = "refresh"
SIGN = "sign"


class SignOffInput(BaseModel):
    """What the flow accepts back, whatever form version the UI rendered (lenient on purpose).

    The service re-validates everything (re-authentication, role, independence, decision),
    so this model only gives the raw input a shape.
    """

    model_config = ConfigDict(extra="ignore")

    action: str = SIGN
    user: str = ""
    role: str = ""
    decision: str = ""
    meaning: str = Meaning.APPROVAL.value
    comment: str | None = None
    conditions: list[str] = Field(default_factory=list)
    password: SecretStr = SecretStr("")


REFRESH_INPUT: dict[str, Any] = {"action": REFRESH, "user": "", "password": ""}
"""What a hook sends to make a waiting run re-read the database (valid for every form)."""


def _literal(values: list[str]) -> Any:
    return Literal[tuple(values)]


def _select(values: list[str], position: int) -> Any:
    """JSON Schema extra for a select: always ``enum``, even with one value.

    pydantic writes a one-value ``Literal`` as ``const``, which the UI does not render as a
    select (with one role left to sign, the form had no role select at all).
    """

    def extra(schema: dict[str, Any]) -> None:
        schema.pop("const", None)
        schema["enum"] = list(values)
        schema["type"] = "string"
        schema["position"] = position

    return extra


def build_form(project: Project, review: GateReview, description: str) -> type[Any]:
    """A ``RunInput`` subclass for this review's sign-off form, with ``description`` on top."""
    from prefect.input import RunInput
    from pydantic import create_model

    gdef = project.snapshot.gates[review.gate]
    missing = [m["role"] for m in project.missing(review)] or [q.role for q in gdef.signoffs]
    decisions = [d.value for d in gdef.decisions]
    meanings = [m.value for m in Meaning]

    def extra(position: int) -> dict[str, Any]:
        return {"position": position}

    fields: dict[str, Any] = {
        "user": (
            str,
            Field(
                title="User id",
                description="Your cdmo user id (e.g. demo-pm). You sign as yourself only.",
                json_schema_extra=extra(0),
            ),
        ),
        "role": (
            _literal(missing),
            Field(
                default=missing[0],
                title="Role",
                description="The role you sign for: only roles still missing are offered.",
                json_schema_extra=_select(missing, 1),
            ),
        ),
        "decision": (
            _literal(decisions),
            Field(
                default=decisions[0],
                title="Decision",
                description="Your decision. The most conservative decision of all signers wins; "
                "hold, recycle or kill from a veto role decides at once.",
                json_schema_extra=_select(decisions, 2),
            ),
        ),
        "meaning": (
            _literal(meanings),
            Field(
                default=Meaning.APPROVAL.value,
                title="Meaning of the signature",
                description="What your signature means (21 CFR 11.50): approval, review, "
                "responsibility or authorship.",
                json_schema_extra=_select(meanings, 3),
            ),
        ),
        "comment": (
            str,
            Field(
                default="",
                title="Comment",
                description="Optional; recorded with the signature.",
                json_schema_extra=extra(4),
            ),
        ),
        "conditions": (
            list[str],
            Field(
                default_factory=list,
                title="Conditions",
                description="Only with a conditional-go: one condition per entry. The next "
                "phases' gates stay shut until each is closed with evidence.",
                json_schema_extra=extra(5),
            ),
        ),
        "password": (
            SecretStr,
            Field(
                title="Password",
                description="Your cdmo password: every signature re-authenticates "
                "(21 CFR 11.200). It is removed from Prefect as soon as it is read.",
                json_schema_extra=extra(6),
            ),
        ),
        "action": (
            _literal([SIGN, REFRESH]),
            Field(
                default=SIGN,
                title="Action",
                description="Keep 'sign'. 'refresh' only re-reads the project and waits again.",
                json_schema_extra=_select([SIGN, REFRESH], 7),
            ),
        ),
    }
    name = "SignOff_" + "".join(ch if ch.isalnum() else "_" for ch in review.gate)
    model = create_model(name, __base__=RunInput, **fields)
    return model.with_initial_data(description=description)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def describe(
    project: Project,
    review: GateReview,
    names: dict[str, str],
    attempt: Attempt | None = None,
    note: str | None = None,
) -> str:
    """The markdown above the form: what the gatekeepers review before they sign."""
    gdef, pdef = project.gate_def(review.gate)
    run = project.phases[pdef.id]
    lines = [
        f"## {project.code} · {gdef.name}",
        "",
        f"**Customer:** {_cell(project.customer)} · **Process:** "
        f"{_cell(project.snapshot.process.name)} · **Phase:** {_cell(pdef.name)} "
        f"(cycle {run.cycle}) · **Review** #{review.number}, opened {ui_time(review.opened_at)}",
        "",
    ]
    if gdef.description:
        lines += [f"> {_cell(gdef.description)}", ""]
    problem = None
    if attempt is not None and attempt.outcome == "refused":
        problem = (
            f"**The last sign-off attempt was refused** ({ui_time(attempt.at)}, user "
            f"`{attempt.actor}`): {_cell(attempt.reason)} [rule: {attempt.rule}]"
        )
    if note:
        problem = f"**The last input was not accepted:** {_cell(note)}"
    if problem:
        lines += [f"> ⚠️ {problem}", ""]
    # A list, not a table: a five-column table wrapped every cell in the narrow resume dialog.
    lines += ["### Must-meet items", ""]
    for item in must_meet_items(project, review.gate):
        mark = "✅" if item["done"] else ("⬜" if item["required"] else "➖")
        line = f"- {mark} **{_cell(item['kind'])}:** {_cell(item['name'])}"
        if item["done"]:
            by = names.get(item["by"], item["by"]) if item["by"] else ""
            line += f" — evidence `{_cell(item['evidence'])}`, {_cell(by)}, {ui_time(item['at'])}"
        elif not item["required"]:
            line += " — optional"
        else:
            line += " — _open_"
        lines.append(line)
    lines += ["", "### Signatures so far", ""]
    if review.signatures:
        lines += ["| Printed name | Role | Decision | Meaning | Signed at (UTC) | Comment |"]
        lines += ["|---|---|---|---|---|---|"]
        for s in review.signatures:
            comment = s.comment or ""
            if s.conditions:
                comment = (comment + " Conditions: " + "; ".join(s.conditions)).strip()
            lines.append(
                f"| {_cell(s.name)} (`{s.user}`) | {s.role} | {s.decision.value} "
                f"| {s.meaning.value} | {ui_time(s.signed_at)} | {_cell(comment)} |"
            )
    else:
        lines.append("_No signature yet._")
    lines += ["", "### Still missing", ""]
    signed = {s.user for s in review.signatures}
    independent = {q.role for q in gdef.signoffs if q.independent}
    for m in project.missing(review):
        people = [
            f"{names.get(u, u)} (`{u}`)"
            for u in project.team.get(m["role"], [])
            if u not in signed and not (m["role"] in independent and u in run.contributors)
        ]
        who = ", ".join(people) if people else "_nobody eligible is assigned_"
        lines.append(f"- **{m['role']}** × {m['needed']}: {who}")
    lines += [
        "",
        f"Allowed decisions: {', '.join(d.value for d in gdef.decisions)}. "
        "Fill in the form below and press **Resume** to sign; the run re-reads the project "
        "after each sign-off and waits for the next one.",
    ]
    return "\n".join(lines)
