"""The sign-off form of a waiting gate: a pydantic model built per suspend, and its markdown.

The model is built with ``create_model`` from the database state at the moment of the
suspend, so the role select holds exactly the roles still missing and the decision select
exactly the gate's allowed decisions. Prefect's UI renders ``Literal`` as selects,
``SecretStr`` as a password input (JSON Schema ``format: password``), ``Field(title=...,
description=...)`` as label and help text, and ``json_schema_extra={"position": n}`` orders
the fields. The markdown returned by :func:`describe` is shown above the form.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..domain.project import Project
from ..domain.records import GateReview, Meaning
from ..domain.views import must_meet_items
from ..markup import link, md
from .naming import ui_time
from .reads import Attempt

REFRESH = "refresh"
SIGN = "sign"
USER_MAX = 64


class SignOffInput(BaseModel):
    """What the flow accepts back, whatever form version the UI rendered (lenient on purpose).

    The service re-validates everything (re-authentication, role, independence, decision),
    so this model only gives the raw input a shape. ``action`` is not on the form: only the
    refresh input that hooks send carries it (see :func:`refresh_input`).
    """

    model_config = ConfigDict(extra="ignore")

    action: str = SIGN
    user: str = ""
    role: str = ""
    decision: str = ""
    meaning: str = ""
    comment: str | None = None
    conditions: list[str] = Field(default_factory=list)
    on_behalf_of: str = ""
    password: SecretStr = SecretStr("")


REFRESH_INPUT: dict[str, Any] = {"action": REFRESH, "user": "", "password": ""}
"""The refresh marker of older forms (no required select). Use :func:`refresh_input`."""

_PLACEHOLDER = "refresh"
REFRESH_MARKER = "cdmo:refresh:7c1e"
"""The refresh marker: the value of the form's optional ``comment`` in a refresh input."""


