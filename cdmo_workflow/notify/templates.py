"""Notification texts: jinja2 templates (subject + body) per notify event.

Times are shown in the recipient's own zone (``users add --tz``, ``users tz``) with the zone
named, through ``local(...)``; storage stays UTC. Amounts through ``money(amount, currency)``.
Defaults live in :data:`DEFAULT_TEMPLATES`; a process overrides them with
``messages: {<event>: {subject: ..., body: ...}}`` (copied into the outbox payload under
``template`` when the row is written). Templates come from definition files, so they render in
a :class:`jinja2.sandbox.SandboxedEnvironment`; unknown names render empty instead of failing.
A template that fails to render falls back to the default one, so a typo never stops a message.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from cdmo_workflow import display

_WHERE = (
    "Project: {{ project_name }}{% if project_name != project %} [{{ project }}]{% endif %}\n"
    "{% if customer %}Customer: {{ customer }}\n{% endif %}"
    "Process: {{ process_name }}\n"
    "{% if phase_name %}Phase: {{ phase_name }}\n{% endif %}"
    "{% if gate_name %}Gate: {{ gate_name }}\n{% endif %}"
)

_CHANGE = (
    "{% if data.schedule_impact %}Schedule impact: {{ data.schedule_impact }}\n{% endif %}"
    "{% if data.cost_impact %}Cost impact: {{ data.cost_impact }} {{ data.currency }}\n"
    "{% endif %}"
    "{% if data.target_version %}Moves to definition version "
    "{{ data.target_version.version_hash[:12] }} ({{ data.target_version.ref }})\n{% endif %}"
)

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    "started": (
        "[{{ project }}] Project started" + "{% if customer %} for {{ customer }}{% endif %}",
        "Project {{ project_name }} has started on process {{ process_name }}.\n\n" + _WHERE,
    ),
    "phase-activated": (
        "[{{ project }}] Phase {{ phase_name }} is active",
        "Phase {{ phase_name }} of {{ project_name }} is now active.\n\n" + _WHERE,
    ),
    "opened": (
        "[{{ project }}] Gate {{ gate_name }} is open for sign-off",
        "Gate {{ gate_name }} of {{ project_name }} is open and waits for sign-offs"
        "{% if roles %} from: {{ roles | join(', ') }}{% endif %}.\n\n" + _WHERE,
    ),
    "signed": (
        "[{{ project }}] {{ name_of(actor) }} signed gate {{ gate_name }}",
        "{{ name_of(actor) }} signed gate {{ gate_name }}"
        "{% if data.on_behalf_of %} on behalf of {{ name_of(data.on_behalf_of) }}"
        " (delegation {{ data.delegation.id }}){% endif %}"
        "{% if data.role %} as {{ data.role }}{% endif %}"
        "{% if data.meaning %} ({{ data.meaning }}){% endif %}"
        "{% if decision %} with decision {{ decision }}{% endif %}.\n\n" + _WHERE,
    ),
    "refused": (
        "[{{ project }}] A command was refused at {{ gate_name or phase_name or project }}",
        "{{ name_of(actor) }} was refused: {{ data.reason or data.rule }}.\n\n" + _WHERE,
    ),
    "decided": (
        "[{{ project }}] Gate {{ gate_name }} decided: {{ decision | upper }}",
        "Gate {{ gate_name }} of {{ project_name }} was decided: {{ decision }}.\n"
        "{% if signers %}Signed by: {{ signers | join(', ') }}\n{% endif %}"
        "{% if data.conditions %}Conditions:\n{% for c in data.conditions %}"
        "  - {{ c.text or c.name or c.id or c }}\n{% endfor %}{% endif %}\n" + _WHERE,
    ),
    "condition-opened": (
        "[{{ project }}] Condition opened at gate {{ gate_name }}",
        "A condition was set at gate {{ gate_name }}: "
        "{{ data.text or data.name or data.condition }}.\n"
        "{% if data.owner %}Owner: {{ data.owner }}\n{% endif %}"
        "{% if data.due_at %}Due: {{ data.due_at }}\n{% endif %}"
        "{% if data.phases %}It blocks the gates of: {{ data.phases | join(', ') }}\n{% endif %}"
        "\n" + _WHERE,
    ),
    "condition-closed": (
        "[{{ project }}] Condition closed at gate {{ gate_name }}",
        "The condition {{ data.text or data.name or data.condition }} at gate {{ gate_name }}"
        " was closed{% if actor %} by {{ name_of(actor) }}{% endif %}"
        "{% if data.evidence %} (evidence: {{ data.evidence }}){% endif %}."
        "{% if data.needs_acceptance %} It waits for acceptance (cdmo condition accept)."
        "{% endif %}\n\n" + _WHERE,
    ),
    "on-hold": (
        "[{{ project }}] {% if event.name == 'phase.on-hold' %}Phase {{ phase_name }}"
        "{% else %}Project{% endif %} on {% if data.quality %}quality {% endif %}hold",
        "{% if event.name == 'phase.on-hold' %}Phase {{ phase_name }} of {{ project_name }}"
        "{% else %}Project {{ project_name }}{% endif %} is on "
        "{% if data.quality %}quality {% endif %}hold"
        "{% if data.hold %} ({{ data.hold }}){% endif %}"
        "{% if data.reason %}: {{ data.reason }}{% endif %}.\n\n" + _WHERE,
    ),
    "resumed": (
        "[{{ project }}] {% if event.name == 'phase.resumed' %}Phase {{ phase_name }} released"
        "{% elif event.name == 'hold.released' %}Hold released, project still on hold"
        "{% else %}Project resumed{% endif %}",
        "{% if event.name == 'phase.resumed' %}The quality hold on phase {{ phase_name }} of "
        "{{ project_name }} was released{% if actor %} by {{ name_of(actor) }}{% endif %}."
        "{% elif event.name == 'hold.released' %}Hold(s) {{ data.holds | join(', ') }} of "
        "{{ project_name }} were released; it stays on hold "
        "({{ data.still_held_by | join(', ') }})."
        "{% else %}Project {{ project_name }} has resumed.{% endif %}"
        "{% if data.reason %}\nReason: {{ data.reason }}{% endif %}\n\n" + _WHERE,
    ),
    "team-changed": (
        "[{{ project }}] Team change: {{ data.role }}",
        "{{ name_of(actor) }} changed the team of {{ project_name }}: "
        "{% if data.kind == 'add' %}{{ name_of(data.user) }} joins role {{ data.role }}"
        "{% elif data.kind == 'replace' %}{{ name_of(data.new_user) }} replaces "
        "{{ name_of(data.user) }} in role {{ data.role }}"
        "{% else %}{{ name_of(data.user) }} leaves role {{ data.role }}{% endif %}.\n"
        "Reason: {{ data.reason }}\n\n" + _WHERE,
    ),
    "condition-accepted": (
        "[{{ project }}] Condition {{ data.condition }} accepted",
        "The closure of condition {{ data.condition }} ({{ data.text }}) was accepted"
        "{% if actor %} by {{ name_of(actor) }}{% endif %}.\n\n" + _WHERE,
    ),
    "condition-rejected": (
        "[{{ project }}] Condition {{ data.condition }} is open again",
        "The closure of condition {{ data.condition }} ({{ data.text }}) was rejected"
        "{% if actor %} by {{ name_of(actor) }}{% endif %}: {{ data.reason }}\n\n" + _WHERE,
    ),
    "condition-reminder": (
        "[{{ project }}] Reminder: condition {{ condition }} is due",
        "Condition {{ condition }} of {{ project_name }} ({{ text }}) is {{ state }}"
        "{% if due_at %}; due by {{ due_at }}{% endif %}.\n"
        "This is reminder {{ period }}.\n\n" + _WHERE,
    ),
    "condition-escalation": (
        "[{{ project }}] Escalation: condition {{ condition }} is overdue",
        "Condition {{ condition }} of {{ project_name }} ({{ text }}) was due by {{ due_at }} "
        "and is {{ state }}. Owner: {{ owner }}.\n\n" + _WHERE,
    ),
    "completed": (
        "[{{ project }}] Project completed",
        "Project {{ project_name }} has passed its final gate and is complete.\n\n" + _WHERE,
    ),
    "killed": (
        "[{{ project }}] Project killed",
        "Project {{ project_name }} was killed"
        "{% if gate_name %} at gate {{ gate_name }}{% endif %}.\n\n" + _WHERE,
    ),
    "reminder": (
        "[{{ project }}] Reminder: gate {{ gate_name }} waits for your sign-off",
        "Gate {{ gate_name }} of {{ project_name }} has been open since {{ local(opened_at) }} "
        "and still needs sign-off from: {{ missing_roles | join(', ') }}.\n"
        "{% if due_at %}Decision due by {{ local(due_at) }}.\n{% endif %}"
        "This is reminder {{ period }}.\n\n" + _WHERE,
    ),
    "escalation": (
        "[{{ project }}] Escalation: gate {{ gate_name }} is overdue",
        "Gate {{ gate_name }} of {{ project_name }} was due by {{ local(due_at) }} and is not "
        "decided.\nMissing sign-offs: {{ missing_roles | join(', ') }}.\n\n" + _WHERE,
    ),
    "budget-overrun": (
        "[{{ project }}] Budget overrun: "
        "{{ phase_name if data.scope == 'phase' else 'project total' }} at "
        "{{ data.percent }} % of its quote",
        "{% if data.scope == 'phase' %}Phase {{ phase_name }}{% else %}The project as a whole"
        "{% endif %} of {{ project_name }} has committed and actual costs of "
        "{{ money(data.spent, data.currency) }} against a quote of "
        "{{ money(data.quoted, data.currency) }} ({{ data.percent }} %; threshold "
        "{{ data.threshold }}).\n"
        "Committed: {{ money(data.committed, data.currency) }}\n"
        "Actual: {{ money(data.actual, data.currency) }}\n"
        "Over the quote by: {{ money(data.over_by, data.currency) }}\n"
        "A quote changes only through an approved change request.\n\n" + _WHERE,
    ),
    "security": (
        "[cdmo] Security alert{% if data.user %}: {{ data.user }}{% endif %}",
        "{{ data.message or data.reason or 'A security event occurred.' }}\n",
    ),
    "change-proposed": (
        "[{{ project }}] Change request {{ data.change }} proposed: {{ data.title }}",
        "{{ name_of(actor) }} proposed change request {{ data.change }}: {{ data.title }}.\n"
        + _CHANGE
        + "It is a draft until it is submitted for approval.\n\n"
        + _WHERE,
    ),
    "change-submitted": (
        "[{{ project }}] Change request {{ data.change }} needs your approval",
        "{{ name_of(actor) }} submitted change request {{ data.change }} for approval: "
        "{{ data.title }}.\n"
        "{% if data.approvers %}Approvers: {% for a in data.approvers %}{{ a.role }} x "
        "{{ a.min }}{% if not loop.last %}, {% endif %}{% endfor %}\n{% endif %}"
        "Sign it with `cdmo change sign {{ project }} {{ data.change }}` or the sign-change "
        "deployment.\n\n" + _WHERE,
    ),
    "change-signed": (
        "[{{ project }}] {{ name_of(actor) }} signed change request {{ data.change }}",
        "{{ name_of(actor) }} signed change request {{ data.change }} ({{ data.title }})"
        "{% if data.role %} as {{ data.role }}{% endif %}"
        "{% if data.meaning %} ({{ data.meaning }}){% endif %}: {{ decision }}.\n\n" + _WHERE,
    ),
    "change-approved": (
        "[{{ project }}] Change request {{ data.change }} approved",
        "Change request {{ data.change }} ({{ data.title }}) is approved"
        "{% if signers %} by {{ signers | join(', ') }}{% endif %}.\n\n" + _WHERE,
    ),
    "change-rejected": (
        "[{{ project }}] Change request {{ data.change }} rejected",
        "{{ name_of(actor) }} rejected change request {{ data.change }} ({{ data.title }})"
        "{% if data.comment %}: {{ data.comment }}{% endif %}.\n\n" + _WHERE,
    ),
    "change-applied": (
        "[{{ project }}] Change request {{ data.change }} applied",
        "Change request {{ data.change }} ({{ data.title }}) is in effect.\n"
        "{% if data.baseline is not none %}New baseline {{ data.baseline }}"
        "{% if data.baseline_end %}: planned completion {{ data.baseline_end }}{% endif %}.\n"
        "{% endif %}"
        "{% if data.migrated %}The project now runs version "
        "{{ data.migrated.to_version[:12] }} of its process.\n{% endif %}"
        "{% if data.cost_impact %}Cost impact: {{ data.cost_impact }} {{ data.currency }}.\n"
        "{% endif %}\n" + _WHERE,
    ),
    "change-withdrawn": (
        "[{{ project }}] Change request {{ data.change }} withdrawn",
        "{{ name_of(actor) }} withdrew change request {{ data.change }} ({{ data.title }})"
        "{% if data.reason %}: {{ data.reason }}{% endif %}.\n\n" + _WHERE,
    ),
    "account": (
        "{{ data.subject or '[cdmo] Your account' }}",
        "{{ data.body or 'A change was made to your account.' }}",
    ),
    "default": (
        "[{{ project }}] {{ notify_event }}",
        "{{ event.name }} on {{ project_name }}.\n\n" + _WHERE,
    ),
}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


_env: SandboxedEnvironment | None = None


def environment() -> SandboxedEnvironment:
    """The shared sandboxed environment (autoescape off: messages are plain text)."""
    global _env
    if _env is None:
        _env = SandboxedEnvironment(
            undefined=ChainableUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=False,
        )
    return _env


def check_template(text: str) -> None:
    """Raise :class:`jinja2.TemplateSyntaxError` if ``text`` does not compile (for the loader)."""
    environment().from_string(text)


def run_url(payload: Mapping[str, Any], ui_url: str | None) -> str | None:
    """Link to the Prefect UI: the flow run when known, else the runs tagged with the project."""
    if not ui_url:
        return None
    base = ui_url.rstrip("/")
    run = payload.get("flow_run_id")
    if run:
        return f"{base}/runs/flow-run/{quote(str(run))}"
    project = payload.get("project")
    if project:
        return f"{base}/runs?tags={quote('project:' + str(project))}"
    return f"{base}/runs"


def _context(payload: Mapping[str, Any], ui_url: str | None) -> dict[str, Any]:
    people: Mapping[str, str] = payload.get("people") or {}
    data: Mapping[str, Any] = payload.get("data") or {}

    def name_of(user: Any) -> str:
        if not user:
            return "someone"
        return str(people.get(str(user), user))

    signers = data.get("signers") or []
    signer_names = [name_of(s.get("user") if isinstance(s, Mapping) else s) for s in signers if s]
    ctx = dict(payload)
    ctx.setdefault("data", {})
    ctx.setdefault("event", {})
    zone = payload.get("recipient_tz") or None

    def local(moment: Any) -> str:
        if not isinstance(moment, str | datetime):
            return "" if isinstance(moment, Undefined) or moment is None else str(moment)
        try:
            return display.local(moment, zone, "")
        except (TypeError, ValueError):  # a broken payload must not stop the message
            return str(moment)

    def money(amount: Any, currency: Any) -> str:
        if isinstance(amount, Undefined) or amount is None:
            return ""
        try:
            code = str(currency) if currency and not isinstance(currency, Undefined) else None
            return display.money(str(amount), code, "")
        except (TypeError, ValueError):
            return str(amount)

    ctx["signers"] = signer_names
    ctx["local"] = local
    ctx["money"] = money
    ctx["name_of"] = name_of
    ctx["recipient_name"] = name_of(payload.get("recipient"))
    ctx["ui_url"] = ui_url
    ctx["run_url"] = run_url(payload, ui_url)
    return ctx


@functools.lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    return environment().from_string(text)


def _render(text: str, ctx: Mapping[str, Any]) -> str:
    return _compiled(text).render(ctx)


def render(
    payload: Mapping[str, Any],
    *,
    notify_event: str | None = None,
    ui_url: str | None = None,
    dedup_key: str | None = None,
) -> Message:
    """Subject and body of one outbox row.

    ``ui_url`` defaults to ``CDMO_UI_URL``. When ``dedup_key`` is given, a footer carries it so
    a receiver can drop a duplicate delivered after a crash.
    """
    if ui_url is None:
        ui_url = os.environ.get("CDMO_UI_URL") or None
    event = notify_event or str(payload.get("notify_event") or "default")
    default_subject, default_body = DEFAULT_TEMPLATES.get(event, DEFAULT_TEMPLATES["default"])
    override: Mapping[str, Any] = payload.get("template") or {}
    ctx = _context(payload, ui_url)

    def pick(custom: str | None, fallback: str) -> str:
        if custom:
            try:
                return _render(custom, ctx)
            except TemplateError:
                pass  # a broken override must not stop the message; the default follows
        return _render(fallback, ctx)

    subject = " ".join(pick(override.get("subject"), default_subject).split())
    body = pick(override.get("body"), default_body).rstrip() + "\n"
    if ctx["run_url"] and ctx["run_url"] not in body:
        body += f"\nOpen in the UI: {ctx['run_url']}\n"
    if dedup_key:
        body += f"\n--\nX-CDMO-Dedup-Key: {dedup_key}\n"
    return Message(subject=subject, body=body)
