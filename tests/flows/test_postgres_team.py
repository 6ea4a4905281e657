"""Team set-up smoke test: a Prefect server on PostgreSQL, a process work pool, one action
flow deployed from the checkout, and a ``prefect worker start`` subprocess running it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cdmo_workflow import service

from .conftest import API_TEAM, MINI_TEAM, PASSWORD, ROOT, USERS, run_action_form

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
            fr = run_action_form(
                "submit-deliverable/submit-deliverable",
                {"project": "PG-1"},
                {"deliverable": "[rfp-assessment,"},
                {"evidence": "DMS-PG-1", "user": "pm1", "password": PASSWORD},
                timeout=120,
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


# --------------------------------------------------------------------------------------
# The team deployment, as docs/orchestration.md describes it, and what goes wrong on it.

AUTH = "admin:team-test-secret"
GATE_FIELDS = {"decision": "go", "meaning": "approval", "comment": "", "conditions": []}


def _gate_runs(client: Any, code: str, gate: str | None = None) -> list[Any]:
    from cdmo_workflow.orchestration.runs import gate_runs

    return gate_runs(client, code, gate, waiting_only=False)


def _waiting_now(client: Any, ctx: Any, code: str, gate: str) -> Any:
    """The gate's run once it waits with a form built from the current database state."""
    from cdmo_workflow.orchestration.reads import last_seq

    project = service.load_project(ctx, code)
    review = project.open_review(gate)
    if review is None:
        return None
    base = f"{gate}-{review.number}-{last_seq(ctx, code)}"
    for run in _gate_runs(client, code, gate):
        key = str(run.state.state_details.pause_key or "") if run.state.is_paused() else ""
        if key == base or key.startswith(base + "-"):
            return run
    return None


def _resume_ui(client: Any, run: Any, user: str, role: str) -> None:
    """What the UI's Resume dialog sends: POST /flow_runs/{id}/resume with run_input
    (retried, as a signer clicks again, when it meets Prefect's schema race)."""
    from cdmo_workflow.orchestration.runs import resume_with_retry

    response = resume_with_retry(
        client,
        run.id,
        {"user": user, "role": role, "password": PASSWORD} | GATE_FIELDS,
    )
    assert response.status.value == "ACCEPT", response.details


def _accepted_signs(ctx: Any, code: str) -> list[tuple[str, str]]:
    import sqlalchemy as sa

    from cdmo_workflow.store import tables as t

    c = t.audit_events.c
    stmt = sa.select(c.actor, c.subject).where(
        c.chain == code, c.action == "gate.sign", c.outcome == "accepted"
    )
    with ctx.db.unit_of_work(read_only=True) as uow:
        return [(a, s) for a, s in uow.session.execute(stmt)]


def _signed(ctx: Any, code: str, user: str, gate: str) -> int:
    return sum(1 for a, s in _accepted_signs(ctx, code) if a == user and s.split("#")[0] == gate)


def _worker_of(workers: list[Any], run: Any, old: dict[str, set[int]]) -> Any:
    """The worker a new process of which executes the run (its PREFECT__FLOW_RUN_ID)."""
    if run.state.type.value not in ("PENDING", "RUNNING"):
        return None
    return next((w for w in workers if w.processes_of(run.id) - old[w.name]), None)


def _dump(client: Any) -> None:
    for r in client.read_flow_runs(limit=200):
        print(f"  {r.name:40} {r.state.name:12} {r.tags} {r.state.message or ''}"[:250])


def submit_all_mini(ctx: Any, code: str, phase: str) -> None:
    project = service.load_project(ctx, code)
    pdef = project.phase_def(phase)
    gdef = project.snapshot.gates[pdef.gate]
    for d in pdef.deliverables:
        if d.required:
            service.submit_deliverable(
                ctx, code, phase, d.id, "pm1", f"DMS-{phase}-{d.id}", password=PASSWORD
            )
    for c in gdef.checks:
        service.confirm_check(
            ctx, code, gdef.id, c.id, "pm1", f"DMS-{gdef.id}-{c.id}", password=PASSWORD
        )


