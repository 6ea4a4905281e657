"""The sign-off form, its refresh marker, the escaping of user text, open items (no server)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from cdmo_workflow.markup import link, md, safe_url

HOSTILE = '<script>x()</script> <img src=x onerror="y()"> [a](javascript:z()) `c` |t|'


@pytest.fixture
def demo(tmp_path: Path) -> Any:
    from cdmo_workflow import service
    from cdmo_workflow.orchestration.demo import seed

    ctx = service.open_context(db_url=f"sqlite:///{tmp_path / 'c.db'}")
    ctx.db.migrate()
    seed(ctx)
    return ctx


def test_md_and_links() -> None:
    out = md(HOSTILE)
    assert "<" not in out and ">" not in out
    assert not re.search(r"(?<!\\)[`\[\]()|*_]", out), out  # every markup char escaped
    assert "\\|" in out and "\n" not in md("a\nb")
    assert safe_url("javascript:alert(1)") is None and safe_url("data:text/html,x") is None
    assert safe_url("//evil.example/x") is None
    assert safe_url("https://dms.example/doc?id=1") == "https://dms.example/doc?id=1"
    assert link("x", "javascript:alert(1)") == "x"
    assert (
        link("report", "../../artifacts/key/project-x") == "[report](../../artifacts/key/project-x)"
    )


def test_form_requires_choices_and_the_refresh_marker_is_valid(demo: Any) -> None:
    from prefect.utilities.schema_tools.validation import validate

    from cdmo_workflow import service
    from cdmo_workflow.orchestration.forms import (
        SignOffInput,
        build_form,
        describe,
        is_refresh,
        refresh_input,
    )
    from cdmo_workflow.orchestration.gate_review import form_schema

    project = service.load_project(demo, "DEMO-001")
    review = project.open_review("scoping-go")
    form = build_form(project, review, describe(project, review, {}))
    schema = form_schema(form)
    assert {"user", "role", "decision", "meaning", "password"} <= set(schema["required"])
    for name in ("role", "decision", "meaning"):
        assert "default" not in schema["properties"][name], name
        assert schema["properties"][name]["enum"]
    assert "action" not in schema["properties"]
    assert schema["properties"]["user"]["maxLength"] == 64
    assert "Go to process development" in schema["properties"]["password"]["description"]
    marker = refresh_input(schema)
    validate(marker, schema, raise_on_error=True)  # what the server checks on resume
    assert is_refresh(SignOffInput.model_validate(marker))
    with pytest.raises(Exception):  # noqa: B017 - the server's validation error
        validate({"user": "demo-pm", "password": "x"}, schema, raise_on_error=True)


def test_describe_shows_a_refusal_first_with_its_rule_once(demo: Any) -> None:
    from datetime import UTC, datetime

    from cdmo_workflow import service
    from cdmo_workflow.orchestration.forms import describe
    from cdmo_workflow.orchestration.reads import Attempt

    project = service.load_project(demo, "DEMO-001")
    review = project.open_review("scoping-go")
    reason = (
        "sign-in failed for user 'demo-qa': wrong user id or password [rule: authentication-failed]"
    )
    attempt = Attempt(9, datetime.now(UTC), "demo-qa", "refused", "authentication-failed", reason)
    text = describe(project, review, {}, attempt, seq=9)
    first = text.splitlines()[0]
    assert first.startswith("> ⚠️ **REFUSED.**")
    assert first.count("rule") == 1
    assert describe(project, review, {}, attempt, seq=10).splitlines()[0].startswith("## ")


def test_artifact_escapes_user_text_and_lists_open_items(demo: Any) -> None:
    from cdmo_workflow import service
    from cdmo_workflow.domain.views import open_items
    from cdmo_workflow.orchestration.publish import project_markdown

    team = service.load_project(demo, "DEMO-001").team
    from cdmo_workflow.orchestration.demo import DEMO_PASSWORD

    kwargs: dict[str, Any] = {}
    if "password" in inspect.signature(service.start_project).parameters:
        kwargs["password"] = DEMO_PASSWORD  # after the authentication merge
    service.start_project(
        demo, "XSS-1", "api-clinical-program", HOSTILE, team, by="demo-pm", **kwargs
    )
    project = service.load_project(demo, "XSS-1")
    text = project_markdown(demo, project)
    assert "<script>" not in text and "<img" not in text and "](javascript" not in text
    (phase,) = open_items(project)
    assert phase["phase"] == "scoping"
    ids = {i["id"] for i in phase["items"]}
    assert "rfp-assessment" in ids
    assert "Still open in the active phases" in text and "rfp\\-assessment" not in text
    assert "(rfp-assessment)" in text.replace("\\(", "(").replace("\\)", ")")
