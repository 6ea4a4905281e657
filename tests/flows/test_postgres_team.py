"""Team set-up smoke test: a Prefect server on PostgreSQL, a process work pool, one action
flow deployed from the checkout, and a ``prefect worker start`` subprocess running it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdmo_workflow import service

from .conftest import API_TEAM, PASSWORD, ROOT, USERS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


PG_ADMIN_URL = os.environ.get(
    "CDMO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@pytest.fixture
def prefect_pg_url():
    """A fresh PostgreSQL database with pg_trgm for the Prefect server (asyncpg URL)."""
    import secrets

    import psycopg

    name = f"prefect_test_{secrets.token_hex(5)}"
    admin = _libpq(PG_ADMIN_URL)
    url = admin.split("?", 1)[0].rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    yield "postgresql+asyncpg://" + url.split("://", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_worker_on_a_postgres_backed_server(
    tmp_path: Path, prefect_pg_url: str, pg_url: str
) -> None:
    from prefect import flow as _flow  # noqa: F401 - prefect imported for the client below
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cdmo_workflow.orchestration.server import PrefectServer, free_port

    ctx = service.open_context(db_url=pg_url, definitions=ROOT)
    ctx.db.migrate()
    for uid, (name, roles) in USERS.items():
        service.provision_user(ctx, uid, name, roles, PASSWORD)
    service.start_project(
        ctx, "PG-1", "api-clinical-program", "Orion", API_TEAM, by="pm1", password=PASSWORD
    )

    server = PrefectServer(
        tmp_path / "prefect",
        free_port(),
        env={"PREFECT_API_DATABASE_CONNECTION_URL": prefect_pg_url},
    )
    server.start()
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_API_URL": server.api_url,
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        }
    )
    prefect = str(Path(sys.executable).with_name("prefect"))
    worker = None
    try:
        subprocess.run(
            [prefect, "work-pool", "create", "cdmo-test", "--type", "process"],
            env=env, check=True, capture_output=True, cwd=ROOT,
        )  # fmt: skip
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            from prefect import flow
            from prefect.deployments import run_deployment

            remote = flow.from_source(
                source=str(ROOT), entrypoint="flows/actions.py:submit_deliverable"
            )
            remote.deploy(
                name="submit-deliverable",
                work_pool_name="cdmo-test",
                job_variables={
                    "env": {"CDMO_DATABASE_URL": pg_url, "CDMO_DEFINITIONS": str(ROOT)},
                    "working_dir": str(ROOT),
                },
                print_next_steps=False,
            )
            log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
            worker = subprocess.Popen(
                [prefect, "worker", "start", "--pool", "cdmo-test", "--type", "process"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            fr = run_deployment(
                "submit-deliverable/submit-deliverable",
                parameters={
                    "project": "PG-1",
                    "phase": "scoping",
                    "deliverable": "rfp-assessment",
                    "by": "pm1",
                    "evidence": "DMS-PG-1",
                },
                timeout=120,
                poll_interval=1,
            )
            assert fr.state.is_completed(), (fr.state, (tmp_path / "worker.log").read_text())
        scoping = service.project_status(ctx, "PG-1")["phases"][0]
        submitted = {d["id"]: d["submitted"] for d in scoping["deliverables"]}
        assert submitted["rfp-assessment"]["evidence"] == "DMS-PG-1"
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.stop()
        time.sleep(0.5)
