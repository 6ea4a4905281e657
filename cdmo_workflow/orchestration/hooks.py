"""The post-commit hook that keeps Prefect in step with the database.

After every accepted command (from the CLI, a flow, or any other caller of ``service``):

* emit ``cdmo.<event>`` Prefect events;
* resume the project's *waiting* gate-review runs that the command concerns with a refresh
  input, so their description is never stale and none waits for a signature already
  recorded (they re-read the database, then wait again or finish);
* create the gate-review run of every review the command opened (idempotency key);
* update the ``project-<code>`` artifact (and the ``portfolio`` table on stage changes);
* optionally start a run of the notification relay deployment (the CLI does; flows call the
  relay themselves).

A hook failure never undoes the command (``service._fire`` logs it), and the reconcile flow
repairs anything missed while Prefect was unreachable. This module imports Prefect only when
the hook fires, so a CLI without a Prefect API pays nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("cdmo_workflow.orchestration")

API_URL_FILE = Path(".cdmo") / "prefect-api-url"
"""Written by ``cdmo up`` while it runs, so CLI commands in another terminal find the UI."""

PROJECT_WIDE = {
    "project.on-hold",
    "project.resumed",
    "project.completed",
    "project.killed",
    "project.migrated",  # an approved change moved the project: every gate form may change
}
GATE_EVENTS = {"gate.signed", "gate.decided", "gate.reopened"}
CREATE_ON = {"gate.opened", "gate.reopened", "project.resumed"}
PORTFOLIO_ON = {
    "project.started",
    "phase.activated",
    "gate.opened",
    "gate.decided",
    "project.on-hold",
    "project.resumed",
    "project.completed",
    "project.killed",
}

_reachable: dict[str, bool] = {}


def configured_api_url(database_url: str | None = None) -> str | None:
    """The Prefect API to talk to, or None: ``PREFECT_API_URL``, else ``cdmo up``'s file.

    The file names the database ``cdmo up`` serves; it applies only to commands on that same
    database. ``CDMO_PREFECT_HOOKS=0`` turns the hook off.
    """
    if os.environ.get("CDMO_PREFECT_HOOKS", "").strip().lower() in ("0", "false", "no", "off"):
        return None
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if url:
        return url
    try:
        info = json.loads(API_URL_FILE.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not info.get("api_url"):
        return None
    if database_url is not None and info.get("database_url") != database_url:
        return None
    return str(info["api_url"])


def write_api_url_file(api_url: str, database_url: str) -> Path:
    API_URL_FILE.parent.mkdir(parents=True, exist_ok=True)
    API_URL_FILE.write_text(json.dumps({"api_url": api_url, "database_url": database_url}))
    return API_URL_FILE


def remove_api_url_file(api_url: str) -> None:
    try:
        if json.loads(API_URL_FILE.read_text()).get("api_url") == api_url:
            API_URL_FILE.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _is_reachable(url: str) -> bool:
    if url not in _reachable:
        import urllib.request

        try:
            with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=1.5) as r:
                _reachable[url] = r.status == 200
        except Exception:
            _reachable[url] = False
    return _reachable[url]


@contextlib.contextmanager
def prefect_api(url: str | None) -> Iterator[None]:
    """Point Prefect at ``url`` for the duration (no-op when it is already the setting)."""
    if not url or os.environ.get("PREFECT_API_URL", "").strip() == url:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


class PrefectHook:
    """``Context.after_commit`` hook; see the module docstring."""

    __name__ = "prefect_hook"

    def __init__(
        self,
        ctx: Any,
        *,
        api_url: str | None = None,
        exclude_run_id: Any = None,
        trigger_relay: bool = False,
        artifacts: bool = True,
    ) -> None:
        self.ctx = ctx
        self.api_url = api_url
        self.exclude_run_id = exclude_run_id
        self.trigger_relay = trigger_relay
        self.artifacts = artifacts

    def __call__(self, result: Any) -> None:
        if result.replayed or not result.events or not result.project:
            return
        if self.api_url and not _is_reachable(self.api_url):
            log.info("Prefect API %s is not reachable; reconcile will catch up", self.api_url)
            return
        try:
            self._update(result)
        except Exception as exc:  # the command is committed: say why Prefect lags, in one line
            log.warning("%s", failure_line(exc, self.api_url))

    def _update(self, result: Any) -> None:
        code = result.project
        names = {e.name for e in result.events}
        with prefect_api(self.api_url):
            from prefect import get_client

            from .publish import emit_events, publish_portfolio, publish_project
            from .runs import ensure_gate_runs, refresh_waiting

            emit_events(result.events, result.audit_seq)
            with get_client(sync_client=True) as client:
                if names & PROJECT_WIDE:
                    gates: set[str] | None = None
                else:
                    gates = {e.gate for e in result.events if e.name in GATE_EVENTS and e.gate}
                    gates |= self._gates_of_reset_phases(code, result)
                if gates is None or gates:
                    refresh_waiting(client, code, gates, exclude=self.exclude_run_id)
                if names & CREATE_ON:
                    ensure_gate_runs(self.ctx, client, [code])
                if self.trigger_relay:
                    self._start_relay(client, code, result.audit_seq)
            if self.artifacts:
                publish_project(self.ctx, code, result.aggregate)
                if names & PORTFOLIO_ON:
                    publish_portfolio(self.ctx)

    def _gates_of_reset_phases(self, code: str, result: Any) -> set[str]:
        phases = {e.phase for e in result.events if e.name == "phase.reset" and e.phase}
        if not phases:
            return set()
        from .. import service

        project = result.aggregate or service.load_project(self.ctx, code)
        return {project.phase_def(p).gate for p in phases}

    @staticmethod
    def _start_relay(client: Any, code: str, seq: int | None) -> None:
        from . import naming
        from .runs import deployment_id

        try:
            dep = deployment_id(client, naming.RELAY_DEPLOYMENT)
        except Exception:  # relay not deployed here: the scheduled relay or the CLI sends
            return
        client.create_flow_run_from_deployment(
            dep, idempotency_key=f"relay:{code}:{seq}", tags=[naming.project_tag(code)]
        )


def failure_line(exc: BaseException, api_url: str | None = None) -> str:
    """One line for a post-commit Prefect update that failed (no traceback)."""
    where = api_url or os.environ.get("PREFECT_API_URL", "") or "the Prefect API"
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    if code == 401:
        return (
            f"Prefect was not updated: {where} answered 401 Unauthorized; set "
            "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING "
            "(the housekeeping reconcile catches up)"
        )
    if code == 403:
        return f"Prefect was not updated: {where} answered 403 Forbidden (check the auth string)"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return (
        f"Prefect was not updated ({type(exc).__name__}: {text[:200]}); "
        "the housekeeping reconcile catches up"
    )


class NoPrefectWarning:
    """``Context.after_commit`` hook when no Prefect API is configured: warns once per
    process, in one line, if gate runs are waiting whose forms this change makes stale."""

    __name__ = "no_prefect_warning"
    warned = False

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def __call__(self, result: Any) -> None:
        if NoPrefectWarning.warned or result.replayed or not result.events or not result.project:
            return
        from .reads import open_review_count

        n = open_review_count(self.ctx, result.project)
        if not n:
            return
        NoPrefectWarning.warned = True
        import sys

        sys.stderr.write(
            f"warning: no Prefect API configured (PREFECT_API_URL): {n} gate review(s) of "
            f"{result.project} wait in Prefect and their forms stay stale until the next "
            "reconcile\n"
        )


def install_if_configured(ctx: Any) -> bool:
    """Add a :class:`PrefectHook` to ``ctx`` when a Prefect API is configured and answers.

    Cheap when it is not: one environment lookup and one ``stat``; Prefect is not imported
    (the hook checks that the API answers, once per process, when it first fires). Without
    an API (and unless ``CDMO_PREFECT_HOOKS=0``) a one-line warning hook is added instead.
    """
    url = configured_api_url(ctx.settings.database_url)
    if not url:
        off = os.environ.get("CDMO_PREFECT_HOOKS", "").strip().lower() in ("0", "false", "no")
        if not off and not any(isinstance(h, NoPrefectWarning) for h in ctx.after_commit):
            ctx.after_commit.append(NoPrefectWarning(ctx))
        return False
    if any(isinstance(h, PrefectHook) for h in ctx.after_commit):
        return False
    ctx.after_commit.append(PrefectHook(ctx, api_url=url, trigger_relay=True))
    return True
