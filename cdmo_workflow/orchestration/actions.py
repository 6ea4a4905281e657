"""Body of the action flows: a form with choices from the database, then one service call.

An action deployment (start project, submit deliverable, confirm check, close and accept
condition, hold, resume, release a quality hold) takes at most the project code as its
parameter. Its run suspends with a form
built like the sign-off form: selects from the database (the deliverables, checks and
conditions still open; the processes for a new project; the projects when none was given),
the actor's user id and password (``SecretStr``). The run reads its input and deletes it
from Prefect at once (no credential stays in Prefect's database: not in parameters, run
inputs, logs or artifacts), then calls the same service function as the CLI, with an
idempotency key derived from the flow run id.

A refused action (a rule, a wrong password, an unknown project) never shows a traceback:
the run ends in a Completed-type state named **Refused** with a one-line message (a Failed
state returned by a flow makes Prefect log a traceback), and a markdown result artifact
says what was refused and why. An accepted one ends Completed with a result artifact.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .. import service
from ..domain.errors import EngineError, NotFound
from ..markup import md
from . import naming
from .action_fields import NothingToDo, _choice, _text
from .change_forms import (
    CHANGE_ACTIONS,
    CHANGE_TITLES,
    PICK_STATES,
    change_arguments,
    change_choices,
    change_fields,
    describe_changes,
)
from .forms import USER_MAX
from .gate_review import flow_context, relay_now, suspend_with_message
from .signoff import _logger, input_keys, pending_inputs


def _release_hold(ctx: Any, *, by: str, password: str, **kw: Any) -> service.CommandResult:
    """A quality hold's release is a signature: the password, never a session."""
    return service.release_hold(ctx, user=by, password=password, **kw)


ACTIONS: dict[str, Callable[..., service.CommandResult]] = {
    "start_project": service.start_project,
    "submit_deliverable": service.submit_deliverable,
    "confirm_check": service.confirm_check,
    "close_condition": service.close_condition,
    "accept_condition": service.accept_condition,
    "hold_project": service.hold_project,
    "resume_project": service.resume_project,
    **CHANGE_ACTIONS,
    "release_hold": _release_hold,
}

TITLES = {
    "start_project": "Start a project",
    "submit_deliverable": "Submit a deliverable",
    "confirm_check": "Confirm a check",
    "close_condition": "Close a condition",
    "accept_condition": "Accept a condition's closure",
    "hold_project": "Put the project (or a phase) on hold",
    "resume_project": "Resume the project",
    **CHANGE_TITLES,
    "release_hold": "Release a quality hold (signature)",
}

WHOLE_PROJECT = "(the whole project)"


REFUSED_STATE = "Refused"
"""Name of the (Completed) final state of a refused action."""

PICK_KEY = "pick-project"
FORM_KEY = "action"


class ActionRefused(Exception):
    """The engine refused the command (already audited); the run ends with the reason."""


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user: str = ""
    password: SecretStr = SecretStr("")


# ---------------------------------------------------------------------- the service call


# ---------------------------------------------------------------------- the forms


def _user_fields() -> dict[str, Any]:
    return {
        "user": (
            str,
            Field(
                title="User id",
                description="Your cdmo user id (e.g. demo-pm), one word; recorded in the "
                "audit trail.",
                min_length=1,
                max_length=USER_MAX,
                pattern=r"^\S+$",
                json_schema_extra={"position": 90},
            ),
        ),
        "password": (
            SecretStr,
            Field(
                title="Password",
                description="Your cdmo password: every action re-authenticates. It is removed "
                "from Prefect as soon as the run reads it.",
                json_schema_extra={"position": 91},
            ),
        ),
    }


