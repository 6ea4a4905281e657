"""The Prefect side of the people features: "waiting for me" tags and the task artifacts.

* **Run tags.** Each gate-review run carries, besides ``project:``, ``customer:`` and
  ``gate:``, one ``needs:<role>`` tag per role still short of its quota and one
  ``waiting-for:<user>`` tag per person who could sign it now (in person, or as the delegate
  of someone on the team), so an operator filters the Runs page on ``waiting-for:<me>``. The
  tags are set when the run is created (:func:`gate_run_tags`, the one tag computation
  ``runs.ensure_gate_runs`` calls) and kept current after every change by :class:`PeopleHook`.
* **Task artifacts.** ``tasks-<user>`` is a markdown artifact per person: the same list as
  ``cdmo tasks --user``. After each accepted command :class:`PeopleHook` republishes it for
  the people the change can concern (the project's team and their delegates; the two parties
  of a delegation) and only when their list changed since this process last published it.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any

from .. import service
from ..domain.records import iso
from ..domain.tasks import Task
from ..markup import md
from ..service.people import Board
from . import naming
from .run_tags import NEEDS_PREFIX, WAITING_PREFIX, people_tags

log = logging.getLogger("cdmo_workflow.orchestration")

_published: dict[tuple[str, str], str] = {}
"""(api url, artifact key) -> the markdown this process last published (skip unchanged)."""


def retag_waiting(
    ctx: Any, client: Any, code: str, signers: dict[str, dict[str, list[str]]] | None = None
) -> int:
    """Bring the tags of the project's live gate runs up to date; returns runs changed.
    ``signers``: :func:`service.people_now`'s, when the caller has read them already."""
    from .runs import gate_runs

    # every live run, not only the waiting ones: the run that just took a sign-off is
    # running when its own commit's hook fires, and waits again with the tags it has
    runs = [
        r
        for r in gate_runs(client, code, waiting_only=False)
        if r.state is not None and not r.state.is_final()
    ]
    if not runs:
        return 0
    if signers is None:
        signers = service.signers_now(ctx, code)
    changed = 0
    for run in runs:
        gate = (run.parameters or {}).get("gate")
        keep = [t for t in run.tags or [] if not t.startswith((NEEDS_PREFIX, WAITING_PREFIX))]
        tags = keep + people_tags(signers.get(str(gate), {}))
        if sorted(tags) != sorted(run.tags or []):
            client.update_flow_run(flow_run_id=run.id, tags=tags)
            changed += 1
    return changed


# ---------------------------------------------------------------------- task artifacts


def tasks_key(user: str) -> str:
    """``tasks-<user>``, lowercased, only ``[a-z0-9-]`` (Prefect's artifact key rule)."""
    key = re.sub(r"[^a-z0-9-]+", "-", f"tasks-{user}".lower())
    return re.sub(r"-{2,}", "-", key).strip("-")


def tasks_markdown(user: str, tasks: list[Task], now: Any, names: dict[str, str]) -> str:
    """The ``tasks-<user>`` artifact: every piece of user text goes through :func:`md`."""
    from ..display import late

    who = f"{md(names.get(user, user))} ({md(user)})"
    lines = [f"# Tasks of {who}", "", f"As of {naming.ui_time(iso(now))}.", ""]
    if not tasks:
        lines.append("_Nothing waits for you._")
        return "\n".join(lines)
    lines += ["| Project | What | As | Due | Late |", "|---|---|---|---|---|"]
    for t in tasks:
        lines.append(
            f"| {md(t.project or '')} | {md(t.title)} | {md(', '.join(t.roles))} "
            f"| {naming.ui_time(iso(t.due_at)) or '–'} | {md(late(t.late_days))} |"
        )
    lines += [
        "",
        "Gates to sign: the Runs page, tag `waiting-for:" + md(user) + "`. Deliverables, checks, "
        "conditions and holds: the Deployments page (submit-deliverable, confirm-check, "
        "close-condition, accept-condition, release-hold) or `cdmo`.",
    ]
    return "\n".join(lines)


def publish_tasks(
    ctx: Any, users: list[str], api_url: str | None = None, board: Board | None = None
) -> list[str]:
    """Create or update the ``tasks-<user>`` artifacts of ``users`` whose list changed
    (``board``: :func:`service.task_board`'s answer for them, when read already)."""
    from prefect.artifacts import create_markdown_artifact

    if not users:
        return []
    now, lists, names = board or service.task_board(ctx, users)
    keys: list[str] = []
    for user in users:
        key = tasks_key(user)
        text = tasks_markdown(user, lists.get(user, []), now, names)
        body = text.split("\n", 4)[-1]  # unchanged but for the time: not worth a new version
        if _published.get((str(api_url), key)) == body:
            continue
        with warnings.catch_warnings():  # the CLI hook publishes outside a flow run on purpose
            warnings.simplefilter("ignore", FutureWarning)
            create_markdown_artifact(
                markdown=text,
                key=key,
                description=f"What waits for {md(user)}: {len(lists.get(user, []))} task(s)",
            )
        _published[(str(api_url), key)] = body
        keys.append(key)
    return keys


# ---------------------------------------------------------------------- the hook


class PeopleHook:
    """``Context.after_commit`` hook: run tags and task artifacts after every change."""

    __name__ = "people_hook"

    def __init__(self, ctx: Any, *, api_url: str | None = None) -> None:
        self.ctx = ctx
        self.api_url = api_url

    def __call__(self, result: Any) -> None:
        if result.replayed or result.change is None:
            return
        try:
            self._update(result)
        except Exception as exc:  # the command is committed: one line, never a traceback
            from .hooks import failure_line

            log.warning("%s", failure_line(exc, self.api_url))

    def _update(self, result: Any) -> None:
        from prefect import get_client

        from .hooks import _is_reachable, prefect_api

        if self.api_url and not _is_reachable(self.api_url):
            return
        delegation = (result.data or {}).get("delegation") or {}
        parties = [u for u in (delegation.get("delegator"), delegation.get("delegate")) if u]
        if result.project:
            codes = [result.project]
        elif parties:
            codes = service.projects_of(self.ctx, parties[:1])
        else:
            return  # an account command: nobody's tasks change
        users = set(parties)
        board = None
        with prefect_api(self.api_url):
            with get_client(sync_client=True) as client:
                if len(codes) == 1:  # the usual case: the people and their lists in one read
                    saved = result.aggregate if codes[0] == result.project else None
                    people, board = service.people_and_board(self.ctx, codes[0], saved, users)
                    retag_waiting(self.ctx, client, codes[0], people.signers)
                    users |= set(people.affected)
                else:
                    for code in codes:
                        people = service.people_now(self.ctx, code)
                        retag_waiting(self.ctx, client, code, people.signers)
                        users |= set(people.affected)
            publish_tasks(self.ctx, sorted(users), self.api_url, board)


def install(ctx: Any, api_url: str | None) -> None:
    """Add a :class:`PeopleHook` to ``ctx`` once (the composition root and the flows' context
    call it where they install the Prefect hook)."""
    if not any(isinstance(h, PeopleHook) for h in ctx.after_commit):
        ctx.after_commit.append(PeopleHook(ctx, api_url=api_url))
