"""prefect.yaml and `cdmo deploy` cannot deploy a wrong set-up silently (no server needed;
the real deployment is tested in test_postgres_team.py)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import yaml
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.cli.deploy import check_deployment, deployment_names

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_bakes_in_nothing_from_the_deploying_shell() -> None:
    text = (ROOT / "prefect.yaml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert set(re.findall(r"\{\{\s*\$(\w+)\s*\}\}", body)) == {"CDMO_CHECKOUT"}
    doc = yaml.safe_load(text)
    for dep in doc["deployments"]:
        env = dep["work_pool"]["job_variables"]["env"]
        assert env == {"CDMO_TEAM": "1", "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}, dep
    names = deployment_names(ROOT)
    assert "gate-review" in names and "housekeeping" in names
    scheduled = [d["name"] for d in doc["deployments"] if d.get("schedules")]
    assert scheduled == ["housekeeping"]  # no minute schedules burying the gate runs


def test_check_deployment_names_what_would_go_wrong() -> None:
    def dep(env: dict, directory: str = "/opt/cdmo") -> SimpleNamespace:
        steps = [{"prefect.deployments.steps.set_working_directory": {"directory": directory}}]
        return SimpleNamespace(job_variables={"env": env}, pull_steps=steps)

    assert check_deployment(dep({"CDMO_TEAM": "1"})) == []
    assert "baked into" in check_deployment(dep({"CDMO_DATABASE_URL": "postgresql://x"}))[0]
    assert "empty" in check_deployment(dep({"CDMO_UI_URL": ""}))[0]
    assert "working directory" in check_deployment(dep({}, directory=""))[0]


def test_deploy_refuses_without_api_or_checkout(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["deploy"], env={"PREFECT_API_URL": ""})
    assert r.exit_code == 1 and "PREFECT_API_URL" in r.output
    r = CliRunner().invoke(
        app, ["deploy"], env={"PREFECT_API_URL": "http://127.0.0.1:9/api", "CDMO_CHECKOUT": ""}
    )
    assert r.exit_code == 1 and "CDMO_CHECKOUT" in r.output
    r = CliRunner().invoke(
        app, ["deploy", "--checkout", str(tmp_path)], env={"PREFECT_API_URL": "http://x/api"}
    )
    assert r.exit_code == 1 and "no prefect.yaml" in r.output