def choices(ctx: Any, name: str, code: str | None) -> dict[str, dict[str, Any]]:
    """For each select of the form: shown value → the service arguments it stands for."""
    if name in CHANGE_ACTIONS:
        return change_choices(ctx, name, code)
    if name == "start_project":
        from ..spec.loader import load_catalog

        catalog = load_catalog(ctx.definitions_dir)
        return {"process": {p: {"process_id": p} for p in sorted(catalog.processes)}}
    assert code is not None
    project = service.load_project(ctx, code)
    status = service.project_status(ctx, code)
    if name == "submit_deliverable":
        out: dict[str, Any] = {}
        for ph in status["phases"]:
            if ph["state"] != "active":
                continue
            for d in ph["deliverables"]:
                if d["submitted"] is None:
                    opt = "" if d["required"] else " (optional)"
                    label = f"{ph['name']} / {d['name']}{opt} [{d['id']}, owner {d['owner']}]"
                    out[label] = {"phase": ph["id"], "deliverable": d["id"]}
        return {"deliverable": out}
    if name == "confirm_check":
        out = {}
        for ph in status["phases"]:
            if ph["state"] != "active":
                continue
            for c in ph["checks"]:
                if c["confirmed"] is None:
                    label = f"{ph['name']} / {c['name']} [{c['id']}, by {c['confirmed_by']}]"
                    out[label] = {"gate": ph["gate"], "check": c["id"]}
        return {"check": out}
    if name in ("close_condition", "accept_condition"):
        out = {}
        wanted = "open" if name == "close_condition" else "closed"
        for c in project.conditions:
            if c.state == wanted and (wanted == "open" or c.needs_acceptance):
                text = c.text if len(c.text) <= 80 else c.text[:77] + "..."
                owner = f", owner {c.owner}" if c.owner else ""
                out[f"{c.id}: {text} [{c.state}{owner}]"] = {"condition_id": c.id}
        return {"condition": out}
    if name == "hold_project":
        phases: dict[str, Any] = {WHOLE_PROJECT: {}}
        for ph in status["phases"]:
            if ph["state"] != "completed":
                phases[f"{ph['name']} [{ph['id']}, {ph['state']}]"] = {"phase": ph["id"]}
        return {"scope": phases}
    if name == "release_hold":
        out = {}
        for h in project.holds:
            if h.active and h.quality:
                why = h.reason if len(h.reason) <= 60 else h.reason[:57] + "..."
                out[f"{h.id}: {h.scope}, by {h.by}: {why}"] = {"hold_id": h.id}
        return {"hold": out}
    return {}


def build_action_form(
    ctx: Any, name: str, code: str | None, description: str
) -> tuple[type[Any], dict[str, dict[str, Any]]]:
    """The RunInput class of an action's form, and the map from select values to arguments."""
    from prefect.input import RunInput
    from pydantic import create_model

    opts = choices(ctx, name, code)
    fields: dict[str, Any] = {}
    evidence = _text("Evidence", "Reference to the evidence, e.g. a DMS document id.", 10)
    if name == "start_project":
        fields["code"] = _text("Project code", "New project code, e.g. HX-042; never reused.", 0)
        fields["process"] = _choice(
            "Process", "The process template from definitions/.", list(opts["process"]), 1
        )
        fields["customer"] = _text("Customer", "The sponsor's name.", 2)
        fields["team"] = (
            dict[str, list[str]],
            Field(
                title="Team",
                description='Role to user ids, e.g. {"pm": ["demo-pm"], "qa": ["demo-qa"]}.',
                json_schema_extra={"position": 3},
            ),
        )
    elif name == "submit_deliverable":
        fields["deliverable"] = _choice(
            "Deliverable",
            "Deliverables not submitted yet in the active phases (phase / name [id, owner]).",
            list(opts["deliverable"]),
            0,
        )
        fields["evidence"] = evidence
    elif name == "confirm_check":
        fields["check"] = _choice(
            "Check",
            "Checks not confirmed yet in the active phases (phase / name [id, role]).",
            list(opts["check"]),
            0,
        )
        fields["evidence"] = evidence
    elif name == "close_condition":
        fields["condition"] = _choice(
            "Condition", "Conditions still open (id: text).", list(opts["condition"]), 0
        )
        fields["evidence"] = _text("Evidence", "Reference to the evidence it is met.", 10)
    elif name == "accept_condition":
        fields["condition"] = _choice(
            "Condition",
            "Conditions closed by their owner and waiting for acceptance (the raiser's role or "
            "the quality role accepts; never whoever closed it).",
            list(opts["condition"]),
            0,
        )
    elif name == "hold_project":
        fields["scope"] = _choice(
            "What to hold",
            "The whole project (project manager or quality role), or one phase (quality role "
            "only; only the quality role releases a quality hold).",
            list(opts["scope"]),
            0,
        )
        fields["reason"] = _text("Reason", "Why; recorded and sent to the team.", 1)
    elif name == "resume_project":
        fields["reason"] = _text("Reason", "Why; recorded and sent to the team.", 0)
    elif name in CHANGE_ACTIONS:
        fields.update(change_fields(name, opts))
    elif name == "release_hold":
        from ..domain.records import Meaning

        fields["hold"] = _choice(
            "Quality hold",
            "The active quality holds (id: scope, by: reason).",
            list(opts["hold"]),
            0,
        )
        fields["meaning"] = _choice(
            "Meaning of the signature",
            "What your signature means (21 CFR 11.50): approval, review, responsibility or "
            "authorship.",
            [m.value for m in Meaning],
            1,
        )
        fields["reason"] = _text("Reason", "Why the hold can be released; recorded.", 2)
    fields.update(_user_fields())
    model = create_model("Action_" + name, __base__=RunInput, **fields)
    return model.with_initial_data(description=description), opts