def test_team_deployment_survives_lost_worker_restart_and_outage(
    tmp_path: Path, prefect_pg_url: str, pg_url: str
) -> None:
    """prefect.yaml deployed by `cdmo deploy`, two workers in their own network namespaces,
    a project through two gates with UI resumes; a worker machine dies mid-run, the Prefect
    server restarts, and a sign-off is made from the CLI while Prefect is down.

    Every gate waits again within the target; no signature or run is lost or doubled; no
    form answer (password) is left in Prefect."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from cdmo_workflow.orchestration.hooks import PrefectHook
    from cdmo_workflow.orchestration.server import PrefectServer, free_port

    from .conftest import _combined_definitions
    from .team_support import Forwarder, NetNs, Worker, add_users, netns_available, wait_until

    timings: dict[str, float] = {}
    defs = _combined_definitions(tmp_path / "defs")
    plain = service.open_context(db_url=pg_url, definitions=defs)
    plain.db.migrate()
    add_users(plain)

    port = free_port()
    local_api = f"http://127.0.0.1:{port}/api"
    server = PrefectServer(
        tmp_path / "prefect",
        port,
        host="0.0.0.0",
        env={
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_pg_url,
            "PREFECT_SERVER_API_AUTH_STRING": AUTH,
            "PREFECT_UI_API_URL": local_api,
        },
    )
    use_netns = netns_available()
    spaces = [NetNs(1), NetNs(2)] if use_netns else []
    forwarder = Forwarder(("127.0.0.1", 5432))
    workers: list[Worker] = []
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CDMO_"))} | {
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_AUTH_STRING": AUTH,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    try:
        server.start()
        for ns in spaces:
            ns.create()
        # -- deploy from prefect.yaml itself with `cdmo deploy` (prefect deploy --all)
        deploy_env = base_env | {
            "PREFECT_API_URL": local_api,
            "PREFECT_HOME": str(tmp_path / "deployer"),
            "CDMO_CHECKOUT": str(ROOT),
        }
        cdmo = str(Path(sys.executable).with_name("cdmo"))
        out = subprocess.run(
            [cdmo, "deploy"], env=deploy_env, cwd=ROOT, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "zombie automation" in out.stdout

        # -- two workers, each with its own home (and network namespace)
        for i, name in enumerate(("worker-a", "worker-b")):
            host = spaces[i].host_ip if use_netns else "127.0.0.1"
            db = pg_url.replace("127.0.0.1:5432", f"{host}:{forwarder.port}")
            home = tmp_path / name
            home.mkdir()
            env = base_env | {
                "HOME": str(home),
                "PREFECT_HOME": str(home / ".prefect"),
                "PREFECT_API_URL": f"http://{host}:{port}/api",
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "PREFECT_WORKER_PREFETCH_SECONDS": "2",
                "CDMO_DATABASE_URL": db,
                "CDMO_DEFINITIONS": str(defs),
                "CDMO_HOUSEKEEPING_EVERY": "5",
                "CDMO_STUCK_AFTER": "45",
            }
            w = Worker(
                name, env, ROOT, tmp_path / f"{name}.log", spaces[i].name if use_netns else None
            )
            w.start("cdmo")
            workers.append(w)

        with (
            temporary_settings(updates={PREFECT_API_URL: local_api, PREFECT_API_AUTH_STRING: AUTH}),
            get_client(sync_client=True) as client,
        ):
            # deployments carry no database URL and no empty value
            dep = client.read_deployment_by_name("gate-review/gate-review")
            env_vars = (dep.job_variables or {}).get("env", {})
            assert "CDMO_DATABASE_URL" not in env_vars and all(env_vars.values()), env_vars

            cli = service.open_context(db_url=pg_url, definitions=defs)
            cli.after_commit.append(PrefectHook(cli, api_url=local_api))
            code = "TEAM-" + secrets.token_hex(3).upper()
            service.start_project(
                cli, code, "mini-programme", "Helix Bio", MINI_TEAM, by="pm1", password=PASSWORD
            )
            submit_all_mini(cli, code, "design")

            def sign_and_wait(gate: str, user: str, role: str, then: str | None) -> float:
                run = wait_until(lambda: _waiting_now(client, plain, code, gate), 120, gate)
                t0 = time.monotonic()
                _resume_ui(client, run, user, role)
                if then:
                    wait_until(lambda: _waiting_now(client, plain, code, then), 120, then)
                return time.monotonic() - t0

            # -- 1. gate 1 through two UI resumes
            t0 = time.monotonic()
            wait_until(lambda: _waiting_now(client, plain, code, "design-review"), 120, "g1")
            timings["first wait"] = time.monotonic() - t0
            timings["sign 1"] = sign_and_wait("design-review", "pm1", "pm", "design-review")
            run = wait_until(lambda: _waiting_now(client, plain, code, "design-review"), 60, "g1")
            _resume_ui(client, run, "cust1", "customer")
            wait_until(
                lambda: service.project_status(plain, code)["phases"][1]["state"] == "active",
                120,
                "build phase active",
            )
            submit_all_mini(cli, code, "build")
            wait_until(lambda: _waiting_now(client, plain, code, "build-complete"), 120, "g2")

            # -- 2. a worker machine dies while the gate run processes a sign-off
            run = _waiting_now(client, plain, code, "build-complete")
            old = {w.name: w.processes_of(run.id) for w in workers}  # exiting after suspend
            _resume_ui(client, run, "qa1", "qa")
            wait_until(
                lambda: (
                    (r := client.read_flow_run(run.id)).state.type.value in ("PENDING", "RUNNING")
                    and r
                ),
                60,
                "the resumed run picked up",
                every=0.1,
            )
            victim = wait_until(
                lambda: _worker_of(workers, client.read_flow_run(run.id), old),
                20,
                "its worker",
                0.1,
            )
            was = client.read_flow_run(run.id).state.type.value
            signed_before = _signed(plain, code, "qa1", "build-complete")
            t_kill = time.monotonic()
            victim.kill()
            print(f"killed {victim.name} with the gate run {was} (signed first: {signed_before})")
            wait_until(lambda: _waiting_now(client, plain, code, "build-complete"), 150, "healed")
            timings["lost worker -> waiting again"] = time.monotonic() - t_kill
            assert _signed(plain, code, "qa1", "build-complete") == 1

            # -- 3. the Prefect server restarts
            server.stop()
            t0 = time.monotonic()
            server.start()
            wait_until(lambda: _waiting_now(client, plain, code, "build-complete"), 120, "back")
            timings["server restart -> waiting"] = time.monotonic() - t0

            # -- 4. Prefect is down while qa2 signs from the CLI
            server.stop()
            service.sign_gate(cli, code, "build-complete", "qa2", PASSWORD, "qa", "go", "approval")
            t0 = time.monotonic()
            server.start()
            stale = wait_until(
                lambda: _waiting_now(client, plain, code, "build-complete"), 120, "refreshed"
            )
            timings["outage -> form refreshed"] = time.monotonic() - t0
            schema = json.loads(
                client.read_flow_run_input(
                    stale.id, f"suspended-{stale.state.state_details.pause_key}-schema"
                )
            )
            assert "qa" not in json.dumps(schema["properties"]["role"]), schema
            _resume_ui(client, stale, "cust1", "customer")
            wait_until(
                lambda: service.project_status(plain, code)["state"] == "completed",
                120,
                "project completed",
            )

            # -- no signature lost or doubled, one decided run per review, no input left
            signed = _accepted_signs(plain, code)
            assert len(signed) == 5, signed
            for user, gate in [
                ("pm1", "design-review"),
                ("cust1", "design-review"),
                ("qa1", "build-complete"),
                ("qa2", "build-complete"),
                ("cust1", "build-complete"),
            ]:
                assert _signed(plain, code, user, gate) == 1, (user, gate, signed)
            runs = wait_until(
                lambda: (
                    (rs := _gate_runs(client, code)) and all(r.state.is_final() for r in rs) and rs
                ),
                120,
                "every gate run final",
            )
            completed = [r for r in runs if r.state.is_completed()]
            assert sorted(r.parameters["gate"] for r in completed) == [
                "build-complete",
                "design-review",
            ], [(r.name, r.state.name, r.state.message) for r in runs]
            for r in runs:
                left = client.filter_flow_run_input(
                    flow_run_id=r.id, key_prefix="", limit=100, exclude_keys=set()
                )
                assert not [i.key for i in left if i.key.endswith("-response")], r.state
        print("team timings (s):", {k: round(v, 1) for k, v in timings.items()})
        print("network namespaces:", use_netns)
        assert timings["lost worker -> waiting again"] < 120, timings
    finally:
        if sys.exc_info()[0] is not None:
            print("timings so far:", timings)
            with (
                contextlib.suppress(Exception),
                temporary_settings(
                    updates={PREFECT_API_URL: local_api, PREFECT_API_AUTH_STRING: AUTH}
                ),
                get_client(sync_client=True) as c,
            ):
                _dump(c)
        for w in workers:
            w.stop()
        server.stop()
        forwarder.close()
        for ns in spaces:
            ns.delete()
