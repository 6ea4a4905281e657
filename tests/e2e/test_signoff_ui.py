"""A person signs the demo project's gates from a browser, on `cdmo up` as the README runs it.

The tests run in file order on one `cdmo up` (the demo project moves on as they sign):
the first signature, a refused one (wrong password), the rest of the quota deciding the gate
(with the HTTP notification), a conditional go with conditions at the next gate, the project
artifact, and the parameter forms of the action deployments.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdmo_workflow.markup import md
from cdmo_workflow.orchestration.actions import WHOLE_PROJECT

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


def _open_form(ui: UI, up: CdmoUp, gate: str, name: str, shot: Any = None) -> tuple[Any, Any]:
    run = up.waiting_run(gate)
    ui.open_run(name)
    return run, ui.open_resume_form(shot=shot)


def test_first_signature_from_the_browser(up: CdmoUp, page: Any) -> None:
    ui = UI(page, up.url)
    run, dialog = _open_form(ui, up, "scoping-go", SCOPING_RUN, up.shots / "resume-menu.png")

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
    # The form says what the signature means, with the gate and the project.
    dialog.get_by_text(
        re.compile(r"By entering your password .*Go to process development.* of DEMO-001")
    ).first.wait_for()
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
    name = f"{md('Dana Demo (project manager)')} ({md('demo-pm')})"
    assert f"| {name} | pm | go | approval | {shown} |" in text
    assert "- **pm**" not in text and "- **customer**" in text
    dialog = ui.open_resume_form()
    dialog.get_by_role("cell", name="Dana Demo (project manager) (demo-pm)").wait_for()
    dialog.get_by_role("cell", name=shown).wait_for()
    assert ui.options("Role") == ["customer", "site-head"]


def test_selects_start_empty_and_the_form_refuses_a_missing_decision(up: CdmoUp, page: Any) -> None:
    ui = UI(page, up.url)
    _, dialog = _open_form(ui, up, "scoping-go", SCOPING_RUN)
    for title in ("Role", "Decision", "Meaning of the signature"):
        assert ui.shown(title) in ("", "Select"), f"{title} is pre-selected: {ui.shown(title)!r}"
    before = up.last_seq()
    dialog.get_by_label("User id", exact=True).fill("demo-customer")
    ui.choose("Role", "customer")
    ui.choose("Meaning of the signature", "review")
    dialog.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    ui.press_resume(dialog)
    # The server validates against the stored schema and refuses: the UI says so in a toast,
    # the dialog stays open, and the run is not resumed.
    page.get_by_text(re.compile(r"'decision' is a required property")).first.wait_for()
    page.screenshot(path=str(up.shots / "signoff-missing-decision.png"))
    page.wait_for_timeout(1000)
    assert dialog.is_visible()
    assert up.last_seq() == before
    assert _sig(up, "scoping-go", "demo-customer") is None


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
    pressed = time.monotonic()

    # Without reopening the dialog: reloading the run page (its Logs tab, which Prefect's UI
    # does not update live) shows the refusal within seconds.
    refusal = page.get_by_text(re.compile(r"sign-off by demo-customer refused"))
    waiting = page.get_by_text(re.compile(r'Suspended\("REFUSED: Sign-off by demo-customer'))
    while not (refusal.count() and waiting.count()) and time.monotonic() - pressed < 45:
        page.wait_for_timeout(1000)
        page.reload()
        page.get_by_text("Downloading flow code", exact=False).first.wait_for()
    seen = time.monotonic() - pressed
    refusal.first.wait_for(timeout=1000)
    waiting.first.wait_for(timeout=1000)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.screenshot(path=str(up.shots / "signoff-refused.png"))
    assert seen < 30, f"the refusal took {seen:.1f} s to show (2-6 s on an idle machine)"

    rows = wait_for(lambda: _sign_rows(up, "demo-customer"), FLOW_TIMEOUT, "refusal audited")
    assert [(r["outcome"], r["rule"]) for r in rows] == [("refused", "authentication-failed")]
    assert _sig(up, "scoping-go", "demo-customer") is None
    assert len(up.gate("scoping-go")["signatures"]) == 1

    again = up.waiting_run("scoping-go")
    assert (
        again.id == run.id
        and again.state.state_details.pause_key != run.state.state_details.pause_key
    )
    # The refusal is the state message and the description's first line, rule shown once.
    assert (again.state.message or "").startswith("REFUSED: Sign-off by demo-customer refused")
    text = up.description(again)
    first = text.splitlines()[0]
    assert first.startswith("> ⚠️ **REFUSED.**") and "demo" in first
    assert first.count("[rule") == 1 or first.count("\\[rule") == 1, first
    assert "authentication-failed" in first
    assert up.schema(again)["properties"]["role"]["enum"] == ["customer", "site-head"]
    dialog = ui.open_resume_form()
    dialog.get_by_text(re.compile("REFUSED")).first.wait_for()
    dialog.get_by_text(re.compile("authentication-failed")).first.wait_for()


def _decided_in_artifact(up: CdmoUp, gate_name: str) -> bool:
    """The latest version of the project artifact shows ``gate_name`` decided Go."""
    from prefect.client.schemas.filters import (
        ArtifactCollectionFilter,
        ArtifactCollectionFilterKey,
    )

    from cdmo_workflow.orchestration.naming import artifact_key

    flt = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[artifact_key(DEMO)]))
    with up.client() as c:
        latest = c.read_latest_artifacts(artifact_filter=flt, limit=1)
    text = str(latest[0].data) if latest else ""
    return f"| {gate_name} | decided | go |" in text


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
    pressed = time.monotonic()
    wait_for(lambda: _decided_in_artifact(up, "Go to process development"), 30, "artifact", 0.05)
    seen = time.monotonic() - pressed
    print(f"Resume pressed → the decision in the project artifact: {seen:.2f} s")

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

    # ... and the demo inbox that `cdmo up` serves lists it for the newcomer to watch.
    import urllib.request

    inbox = re.search(r"Notification inbox: (http://\S+/)", up.log.read_text())
    assert inbox, "cdmo up prints the inbox address"

    def in_inbox() -> list[Any]:
        with urllib.request.urlopen(inbox.group(1) + "messages.json", timeout=5) as r:
            got = json.loads(r.read())
        return [m for m in got if "decided: GO" in m["title"]]

    wait_for(in_inbox, 30, "the decision in the demo inbox")
    page.goto(inbox.group(1))
    page.get_by_text(re.compile("decided: GO")).first.wait_for()
    page.screenshot(path=str(up.shots / "inbox.png"))


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
    assert md("Conditions: " + "; ".join(conditions)) in text


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


def _action_from_the_ui(ui: UI, up: CdmoUp, deployment: str) -> tuple[str, Any]:
    """Deployments → ``deployment`` → Quick run; the run waits; ⋮ → Resume: its form."""
    run_id = ui.quick_run(deployment)
    wait_for(lambda: up.flow_run(run_id).state.is_paused(), FLOW_TIMEOUT, f"{deployment} form")
    return run_id, None


def test_start_project_and_submit_deliverable_from_deployment_forms(up: CdmoUp, page: Any) -> None:
    ui = UI(page, up.url)
    code = f"E2E-{secrets.token_hex(2).upper()}"
    team = {
        role: [f"demo-{role}"]
        for role in ("pm", "qa", "qc", "mfg", "pd", "ra", "customer", "site-head")
    }
    run_id, _ = _action_from_the_ui(ui, up, "start-project")
    dialog = ui.open_resume_form("Project code")
    assert ui.shown("Process") in ("", "Select")
    assert "api-clinical-program" in ui.options("Process")
    dialog.get_by_label("Project code", exact=True).fill(code)
    ui.choose("Process", "api-clinical-program")
    dialog.get_by_label("Customer", exact=True).fill("Browser Bio")
    content = dialog.locator(".cm-content")
    content.first.click()
    ui.page.keyboard.press("Control+A")
    ui.page.keyboard.insert_text(json.dumps(team))
    dialog.get_by_label("User id", exact=True).fill("demo-pm")
    dialog.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    ui.submit(dialog)
    wait_for(lambda: up.flow_run(run_id).state.is_completed(), FLOW_TIMEOUT, "start-project run")
    status = up.status(code)
    assert (status["customer"], status["state"], status["created_by"]) == (
        "Browser Bio",
        "active",
        "demo-pm",
    )
    assert status["team"]["qa"] == ["demo-qa"]

    # Submit a deliverable: no parameter, the project and the deliverable are selects.
    run_id, _ = _action_from_the_ui(ui, up, "submit-deliverable")
    dialog = ui.open_resume_form("Project")
    assert code in ui.options("Project")
    ui.choose("Project", code)
    ui.submit(dialog)
    wait_for(
        lambda: (
            (r := up.flow_run(run_id)).state.is_paused()
            and "pick" not in str(r.state.state_details.pause_key)
        ),
        FLOW_TIMEOUT,
        "the deliverable form",
    )
    dialog = ui.open_resume_form()
    options = ui.options("Deliverable")
    assert any("[rfp-assessment, owner pm]" in o for o in options), options
    choice = next(o for o in options if "[rfp-assessment," in o)
    ui.choose("Deliverable", choice)
    dialog.get_by_label("Evidence", exact=True).fill("DMS-E2E-4711")
    dialog.get_by_label("User id", exact=True).fill("demo-pm")
    dialog.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.set_viewport_size({"width": 1400, "height": 1400})
    dialog.screenshot(path=str(up.shots / "action-form.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    ui.submit(dialog)
    wait_for(lambda: up.flow_run(run_id).state.is_completed(), FLOW_TIMEOUT, "submit run")
    phase = up.phase("scoping", code)
    submitted = next(d for d in phase["deliverables"] if d["id"] == "rfp-assessment")["submitted"]
    assert (submitted["by"], submitted["evidence"]) == ("demo-pm", "DMS-E2E-4711")

    # A refused action (the customer may not put the project on hold): a one-line message.
    run_id = ui.quick_run("hold-project")
    wait_for(lambda: up.flow_run(run_id).state.is_paused(), FLOW_TIMEOUT, "hold form")
    dialog = ui.open_resume_form("Project")
    ui.choose("Project", code)
    ui.submit(dialog)
    wait_for(
        lambda: (
            (r := up.flow_run(run_id)).state.is_paused()
            and "pick" not in str(r.state.state_details.pause_key)
        ),
        FLOW_TIMEOUT,
        "the hold form",
    )
    dialog = ui.open_resume_form()
    assert ui.options("What to hold")[0] == WHOLE_PROJECT
    ui.choose("What to hold", WHOLE_PROJECT)
    dialog.get_by_label("Reason", exact=True).fill("customer tries to hold")
    dialog.get_by_label("User id", exact=True).fill("demo-customer")
    dialog.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    ui.submit(dialog)
    failed = wait_for(
        lambda: (r := up.flow_run(run_id)).state.is_final() and r, FLOW_TIMEOUT, "hold refused"
    )
    assert failed.state.name == "Refused", failed.state
    message = failed.state.message or ""
    assert message.startswith("Refused: ") and "\n" not in message, message
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # The worker ships its logs in batches and the UI does not poll a finished run's logs:
    # the page shows the warning once it has reached the server (a reload, as a user would).
    for attempt in range(6):
        page.reload()
        page.get_by_text("Refused", exact=True).first.wait_for()
        try:
            page.get_by_text(re.compile("hold_project refused")).first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 5:
                raise
    page.wait_for_timeout(1500)
    assert "Traceback" not in page.content()
    page.screenshot(path=str(up.shots / "action-refused.png"))
    assert up.status(code)["state"] == "active"


def _an_hour_of_housekeeping(up: CdmoUp) -> int:
    """Start as many housekeeping runs as its schedule starts in an hour, for real: the
    runner takes each (one runs, the concurrency limit cancels the rest, as it would a late
    schedule). Returns how many; waits until none is still scheduled or pending."""
    import math

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with up.client() as c:
        dep = c.read_deployment_by_name("housekeeping/housekeeping")
        (schedule,) = [s.schedule for s in dep.schedules]
        per_hour = math.ceil(3600 / schedule.interval.total_seconds())
        ids = [c.create_flow_run_from_deployment(dep.id).id for _ in range(per_hour)]

    def settled() -> bool:
        with up.client() as c:
            runs = c.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        return all(r.state and not (r.state.is_scheduled() or r.state.is_pending()) for r in runs)

    wait_for(settled, FLOW_TIMEOUT, "an hour of housekeeping runs taken by the runner")
    return per_hour


def test_gate_run_is_on_the_first_page_of_runs(up: CdmoUp, page: Any) -> None:
    """A waiting gate run is on the first page of Runs, also after an hour of housekeeping."""
    ui = UI(page, up.url)
    up.waiting_run("development-complete")
    ui.home()
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_role("link", name=DEVELOPMENT_RUN, exact=True).first.wait_for()
    page.screenshot(path=str(up.shots / "runs-page.png"))

    assert _an_hour_of_housekeeping(up) >= 1
    page.reload()
    page.get_by_role("link", name=DEVELOPMENT_RUN, exact=True).first.wait_for()
    # the housekeeping runs are on the page too (newer), yet the gate run was not pushed off
    page.get_by_text("housekeeping", exact=True).first.wait_for()
    page.screenshot(path=str(up.shots / "runs-page-after-an-hour.png"))


HOSTILE = (
    '<script>window.__xss = 1</script> <img src=x onerror="window.__xss = 2"> '
    '[click me](javascript:window.__xss=3) <a href="javascript:window.__xss=4">a</a>'
)


def _no_script_ran(page: Any) -> None:
    page.wait_for_timeout(1500)  # let any injected handler fire
    assert page.evaluate("() => window.__xss") is None, "an injected script ran"
    hrefs = page.evaluate(
        "() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')"
    )
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")], hrefs
    assert page.locator("img[src='x']").count() == 0


def test_user_text_is_escaped_in_the_artifact_and_the_form(up: CdmoUp, page: Any) -> None:
    """Names, customers, comments, evidence and conditions holding HTML and javascript: links."""
    from cdmo_workflow import service
    from cdmo_workflow.orchestration import naming

    code = f"XSS-{secrets.token_hex(2).upper()}"

    def setup() -> None:
        ctx = up.hooked()
        with contextlib.suppress(service.Refused):
            service.provision_user(ctx, "xss-pm", "PM " + HOSTILE, ["pm"], DEMO_PASSWORD)
        team = {role: [f"demo-{role}"] for role in ("qa", "qc", "mfg", "pd", "ra", "customer")}
        team |= {"pm": ["xss-pm"], "site-head": ["demo-site-head"]}
        service.start_project(
            ctx,
            code,
            "api-clinical-program",
            "Evil " + HOSTILE,
            team,
            "xss-pm",
            password=DEMO_PASSWORD,
        )
        project = service.load_project(ctx, code)
        pdef = project.phase_def("scoping")
        for d in pdef.deliverables:
            by = "xss-pm" if d.owner == "pm" else f"demo-{d.owner}"
            service.submit_deliverable(
                ctx, code, "scoping", d.id, by, "DMS " + HOSTILE, password=DEMO_PASSWORD
            )
        for c in project.snapshot.gates[pdef.gate].checks:
            by = "xss-pm" if c.confirmed_by == "pm" else f"demo-{c.confirmed_by}"
            service.confirm_check(
                ctx, code, pdef.gate, c.id, by, "EV " + HOSTILE, password=DEMO_PASSWORD
            )
        service.sign_gate(
            ctx, code, pdef.gate, "xss-pm", DEMO_PASSWORD, "pm", "go", "approval",
            comment="Comment " + HOSTILE,
        )  # fmt: skip

    with ThreadPoolExecutor(1) as pool:
        pool.submit(setup).result()

    ui = UI(page, up.url)
    run = up.waiting_run("scoping-go", code)
    assert "<script>" not in up.description(run)
    ui.open_run_by_id(str(run.id))
    dialog = ui.open_resume_form()
    dialog.get_by_text(re.compile(r"window\.__xss = 1")).first.wait_for()  # shown as text
    _no_script_ran(page)

    page.goto(f"{ui.prefix()}/artifacts/key/{naming.artifact_key(code)}")
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    page.get_by_role("heading", name=re.compile(rf"{code} · Evil")).first.wait_for()
    _no_script_ran(page)
    page.screenshot(path=str(up.shots / "artifact-escaped.png"), full_page=True)
