"""``cdmo deploy``: ``prefect deploy --all`` from ``prefect.yaml``, checked before and after.

A thin wrapper: it refuses to deploy when the result would be wrong without a word (no
Prefect API, no checkout for the workers' pull step, no work pool), runs Prefect's own
``prefect --no-prompt deploy --all`` in the checkout, creates the zombie automation
(Prefect's documented "crash runs without heartbeat"), and then reads every deployment
back: none may carry a ``CDMO_DATABASE_URL`` or an empty environment value, because a job
variable overrides the worker's own environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import errors, fail

FORBIDDEN_JOB_ENV = ("CDMO_DATABASE_URL", "CDMO_PASSWORD", "PREFECT_API_AUTH_STRING")


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)


def _checkout(path: str | None) -> Path:
    raw = path or os.environ.get("CDMO_CHECKOUT") or ""
    if not raw.strip():
        fail(
            "set CDMO_CHECKOUT (or --checkout) to the path of this repository on the worker "
            "machines; the deployments' pull step changes into it"
        )
    root = Path(raw).expanduser().resolve()
    if not (root / "prefect.yaml").is_file() or not (root / "flows" / "gate_review.py").is_file():
        fail(f"{root} holds no prefect.yaml and flows/ (CDMO_CHECKOUT must be the checkout)")
    return root


def deployment_names(root: Path) -> list[str]:
    import yaml

    doc = yaml.safe_load((root / "prefect.yaml").read_text())
    return [str(d["name"]) for d in doc.get("deployments") or []]


def check_deployment(dep: Any) -> list[str]:
    """What is wrong with one deployment as stored by the server (empty: nothing)."""
    problems: list[str] = []
    env = (dep.job_variables or {}).get("env") or {}
    for name, value in env.items():
        if name in FORBIDDEN_JOB_ENV:
            problems.append(f"{name} is baked into the deployment (workers must set it)")
        elif value is None or str(value).strip() == "":
            problems.append(f"{name} is baked in empty and would override the worker's value")
    for step in dep.pull_steps or []:
        for action, args in step.items():
            if "set_working_directory" in action and not str(args.get("directory", "")).strip():
                problems.append("the pull step's working directory is empty (CDMO_CHECKOUT)")
    return problems


def verify(client: Any, names: list[str]) -> dict[str, list[str]]:
    """Deployment name → problems, read back from the server (missing ones included)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    found = client.read_deployments(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names)), limit=200
    )
    by_name = {d.name: d for d in found}
    return {n: (check_deployment(by_name[n]) if n in by_name else ["not deployed"]) for n in names}


def deploy(
    checkout: Annotated[
        str | None,
        typer.Option("--checkout", help="This repository's path on the workers (CDMO_CHECKOUT)."),
    ] = None,
    pool: Annotated[str, typer.Option("--pool", help="Process work pool to create if missing.")] = (
        "cdmo"
    ),
) -> None:
    """Deploy every flow in prefect.yaml to the Prefect API in PREFECT_API_URL, then check it."""
    if not os.environ.get("PREFECT_API_URL", "").strip():
        fail("set PREFECT_API_URL to the team's Prefect server API (e.g. http://host:4200/api)")
    root = _checkout(checkout)
    env = dict(os.environ, CDMO_CHECKOUT=str(root))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect import get_client

    from ..orchestration.serving import ensure_automations, start_housekeeping

    with errors(), get_client(sync_client=True) as client:
        try:
            client.api_healthcheck()
            client.read_work_pools()
        except Exception as exc:
            code = getattr(getattr(exc, "response", None), "status_code", None)
            if code == 401:
                fail("the Prefect API answered 401: set PREFECT_API_AUTH_STRING")
            fail(f"the Prefect API at {os.environ['PREFECT_API_URL']} does not answer: {exc}")
        try:
            client.read_work_pool(pool)
        except Exception:
            from prefect.client.schemas.actions import WorkPoolCreate

            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            typer.echo(f"created process work pool {pool!r}")
    prefect = str(Path(sys.executable).with_name("prefect"))
    proc = subprocess.run(
        [prefect, "--no-prompt", "deploy", "--all"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        for line in tail:
            typer.echo(line, err=True)
        fail("prefect deploy --all failed (output above)")
    names = deployment_names(root)
    with errors(), get_client(sync_client=True) as client:
        created = ensure_automations(client)
        problems = verify(client, names)
        if not any(problems.values()):
            start_housekeeping(client)
    bad = {n: p for n, p in problems.items() if p}
    for name, items in bad.items():
        for item in items:
            typer.echo(f"error: deployment {name}: {item}", err=True)
    if bad:
        raise typer.Exit(1)
    automation = "created" if created else "present"
    typer.echo(
        f"deployed {len(names)} deployments from {root / 'prefect.yaml'} to pool {pool!r}; "
        f"zombie automation {automation}"
    )
    typer.echo(
        "each worker needs in its own environment: CDMO_DATABASE_URL, PREFECT_API_URL "
        "(+ PREFECT_API_AUTH_STRING), CDMO_UI_URL, CDMO_REPORTS_DIR, CDMO_APPRISE_CONFIG, "
        "CDMO_AUDIT_KEY_FILE, CDMO_CHECKPOINT_DIR (docs/orchestration.md)"
    )
