"""The post-commit hook costs nothing without a Prefect API; names and keys are stable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cdmo_workflow.orchestration import naming

ROOT = Path(__file__).resolve().parents[2]


def _probe(tmp_path: Path, env_extra: dict[str, str], code: str) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env_extra}
    if os.environ.get("PYTHONPATH"):  # a worktree under test, not the installed package
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys
from cdmo_workflow import bootstrap
ctx = bootstrap.open_context(db_url="sqlite:///x.db")
print(json.dumps({"hooks": [type(h).__name__ for h in ctx.after_commit],
                  "prefect": "prefect" in sys.modules}))
"""


def test_no_api_no_hook_no_prefect(tmp_path: Path) -> None:
    got = _probe(tmp_path, {}, PROBE)
    # only the one-line "no Prefect API while gate runs wait" warning (no Prefect import)
    assert got == {"hooks": ["NoPrefectWarning"], "prefect": False}


def test_env_api_installs_the_hook_without_importing_prefect(tmp_path: Path) -> None:
    got = _probe(tmp_path, {"PREFECT_API_URL": "http://127.0.0.1:9/api"}, PROBE)
    # the Prefect hook and the people hook (run tags, task artifacts); neither imports Prefect
    assert got == {"hooks": ["PrefectHook", "PeopleHook"], "prefect": False}
    off = {"PREFECT_API_URL": "http://127.0.0.1:9/api", "CDMO_PREFECT_HOOKS": "0"}
    assert _probe(tmp_path, off, PROBE)["hooks"] == []


def test_cdmo_up_file_applies_only_to_its_database(tmp_path: Path) -> None:
    (tmp_path / ".cdmo").mkdir()
    f = tmp_path / ".cdmo" / "prefect-api-url"
    f.write_text(
        json.dumps({"api_url": "http://127.0.0.1:9/api", "database_url": "sqlite:///x.db"})
    )
    assert _probe(tmp_path, {}, PROBE)["hooks"] == ["PrefectHook", "PeopleHook"]
    f.write_text(
        json.dumps({"api_url": "http://127.0.0.1:9/api", "database_url": "sqlite:///y.db"})
    )
    assert _probe(tmp_path, {}, PROBE)["hooks"] == ["NoPrefectWarning"]


def test_validate_never_imports_prefect(tmp_path: Path) -> None:
    code = f"""
import json, sys
from typer.testing import CliRunner
from cdmo_workflow.cli import app
r = CliRunner().invoke(app, ["validate", "{ROOT / "definitions"}", "{ROOT / "gates"}"])
print(json.dumps({{"code": r.exit_code, "prefect": "prefect" in sys.modules}}))
"""
    got = _probe(tmp_path, {"PREFECT_API_URL": "http://127.0.0.1:9/api"}, code)
    assert got == {"code": 0, "prefect": False}


def test_names_and_keys() -> None:
    assert naming.artifact_key("P-001") == "project-p-001"
    assert naming.artifact_key("Helix_Bio/ 7") == "project-helix-bio-7"
    assert naming.run_name("P-001", "Go to process development") == (
        "P-001 · Go to process development"
    )
    assert naming.gate_run_key("P-001", "scoping-go", 1) == "P-001:scoping-go:1:0"
    assert naming.gate_run_key("P-001", "scoping-go", 2, 17, 1) == "P-001:scoping-go:2:17:1"
    assert naming.event_name("gate.opened") == "cdmo.gate.opened"


def test_sla_status() -> None:
    from datetime import UTC, datetime, timedelta

    from cdmo_workflow.orchestration.publish import sla_status

    opened = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
    assert sla_status(opened, None, opened) == ("no SLA", "")
    assert sla_status(opened, "10bd", opened + timedelta(days=1))[0] == "on time"
    status, due = sla_status(opened, "10bd", opened + timedelta(days=13))
    assert status == "due soon" and due == "2026-03-16T09:00:00Z"
    assert sla_status(opened, "2d", opened + timedelta(days=3))[0] == "overdue"


def test_hook_failures_are_one_line_and_say_what_to_set() -> None:
    from types import SimpleNamespace

    from cdmo_workflow.orchestration.hooks import failure_line

    unauthorized = Exception("Client error '401 Unauthorized'\nlong body")
    unauthorized.response = SimpleNamespace(status_code=401)  # type: ignore[attr-defined]
    line = failure_line(unauthorized, "http://prefect:4200/api")
    assert "\n" not in line and "PREFECT_API_AUTH_STRING" in line and "401" in line
    other = failure_line(ConnectionError("refused\nmore"), "http://prefect:4200/api")
    assert "\n" not in other and "ConnectionError" in other and "reconcile" in other


def test_no_api_warns_once_in_one_line_when_gate_runs_wait(tmp_path: Path) -> None:
    code = """
import json, sys
from cdmo_workflow.orchestration.hooks import NoPrefectWarning
class R:  # a committed command's result
    replayed, events, project = False, ["gate.signed"], "P-1"
class Ctx: pass
import cdmo_workflow.orchestration.reads as st
st.open_review_count = lambda ctx, code: 2
h = NoPrefectWarning(Ctx())
h(R()); h(R())
print(json.dumps({"ok": True}))
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Prefect API configured" in lines[0] and "2 gate" in lines[0]