def refresh_input(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A refresh input valid for the form whose JSON schema is ``schema``.

    The sign-off form's selects are required and have no default (the signer must choose),
    and Prefect stores the schema with ``additionalProperties: false``, so the bare
    :data:`REFRESH_INPUT` is refused by the server. This fills every required field with a
    placeholder the schema accepts (a select's first option, ``"refresh"`` for text, an
    empty list) and marks the input as a refresh: ``comment`` = :data:`REFRESH_MARKER` (and
    ``action: refresh`` on older forms that have that field). The run checks the marker
    first and only re-reads the database: nothing in a refresh is ever used as a sign-off.
    """
    if not schema:
        return dict(REFRESH_INPUT)
    out: dict[str, Any] = {}
    props = schema.get("properties") or {}
    for name in schema.get("required") or []:
        prop = props.get(name) or {}
        if prop.get("enum"):
            out[name] = prop["enum"][0]
        elif prop.get("type") == "array":
            out[name] = []
        else:
            out[name] = _PLACEHOLDER
    if "comment" in props:
        out["comment"] = REFRESH_MARKER
    if "action" in props or "comment" not in props:
        out["action"] = REFRESH
    return out


def refresh_input_for(client: Any, run: Any) -> dict[str, Any]:
    """:func:`refresh_input` for a waiting run, from the form schema the run stored."""
    schema: dict[str, Any] | None = None
    try:
        keyset = run.state.state_details.run_input_keyset or {}
        raw = client.read_flow_run_input(flow_run_id=run.id, key=keyset["schema"])
        schema = json.loads(raw) if isinstance(raw, str) and raw else None
    except Exception:  # old run, no schema, API hiccup: the plain marker
        schema = None
    return refresh_input(schema)


def is_refresh(inp: SignOffInput) -> bool:
    """True for a hook's refresh input (see :func:`refresh_input`)."""
    return inp.action == REFRESH or inp.comment == REFRESH_MARKER


def _literal(values: list[str]) -> Any:
    return Literal[tuple(values)]


def _select(values: list[str], position: int) -> Any:
    """JSON Schema extra for a select: always ``enum``, even with one value.

    pydantic writes a one-value ``Literal`` as ``const``, which the UI does not render as a
    select (with one role left to sign, the form had no role select at all).
    """

    def extra(schema: dict[str, Any]) -> None:
        schema.pop("const", None)
        schema.pop("default", None)
        schema["enum"] = list(values)
        schema["type"] = "string"
        schema["position"] = position

    return extra


def signature_statement(project: Project, review: GateReview) -> str:
    """What the signature means, shown with the password field (21 CFR 11.50)."""
    gdef = project.snapshot.gates[review.gate]
    return (
        f"By entering your password and pressing Resume you sign gate '{gdef.name}' of "
        f"{project.code} (review #{review.number}) with the decision, in the role and with "
        "the meaning you chose above (approval, review, responsibility or authorship). Your "
        "printed name, the time and the meaning are recorded with the signature. The password "
        "is removed from Prefect as soon as it is read."
    )


def build_form(project: Project, review: GateReview, description: str) -> type[Any]:
    """A ``RunInput`` subclass for this review's sign-off form, with ``description`` on top.

    Role, decision and meaning are required selects without a default: they start empty and
    the UI refuses to submit the form until the signer has chosen each one.
    """
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
                description="Your cdmo user id (e.g. demo-pm), one word. You sign as yourself "
                "only.",
                min_length=1,
                max_length=USER_MAX,
                pattern=r"^\S+$",
                json_schema_extra=extra(0),
            ),
        ),
        "role": (
            _literal(missing),
            Field(
                title="Role",
                description="The role you sign for: only roles still missing are offered.",
                json_schema_extra=_select(missing, 1),
            ),
        ),
        "decision": (
            _literal(decisions),
            Field(
                title="Decision",
                description="Your decision. The most conservative decision of all signers wins; "
                "hold, recycle or kill from a veto role decides at once.",
                json_schema_extra=_select(decisions, 2),
            ),
        ),
        "meaning": (
            _literal(meanings),
            Field(
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
                "phases' gates stay shut until its owner closes it with evidence and the "
                "raiser's role or QA accepts the closure (owner and due date: the defaults, "
                "or set them with `cdmo gate sign --condition-owner/--condition-due`).",
                json_schema_extra=extra(5),
            ),
        ),
        "on_behalf_of": (
            str,
            Field(
                default="",
                title="On behalf of",
                description="Leave empty to sign as yourself. A delegate enters the user id of "
                "the person they sign for (a delegation from that person must be in force); "
                "the signature shows both names.",
                max_length=USER_MAX,
                json_schema_extra=extra(6),
            ),
        ),
        "password": (
            SecretStr,
            Field(
                title="Password",
                description=signature_statement(project, review),
                json_schema_extra=extra(7),
            ),
        ),
    }
    name = "SignOff_" + "".join(ch if ch.isalnum() else "_" for ch in review.gate)
    model = create_model(name, __base__=RunInput, **fields)
    return model.with_initial_data(description=description)


def _cell(value: Any) -> str:
    return md(value)


def refusal_text(attempt: Attempt | None, note: str | None, seq: int | None = None) -> str | None:
    """One line saying why the last input was not accepted, or None.

    A refused sign-off comes from the audit trail (``attempt``); it counts only while it is
    the project's latest audit row (``seq``), so an older refusal is not shown as news.
    The rule is shown once (the audited reason may already end with ``[rule: ...]``).
    """
    if note:
        return f"The last input was not accepted: {note}"
    if attempt is None or attempt.outcome != "refused":
        return None
    if seq is not None and attempt.seq != seq:
        return None
    reason = (attempt.reason or "refused").strip()
    tag = f"[rule: {attempt.rule}]" if attempt.rule else ""
    if tag and tag not in reason:
        reason = f"{reason} {tag}"
    return f"Sign-off by {attempt.actor} refused at {ui_time(attempt.at)}: {reason}"