def build_pick_form(ctx: Any, name: str) -> type[Any]:
    from prefect.input import RunInput
    from pydantic import create_model

    states = {
        "resume_project": ["on-hold"],
        "release_hold": ["on-hold", "active"],
        "hold_project": ["active", "on-hold"],
    }.get(name, ["active"])
    if name in CHANGE_ACTIONS:
        states = PICK_STATES
    codes = [p["code"] for p in service.list_projects(ctx, states)]
    if not codes:
        raise NothingToDo(f"no {' or '.join(states)} project")
    fields: dict[str, Any] = {"project": _choice("Project", f"The {states[0]} projects.", codes, 0)}
    model = create_model("Pick_project", __base__=RunInput, **fields)
    text = f"## {md(TITLES[name])}\n\nChoose the project, press **Resume**; the next form asks "
    text += "for the details."
    return model.with_initial_data(description=text)


def describe_action(ctx: Any, name: str, code: str | None) -> str:
    lines = [f"## {md(TITLES[name])}" + (f" · {md(code)}" if code else ""), ""]
    if code:
        base = (ctx.settings.ui_url or "").rstrip("/") or "../.."
        art = f"{base}/artifacts/key/{naming.artifact_key(code)}"
        lines += [f"What is still open, and who owns it: [project artifact]({art}).", ""]
    lines += [
        "Choose from the lists, enter your user id and password and press **Resume**. The run "
        "then ends: **Completed** when the action was recorded, **Refused** with the reason as "
        "its state message when it was refused; its Artifacts tab holds the result either way.",
    ]
    if name in CHANGE_ACTIONS and code:
        lines += describe_changes(ctx, name, code)
    return "\n".join(lines)


