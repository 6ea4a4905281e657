"""Templates: defaults, per-process overrides, sandboxing, UI links, dedup footer."""

from __future__ import annotations

import pytest

from cdmo_workflow.domain import events as ev
from cdmo_workflow.domain.events import DomainEvent
from cdmo_workflow.notify.routing import outbox_rows
from cdmo_workflow.notify.templates import DEFAULT_TEMPLATES, render, run_url
from tests.notify.factories import TEAM, snapshot


def decided_payload(**snap_kwargs: object) -> dict:
    e = DomainEvent(
        ev.GATE_DECIDED,
        "P-1",
        phase="scoping",
        gate="g-scoping",
        data={
            "decision": "conditional-go",
            "signers": [{"user": "quinn", "role": "qa"}, {"user": "carla", "role": "customer"}],
            "conditions": [{"id": "c1", "text": "Close deviation DEV-12"}],
        },
    )
    ctx = {
        "customer": "Acme Pharma",
        "project_name": "Acme API-7",
        "people": {"quinn": "Quinn Quality", "carla": "Carla Customer"},
    }
    return outbox_rows([e], snapshot(**snap_kwargs), TEAM, 1, context=ctx)[0]["payload"]  # type: ignore[arg-type]


def test_every_notify_event_has_a_default_that_renders() -> None:
    payload = decided_payload()
    for name in DEFAULT_TEMPLATES:
        msg = render(payload, notify_event=name, ui_url=None)
        assert msg.subject and msg.body
        assert "\n" not in msg.subject


def test_decided_message_names_everything() -> None:
    msg = render(decided_payload(), ui_url=None, dedup_key="P-1:1:0:quinn")
    assert msg.subject == "[P-1] Gate G Scoping decided: CONDITIONAL-GO"
    for text in (
        "Acme API-7",
        "Acme Pharma",
        "Scoping",
        "G Scoping",
        "conditional-go",
        "Quinn Quality",
        "Carla Customer",
        "Close deviation DEV-12",
        "X-CDMO-Dedup-Key: P-1:1:0:quinn",
    ):
        assert text in msg.body, text


def test_ui_link_to_flow_run_or_project_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = decided_payload()
    assert run_url(payload, "http://ui:4200/") == "http://ui:4200/runs?tags=project%3AP-1"
    payload["flow_run_id"] = "1234-abcd"
    assert run_url(payload, "http://ui:4200") == "http://ui:4200/runs/flow-run/1234-abcd"
    monkeypatch.setenv("CDMO_UI_URL", "http://ui:4200")
    assert "http://ui:4200/runs/flow-run/1234-abcd" in render(payload).body
    monkeypatch.delenv("CDMO_UI_URL")
    assert "http://ui" not in render(payload).body


def test_process_override_and_broken_override_falls_back() -> None:
    payload = decided_payload(
        messages={
            "decided": {
                "subject": "{{ customer }}: {{ gate_name }} is {{ decision }}",
                "body": "Hello {{ recipient_name }}, signers: {{ signers | join(' & ') }}",
            }
        }
    )
    payload["recipient"] = "quinn"
    msg = render(payload, ui_url=None)
    assert msg.subject == "Acme Pharma: G Scoping is conditional-go"
    assert msg.body.startswith("Hello Quinn Quality, signers: Quinn Quality & Carla Customer")
    payload["template"] = {"subject": "{% if %}", "body": "{{ missing.deeply.nested }}ok"}
    msg = render(payload, ui_url=None)
    assert msg.subject == "[P-1] Gate G Scoping decided: CONDITIONAL-GO"  # default after error
    assert msg.body.startswith("ok")  # unknown names render empty


def test_sandbox_blocks_unsafe_attribute_access() -> None:
    payload = decided_payload(
        messages={"decided": {"body": "{{ name_of.__globals__ }}{{ ''.__class__.__mro__ }}"}}
    )
    msg = render(payload, ui_url=None)
    # the sandbox hides unsafe attributes: nothing of the interpreter leaks
    assert msg.body.strip() == ""
    payload["template"] = {"body": "{{ ''.__class__.__mro__[1].__subclasses__() }}x"}
    body = render(payload, ui_url=None).body
    assert "class" not in body
