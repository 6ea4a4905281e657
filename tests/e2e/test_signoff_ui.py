"""A person signs the demo project's gates from a browser, on `cdmo up` as the README runs it.

The tests run in file order on one `cdmo up` (the demo project moves on as they sign):
the first signature, a refused one (wrong password), the rest of the quota deciding the gate
(with the HTTP notification), a conditional go with conditions at the next gate, the project
artifact, and the parameter forms of the action deployments.
"""

from __future__ import annotations

import json
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import DEMO, DEMO_PASSWORD, FLOW_TIMEOUT, CdmoUp, wait_for
from .ui import FORM_LABELS, UI, SignOff

pytestmark = pytest.mark.slow

SCOPING_RUN = f"{DEMO} · Go to process development"
DEVELOPMENT_RUN = f"{DEMO} · Process development complete"
MEANINGS = ["approval", "review", "responsibility", "authorship"]
WRONG_PASSWORD = "not-the-demo-password"


def _sig(up: CdmoUp, gate: str, user: str) -> dict[str, Any] | None:
    return next((s for s in up.gate(gate)["signatures"] if s["user"] == user), None)


def _sign_rows(up: CdmoUp, user: str) -> list[dict[str, Any]]:
    return [r for r in up.audit() if r["action"] == "gate.sign" and r["actor"] == user]


def _utc(text: str) -> datetime:
    assert text.endswith("Z"), f"{text!r} is not a UTC time"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _open_form(ui: UI, up: CdmoUp, gate: str, name: str) -> tuple[Any, Any]:
    run = up.waiting_run(gate)
    ui.open_run(name)
    return run, ui.open_resume_form()


