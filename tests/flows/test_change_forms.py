"""Change requests from the Prefect UI: the propose, submit, sign and withdraw deployments
with their forms, on a real Prefect server and runner. The target version is a git tag of
the served definitions; approving migrates the project and re-baselines its forecast."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cdmo_workflow import service

from .conftest import MINI_TEAM, PASSWORD, Orchestra, run_action_form, wait_for

pytestmark = pytest.mark.slow

WRONG = "Tr0ub4dor&3-not-it"


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.org",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.org",
           "GIT_CONFIG_GLOBAL": "/dev/null"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _tag_versions(defs: Path) -> None:
    """Tag the served definitions ``cr-v1``, and a version with a third QA signer (qa × 3) at
    build-complete ``cr-v2``; the work tree stays on ``cr-v1``."""
    if not (defs / ".git").exists():
        _git(defs, "init", "-q", "-b", "main")
    _git(defs, "add", "-A")
    _git(defs, "commit", "-q", "--allow-empty", "-m", "served definitions")
    _git(defs, "tag", "-f", "cr-v1")
    gate = defs / "gates" / "build-complete.yaml"
    before = gate.read_text()
    assert "    min: 2\n" in before
    gate.write_text(before.replace("    min: 2\n", "    min: 3\n", 1))
    _git(defs, "commit", "-q", "-am", "build-complete: one more QA signer")
    _git(defs, "tag", "-f", "cr-v2")
    _git(defs, "reset", "-q", "--hard", "cr-v1")


def _form(deployment: str, code: str, choose: dict[str, str], fields: dict[str, Any]) -> Any:
    return run_action_form(f"{deployment}/{deployment}", {"project": code}, choose, fields)


def _schema_of_waiting(deployment: str, code: str) -> tuple[Any, dict[str, Any]]:
    """Start a deployment and read the schema of the form it waits with (no resume)."""
    from prefect import get_client
    from prefect.deployments import run_deployment

    fr = run_deployment(f"{deployment}/{deployment}", parameters={"project": code}, timeout=0)

    def waiting() -> Any:
        with get_client(sync_client=True) as c:
            run = c.read_flow_run(fr.id)
            if run.state is None or not run.state.is_paused():
                return None
            keyset = run.state.state_details.run_input_keyset or {}
            try:
                schema = json.loads(c.read_flow_run_input(run.id, keyset["schema"]))
                text = json.loads(c.read_flow_run_input(run.id, keyset["description"]))
            except Exception:
                return None
            return run, {"schema": schema, "description": text}

    return wait_for(waiting, 90, f"{deployment} waiting")


def test_change_requests_from_the_ui(orchestra: Orchestra) -> None:
    from prefect.flow_runs import resume_flow_run

    orch = orchestra
    _tag_versions(orch.definitions)
    code = orch.new_code("CRUI")
    ctx = orch.ctx()
    service.start_project(
        ctx, code, "mini-programme", "Helix Bio", MINI_TEAM, by="pm1", password=PASSWORD
    )
    # Propose: free text for title and reason, the target a git tag (never a folder).
    folder = _form("propose-change", code, {}, {
        "title": "Scale-up", "reason": "Bigger batch", "to_version": str(orch.definitions),
        "user": "pm1", "password": PASSWORD,
    })  # fmt: skip
    assert folder.state.name == "Refused", folder.state
    assert "unknown-version" in (folder.state.message or "")
    fr = _form("propose-change", code, {}, {
        "title": "Scale-up <b>x</b> [link](javascript:alert(1))",
        "reason": "Bigger batch for the sponsor's phase II",
        "schedule_impact": "5d", "cost_impact": "1200.50", "currency": "EUR",
        "to_version": "cr-v2", "user": "pm1", "password": PASSWORD,
    })  # fmt: skip
    assert fr.state.is_completed() and fr.state.name != "Refused", fr.state
    from .test_paths import _assert_no_credential_left

    _assert_no_credential_left(orch, fr.id)
    cr = service.project_status(orch.plain(), code)["change_requests"][0]
    assert (cr["id"], cr["state"], cr["cost_impact"]) == ("CR-1", "draft", "1200.50")
    # Submit: a select of the drafts.
    fr = _form("submit-change", code, {"change": "CR-1:"}, {"user": "pm1", "password": PASSWORD})
    assert fr.state.is_completed() and fr.state.name != "Refused", fr.state
    # The sign form: every choice starts empty, the description shows what is signed.
    run, form = _schema_of_waiting("sign-change", code)
    props = form["schema"]["properties"]
    for name in ("change", "role", "decision", "meaning"):
        assert "default" not in props[name] and name in form["schema"]["required"], name
    assert props["decision"]["enum"] == ["approve", "reject"]
    assert sorted(props["role"]["enum"]) == ["customer", "pm"]
    text = form["description"]
    assert "<b>" not in text and "](javascript" not in text  # markup shown as text
    assert "sha256" in text and "1200.50" in text
    resume_flow_run(run.id, run_input={
        "change": props["change"]["enum"][0], "role": "customer", "decision": "approve",
        "meaning": "approval", "comment": "", "user": "qa1", "password": PASSWORD,
    })  # fmt: skip
    done = wait_for(lambda: _final(run.id), 90, "refused sign-change")
    assert done.state.name == "Refused" and "not-assigned-to-role" in done.state.message
    wrong = _form("sign-change", code, {"change": "CR-1:"}, {
        "role": "customer", "decision": "approve", "meaning": "approval", "comment": "",
        "user": "cust1", "password": WRONG,
    })  # fmt: skip
    assert wrong.state.name == "Refused" and "authentication-failed" in wrong.state.message
    _assert_no_credential_left(orch, wrong.id)
    for user, role in (("cust1", "customer"), ("pm1", "pm")):
        fr = _form("sign-change", code, {"change": "CR-1:"}, {
            "role": role, "decision": "approve", "meaning": "approval", "comment": "",
            "user": user, "password": PASSWORD,
        })  # fmt: skip
        assert fr.state.is_completed() and fr.state.name != "Refused", fr.state
        _assert_no_credential_left(orch, fr.id)
    status = service.project_status(orch.plain(), code)
    assert status["change_requests"][0]["state"] == "approved"
    assert [b["change"] for b in status["baselines"]] == [None, "CR-1"]
    assert status["process"]["git_commit"] is not None
    from cdmo_workflow.domain.forecast import forecast

    fc = forecast(service.load_project(orch.plain(), code), status_time(status))
    assert fc.baseline_number == 1 and fc.baselines[1]["schedule_impact"] == "+5d"
    # Nothing left to sign: the sign form says so in one line.
    nothing = run_action_form("sign-change/sign-change", {"project": code}, {}, {})
    assert nothing.state.name == "Refused" and "nothing to choose" in nothing.state.message
    # Withdraw a second request from the UI.
    service.propose_change(ctx, code, "pm1", "Another", "r", password=PASSWORD)
    fr = _form("withdraw-change", code, {"change": "CR-2:"}, {
        "reason": "not needed", "user": "pm1", "password": PASSWORD,
    })  # fmt: skip
    assert fr.state.is_completed() and fr.state.name != "Refused", fr.state
    assert service.project_status(orch.plain(), code)["change_requests"][1]["state"] == "withdrawn"


def status_time(status: dict[str, Any]) -> Any:
    from cdmo_workflow.domain.records import parse_time

    return parse_time(status["created_at"])


def _final(run_id: Any) -> Any:
    from prefect import get_client

    with get_client(sync_client=True) as c:
        r = c.read_flow_run(run_id)
        return r if r.state is not None and r.state.is_final() else None


@pytest.mark.postgres
def test_change_requests_from_the_ui_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The same forms with the project database on PostgreSQL: a runner of its own, the
    messages at a real HTTP receiver (each action relays at once), the re-baselined plan."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cdmo_workflow.orchestration.server import PrefectServer, free_port
    from tests.notify.receivers import JsonReceiver
    from tests.prefect_support import drain_prefect_queues

    from .conftest import USERS, Runner, _combined_definitions

    defs = _combined_definitions(tmp_path / "defs")
    receiver = JsonReceiver().start()
    ctx = service.open_context(db_url=pg_url, definitions=defs)
    ctx.db.migrate()
    for uid, (name, roles) in USERS.items():
        service.provision_user(ctx, uid, name, roles, PASSWORD, [receiver.url(f"/{uid}")])
    service.start_project(
        ctx, "PG-CR", "mini-programme", "Helix Bio", MINI_TEAM, by="pm1", password=PASSWORD
    )
    server = PrefectServer(tmp_path / "prefect", free_port())
    server.start()
    env = {
        **os.environ,
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "CDMO_DATABASE_URL": pg_url,
        "CDMO_DEFINITIONS": str(defs),
        "CDMO_PREFECT_HOOKS": "0",
    }
    runner = Runner(env=env, log=tmp_path / "runner.log")
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            runner.start(server.api_url)
            fr = _form("propose-change", "PG-CR", {}, {
                "title": "More material", "reason": "Phase II", "schedule_impact": "1w",
                "cost_impact": "9999.99", "currency": "CHF", "user": "pm1",
                "password": PASSWORD,
            })  # fmt: skip
            assert fr.state.name == "Completed", fr.state
            fr = _form("submit-change", "PG-CR", {"change": "CR-1:"},
                       {"user": "pm1", "password": PASSWORD})  # fmt: skip
            assert fr.state.name == "Completed", fr.state
            for user, role in (("cust1", "customer"), ("pm1", "pm")):
                fr = _form("sign-change", "PG-CR", {"change": "CR-1:"}, {
                    "role": role, "decision": "approve", "meaning": "approval",
                    "comment": "", "user": user, "password": PASSWORD,
                })  # fmt: skip
                assert fr.state.name == "Completed", fr.state
            drain_prefect_queues()
    finally:
        runner.stop()
        server.stop()
    status = service.project_status(ctx, "PG-CR")
    assert status["change_requests"][0]["state"] == "approved"
    assert [b["schedule_impact"] for b in status["baselines"]] == [None, "+1w"]
    got = wait_for(
        lambda: (
            [m for m in receiver.messages if "Change request CR-1" in m.body["title"]]
            if len([m for m in receiver.messages if "CR-1 applied" in m.body["title"]]) >= 3
            else None
        ),
        30,
        "change messages",
    )
    titles = {(m.path.strip("/"), m.body["title"]) for m in got}
    assert ("cust1", "[PG-CR] Change request CR-1 needs your approval") in titles
    assert ("qa1", "[PG-CR] Change request CR-1 applied") in titles
    receiver.stop()
    from cdmo_workflow.store import dispose_engines

    dispose_engines(pg_url)