def describe(
    project: Project,
    review: GateReview,
    names: dict[str, str],
    attempt: Attempt | None = None,
    note: str | None = None,
    links: dict[str, str] | None = None,
    seq: int | None = None,
) -> str:
    """The markdown above the form: what the gatekeepers review before they sign.

    Every piece of user text is escaped (:func:`cdmo_workflow.markup.md`); links are only
    written for http(s) URLs or same-site paths (:func:`cdmo_workflow.markup.link`).
    ``links`` may hold ``artifact`` and one entry per action deployment name.
    """
    gdef, pdef = project.gate_def(review.gate)
    run = project.phases[pdef.id]
    links = links or {}
    lines: list[str] = []
    problem = refusal_text(attempt, note, seq)
    if problem:
        # First line of the description: what the signer sees when the dialog reopens.
        lines += [f"> ⚠️ **REFUSED.** {md(problem)}", ""]
    lines += [
        f"## {md(project.code)} · {md(gdef.name)}",
        "",
        f"**Customer:** {_cell(project.customer)} · **Process:** "
        f"{_cell(project.snapshot.process.name)} · **Phase:** {_cell(pdef.name)} "
        f"(cycle {run.cycle}) · **Review** #{review.number}, opened {ui_time(review.opened_at)}",
        "",
    ]
    if gdef.description:
        lines += [f"> {_cell(gdef.description)}", ""]
    way_in = []
    if links.get("artifact"):
        way_in.append(link("Project artifact (phases, open items, audit)", links["artifact"]))
    for name in ("submit-deliverable", "confirm-check", "close-condition"):
        if links.get(name):
            way_in.append(link(f"{name} deployment", links[name]))
    if way_in:
        lines += ["The phase's work: " + " · ".join(way_in), ""]
    # A list, not a table: a five-column table wrapped every cell in the narrow resume dialog.
    lines += ["### Must-meet items", ""]
    for item in must_meet_items(project, review.gate):
        mark = "[done]" if item["done"] else ("[open]" if item["required"] else "[optional]")
        line = f"- {mark} **{_cell(item['kind'])}:** {_cell(item['name'])}"
        if item["done"]:
            by = names.get(item["by"], item["by"]) if item["by"] else ""
            line += f" — evidence {_cell(item['evidence'])}, {_cell(by)}, {ui_time(item['at'])}"
        elif item["required"]:
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
            behalf = ""
            if s.on_behalf_of:  # a delegate's signature shows both names
                who = names.get(s.on_behalf_of, s.on_behalf_of_name or s.on_behalf_of)
                behalf = f" on behalf of {_cell(who)} ({_cell(s.on_behalf_of)})"
            lines.append(
                f"| {_cell(s.name)} ({_cell(s.user)}){behalf} | {_cell(s.role)} "
                f"| {s.decision.value} | {s.meaning.value} | {ui_time(s.signed_at)} "
                f"| {_cell(comment)} |"
            )
    else:
        lines.append("_No signature yet._")
    lines += ["", "### Still missing", ""]
    signed = {u for s in review.signatures for u in s.people}
    independent = {q.role for q in gdef.signoffs if q.independent}
    for m in project.missing(review):
        people = [
            f"{_cell(names.get(u, u))} ({_cell(u)})"
            for u in project.team.get(m["role"], [])
            if u not in signed and not (m["role"] in independent and u in run.contributors)
        ]
        who = ", ".join(people) if people else "_nobody eligible is assigned_"
        lines.append(f"- **{_cell(m['role'])}** × {m['needed']}: {who}")
    lines += [
        "",
        "### What your signature means",
        "",
        f"You sign gate **{md(gdef.name)}** of **{md(project.code)}**. Choose your role, your "
        f"decision (allowed: {', '.join(d.value for d in gdef.decisions)}) and the meaning "
        "(approval, review, responsibility or authorship); nothing is pre-selected. Enter your "
        "password and press **Resume**.",
        "",
        "After Resume, reload the run page after a few seconds: the run has either recorded "
        "your signature (*signature recorded* in the Logs tab; it appears under *Signatures so "
        "far* when you open Resume again) or refused it: the Logs tab shows the refusal as a "
        "warning, and the run waits again with **REFUSED** and the reason as its state message "
        "and as the first line of this form.",
    ]
    return "\n".join(lines)