def test_first_signature_from_the_browser(up: CdmoUp, page: Any) -> None:
    ui = UI(page, up.url)
    run, dialog = _open_form(ui, up, "scoping-go", SCOPING_RUN)

    # The form renders every field, in our order, with the description above it.
    assert ui.labels(dialog) == FORM_LABELS
    dialog.get_by_role("heading", name=SCOPING_RUN).wait_for()
    for text in ("Must-meet items", "Signatures so far", "Still missing", "Sam Demo (site head)"):
        dialog.get_by_text(text).first.wait_for()
    # Selects offer exactly the missing roles and the gate's allowed decisions.
    gate = up.gate("scoping-go")
    missing = [m["role"] for m in gate["missing"]]
    assert missing == ["pm", "customer", "site-head"]
    assert ui.options("Role") == missing
    assert ui.options("Decision") == ["go", "hold", "recycle", "kill"]
    assert ui.options("Meaning of the signature") == MEANINGS
    assert ui.options("Action") == ["sign", "refresh"]
    page.set_viewport_size({"width": 1400, "height": 1800})
    dialog.screenshot(path=str(up.shots / "signoff-form.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    before = datetime.now(UTC) - timedelta(seconds=1)
    ui.fill(
        dialog,
        SignOff(
            user="demo-pm",
            role="pm",
            decision="go",
            meaning="approval",
            password=DEMO_PASSWORD,
            comment="Scope, price and quality agreement reviewed.",
        ),
    )
    ui.submit(dialog)

    # The signature is in the database with its manifestation (21 CFR 11.50).
    sig = wait_for(lambda: _sig(up, "scoping-go", "demo-pm"), FLOW_TIMEOUT, "pm signature")
    assert sig["name"] == "Dana Demo (project manager)"
    assert (sig["role"], sig["decision"], sig["meaning"]) == ("pm", "go", "approval")
    assert sig["comment"] == "Scope, price and quality agreement reviewed."
    assert before <= _utc(sig["signed_at"]) <= datetime.now(UTC)
    (row,) = _sign_rows(up, "demo-pm")
    assert row["outcome"] == "accepted"
    assert json.dumps(row["signature"] or row["new"]).count("Dana Demo (project manager)") >= 1

    # The same run waits again for the next signer, with an updated description and form.
    again = up.waiting_run("scoping-go")
    assert again.id == run.id
    assert again.state.state_details.pause_key != run.state.state_details.pause_key
    assert up.schema(again)["properties"]["role"]["enum"] == ["customer", "site-head"]
    text = up.description(again)
    shown = _utc(sig["signed_at"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"| Dana Demo (project manager) (`demo-pm`) | pm | go | approval | {shown} |" in text
    assert "- **pm**" not in text and "- **customer**" in text
    dialog = ui.open_resume_form()
    dialog.get_by_role("cell", name="Dana Demo (project manager) (demo-pm)").wait_for()
    dialog.get_by_role("cell", name=shown).wait_for()
    assert ui.options("Role") == ["customer", "site-head"]


def test_wrong_password_is_refused_and_shown(up: CdmoUp, page: Any) -> None:
    ui = UI(page, up.url)
    run, dialog = _open_form(ui, up, "scoping-go", SCOPING_RUN)
    ui.fill(
        dialog,
        SignOff(
            user="demo-customer",
            role="customer",
            decision="go",
            meaning="review",
            password=WRONG_PASSWORD,
            comment="typed the wrong password",
        ),
    )
    ui.submit(dialog)

    rows = wait_for(lambda: _sign_rows(up, "demo-customer"), FLOW_TIMEOUT, "refusal audited")
    assert [(r["outcome"], r["rule"]) for r in rows] == [("refused", "authentication-failed")]
    assert _sig(up, "scoping-go", "demo-customer") is None
    assert len(up.gate("scoping-go")["signatures"]) == 1

    again = up.waiting_run("scoping-go")
    assert (
        again.id == run.id
        and again.state.state_details.pause_key != run.state.state_details.pause_key
    )
    text = up.description(again)
    assert "The last sign-off attempt was refused" in text
    assert "`demo-customer`" in text and "authentication-failed" in text
    assert up.schema(again)["properties"]["role"]["enum"] == ["customer", "site-head"]
    dialog = ui.open_resume_form()
    dialog.get_by_text("The last sign-off attempt was refused").wait_for()
    dialog.get_by_text(re.compile("authentication-failed")).first.wait_for()


def test_remaining_quota_decides_the_gate_and_notifies(up: CdmoUp, page: Any) -> None:
    ui = UI(page, up.url)
    run, dialog = _open_form(ui, up, "scoping-go", SCOPING_RUN)
    ui.fill(
        dialog,
        SignOff("demo-customer", "customer", "go", "review", DEMO_PASSWORD, "Sponsor agrees."),
    )
    ui.submit(dialog)
    wait_for(lambda: _sig(up, "scoping-go", "demo-customer"), FLOW_TIMEOUT, "customer signature")

    up.waiting_run("scoping-go")
    dialog = ui.open_resume_form()
    assert ui.options("Role") == ["site-head"]
    ui.fill(dialog, SignOff("demo-site-head", "site-head", "go", "responsibility", DEMO_PASSWORD))
    ui.submit(dialog)

    gate = wait_for(
        lambda: (g := up.gate("scoping-go"))["outcome"] == "go" and g, FLOW_TIMEOUT, "decided"
    )
    assert [(s["user"], s["meaning"]) for s in gate["signatures"]] == [
        ("demo-pm", "approval"),
        ("demo-customer", "review"),
        ("demo-site-head", "responsibility"),
    ]
    assert up.phase("scoping")["state"] == "completed"
    assert up.phase("process-development")["state"] == "active"
    finished = wait_for(
        lambda: (r := up.flow_run(run.id)).state.is_completed() and r, FLOW_TIMEOUT, "completed"
    )
    assert finished.state.is_completed()

    # The gate-decided notification reached the local HTTP receiver (json:// targets).
    def decided() -> list[Any]:
        return [
            m
            for m in up.receiver.messages
            if "Go to process development decided: GO" in str(m.body.get("title", ""))
        ]

    try:
        messages = wait_for(lambda: len(decided()) >= 3 and decided(), 30, "notifications")
    except AssertionError:
        titles = [m.body.get("title") for m in up.receiver.messages]
        raise AssertionError(f"no gate-decided notification among {titles}") from None
    assert all(m.path == "/hook" for m in messages)
    assert all(DEMO in str(m.body["title"]) for m in messages)


def test_conditional_go_with_conditions(up: CdmoUp, page: Any) -> None:
    """The list field (conditions) and a decision beyond go, at the next gate."""
    from cdmo_workflow import service

    def cli() -> None:  # what `cdmo deliverable submit` / `cdmo check confirm` do
        ctx = up.hooked()
        for deliverable, by in (
            ("route-definition", "demo-pd"),
            ("cpp-cqa", "demo-pd"),
            ("development-batches", "demo-pd"),
            ("analytical-methods", "demo-qc"),
        ):
            evidence = f"DMS-E2E-{deliverable}"
            service.submit_deliverable(
                ctx, DEMO, "process-development", deliverable, by, evidence, password=DEMO_PASSWORD
            )
        for check, by in (
            ("cqa-specifications-agreed", "demo-customer"),
            ("methods-fit-for-purpose", "demo-qc"),
        ):
            service.confirm_check(
                ctx,
                DEMO,
                "development-complete",
                check,
                by,
                f"DMS-E2E-{check}",
                password=DEMO_PASSWORD,
            )

    # In a thread of its own, as in the CLI: Playwright's sync API runs an event loop in this
    # thread, and Prefect's sync calls (the hook's artifacts) would turn into coroutines here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(cli).result()

    ui = UI(page, up.url)
    _, dialog = _open_form(ui, up, "development-complete", DEVELOPMENT_RUN)
    assert ui.options("Role") == ["pd", "qc", "customer"]
    assert ui.options("Decision") == ["go", "conditional-go", "hold", "recycle", "kill"]
    conditions = ("Close deviation DEV-17 before the first GMP batch", "Update the FMEA")
    ui.fill(
        dialog,
        SignOff(
            "demo-pd",
            "pd",
            "conditional-go",
            "responsibility",
            DEMO_PASSWORD,
            "Two open items carried into tech transfer.",
            conditions,
        ),
    )
    ui.submit(dialog)
    sig = wait_for(
        lambda: _sig(up, "development-complete", "demo-pd"), FLOW_TIMEOUT, "pd signature"
    )
    assert sig["decision"] == "conditional-go"
    assert sig["conditions"] == list(conditions)
    run = up.waiting_run("development-complete")
    text = up.description(run)
    assert "Conditions: " + "; ".join(conditions) in text


def test_project_artifact(up: CdmoUp, page: Any) -> None:
    """Artifacts → project-demo-001 → its latest version: the markdown renders."""
    page.goto(up.url + "/v2/artifacts")
    page.get_by_role("link", name="project-demo-001").first.click()
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    page.get_by_role("heading", name=f"{DEMO} · Demo Pharma", exact=True).wait_for()
    for heading in ("Phases", "Open gates", "Audit trail"):
        page.get_by_role("heading", name=heading, exact=True).wait_for()
    page.get_by_role("cell", name="Process development", exact=True).first.wait_for()
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(up.shots / "project-artifact.png"), full_page=True)


def test_start_project_and_submit_deliverable_from_deployment_forms(up: CdmoUp, page: Any) -> None:
    ui = UI(page, up.url)
    code = f"E2E-{secrets.token_hex(2).upper()}"
    team = {
        role: [f"demo-{role}"]
        for role in ("pm", "qa", "qc", "mfg", "pd", "ra", "customer", "site-head")
    }
    run_id = ui.custom_run(
        "start-project",
        {
            "code": code,
            "process": "api-clinical-program",
            "customer": "Browser Bio",
            "by": "demo-pm",
        },
        {"team": json.dumps(team)},
    )
    wait_for(lambda: up.flow_run(run_id).state.is_completed(), FLOW_TIMEOUT, "start-project run")
    status = up.status(code)
    assert (status["customer"], status["state"], status["created_by"]) == (
        "Browser Bio",
        "active",
        "demo-pm",
    )
    assert status["team"]["qa"] == ["demo-qa"]
    page.get_by_text("Completed").first.wait_for()

    run_id = ui.custom_run(
        "submit-deliverable",
        {
            "project": code,
            "phase": "scoping",
            "deliverable": "rfp-assessment",
            "by": "demo-pm",
            "evidence": "DMS-E2E-4711",
        },
        {},
    )
    wait_for(lambda: up.flow_run(run_id).state.is_completed(), FLOW_TIMEOUT, "submit run")
    phase = up.phase("scoping", code)
    submitted = next(d for d in phase["deliverables"] if d["id"] == "rfp-assessment")["submitted"]
    assert (submitted["by"], submitted["evidence"]) == ("demo-pm", "DMS-E2E-4711")