def service_arguments(
    name: str, code: str | None, data: dict[str, Any], opts: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The service function's keyword arguments from the form's (validated) values."""
    if name in CHANGE_ACTIONS:
        return change_arguments(name, code, data, opts)
    by = str(data.get("user") or "").strip()
    if name == "start_project":
        chosen = opts["process"].get(str(data.get("process")))
        if chosen is None:
            raise NothingToDo(f"unknown process {data.get('process')!r}")
        team = data.get("team") or {}
        if not isinstance(team, dict):
            raise NothingToDo("team must map roles to lists of user ids")
        return {
            "code": str(data.get("code") or "").strip(),
            "customer": str(data.get("customer") or "").strip(),
            "team": {str(k): [str(u) for u in v] for k, v in team.items()},
            "by": by,
            **chosen,
        }
    args: dict[str, Any] = {"code": code, "by": by}
    field = {
        "submit_deliverable": "deliverable",
        "confirm_check": "check",
        "close_condition": "condition",
        "accept_condition": "condition",
        "hold_project": "scope",
        "release_hold": "hold",
    }.get(name)
    if field:
        chosen = opts[field].get(str(data.get(field)))
        if chosen is None:
            raise NothingToDo(f"{data.get(field)!r} is not open any more; start the action again")
        args.update(chosen)
    if name in ("submit_deliverable", "confirm_check", "close_condition"):
        args["evidence"] = str(data.get("evidence") or "").strip()
    elif name in ("hold_project", "resume_project", "release_hold"):
        args["reason"] = str(data.get("reason") or "").strip()
    if name == "release_hold":
        args["meaning"] = str(data.get("meaning") or "")
    return args


# ---------------------------------------------------------------------- the run


def _inputs(client: Any, run_id: UUID, prefix: str) -> tuple[list[tuple[str, str]], int]:
    """(responses under keys starting with ``prefix``, how many such forms were shown)."""
    responses, used = pending_inputs(client, run_id)
    start = input_keys()[0] + prefix
    mine = [(k, v) for k, v in responses if k.startswith(start)]
    return mine, sum(1 for u in used if u.startswith(prefix))


def _result_artifact(name: str, code: str | None, ok: bool, text: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    head = "Recorded" if ok else "Refused"
    body = f"# {head}: {md(TITLES[name])}" + (f" · {md(code)}" if code else "")
    body += "\n\n" + text
    with contextlib.suppress(Exception):
        create_markdown_artifact(markdown=body, description=f"{head}: {TITLES[name]}")


def run_action(name: str, project: str | None = None) -> Any:
    """The action flow's body. Returns a dict (Completed) or a "Refused" state."""
    from prefect import get_client
    from prefect.context import FlowRunContext
    from prefect.states import Completed

    frc = FlowRunContext.get()
    run_id = frc.flow_run.id if frc is not None and frc.flow_run is not None else None
    if run_id is None:
        raise RuntimeError("run_action must run inside a flow run from a deployment")
    ctx = flow_context(run_id)
    logger = _logger()
    code = (project or "").strip() or None

    def refuse(reason: str) -> Any:
        logger.warning("%s refused: %s", name, reason)
        _result_artifact(name, code, False, f"**Why:** {md(reason)}")
        # A Completed state named "Refused": returning Failed makes Prefect's engine raise
        # at the end of the run and log a traceback in the UI ("Engine execution exited
        # with unexpected exception"), which a refusal must never show.
        return Completed(name=REFUSED_STATE, message=f"Refused: {reason}"[:500])

    with get_client(sync_client=True) as client:
        try:
            if name != "start_project" and code is None:
                picked, shown = _inputs(client, run_id, PICK_KEY)
                if picked:
                    code = str(json.loads(picked[-1][1]).get("project") or "") or None
                else:
                    form = build_pick_form(ctx, name)
                    key = PICK_KEY + (f"-{shown}" if shown else "")
                    _, raw = suspend_with_message(client, run_id, form, key, "Choose the project")
                    code = str((raw or {}).get("project") or "") or None
                if code is None:
                    return refuse("no project chosen")
            if code is not None:
                service.load_project(ctx, code)  # NotFound → refused with the known codes
            responses, shown = _inputs(client, run_id, FORM_KEY)
            form, opts = build_action_form(ctx, name, code, describe_action(ctx, name, code))
            if responses:
                key, raw_text = responses[0]
                client.delete_flow_run_input(flow_run_id=run_id, key=key)  # password gone
                data = json.loads(raw_text) if raw_text else {}
            else:
                key = FORM_KEY + (f"-{shown}" if shown else "")
                message = f"Waiting for the form: {TITLES[name]}"
                input_key, got = suspend_with_message(client, run_id, form, key, message)
                with contextlib.suppress(Exception):
                    client.delete_flow_run_input(flow_run_id=run_id, key=input_key)
                data = got or {}
        except NothingToDo as exc:
            return refuse(str(exc))
        except NotFound as exc:
            known = ", ".join(p["code"] for p in service.list_projects(ctx)) or "none"
            return refuse(f"{exc} (known projects: {known})")
    creds = _Raw.model_validate(data if isinstance(data, dict) else {})
    password = creds.password.get_secret_value()
    data = {k: v for k, v in (data or {}).items() if k != "password"}
    if not creds.user.strip() or not password:
        return refuse("user id and password are both required")
    try:
        args = service_arguments(name, code, data, opts)
    except NothingToDo as exc:
        return refuse(str(exc))
    key_id = f"flow-run:{run_id}"
    try:
        result = ACTIONS[name](ctx, password=password, idempotency_key=key_id, **args)
    except service.Refused as refused:
        reason = str(refused)
        tag = f"[rule: {refused.rule}]"
        return refuse(reason if tag in reason else f"{reason} {tag}")
    except EngineError as exc:
        return refuse(str(exc))
    if result.replayed:
        logger.info("%s was already applied by this run (idempotency key %s)", name, key_id)
    else:
        for e in result.events:
            logger.info("%s: %s %s", e.name, e.phase or "", e.gate or "")
        relay_now(ctx)
    payload: dict[str, Any] = result.to_dict()
    done = ", ".join(md(e["name"]) for e in payload.get("events", [])) or "no event"
    shown_args = ", ".join(f"{md(k)}: {md(v)}" for k, v in args.items() if k != "team")
    _result_artifact(name, result.project, True, f"{shown_args}\n\nEvents: {done}")
    return payload
