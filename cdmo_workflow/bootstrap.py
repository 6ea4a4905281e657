"""The composition root: the one place that wires the store, the notifier and Prefect.

The CLI, the flows and the tests call ``open_context`` here. Below this module nothing imports
``orchestration``, ``cli`` or ``flows``: the service gets its post-commit hooks from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdmo_workflow.service import Context
from cdmo_workflow.service import open_context as plain_context


def open_context(
    db_url: str | None = None,
    definitions: str | Path | None = None,
    *,
    prefect_hooks: bool = True,
    **overrides: Any,
) -> Context:
    """A context from the environment, with CLI or flow overrides.

    With ``prefect_hooks`` (the default) and a Prefect API configured (``PREFECT_API_URL`` or
    the file ``cdmo up`` writes), commits also update the Prefect UI (see
    ``orchestration.hooks``); without one this costs an environment lookup and a ``stat``.
    """
    ctx = plain_context(db_url, definitions, **overrides)
    if prefect_hooks:
        from cdmo_workflow.orchestration.hooks import configured_api_url, install_if_configured

        if install_if_configured(ctx):
            from cdmo_workflow.orchestration.people import install as install_people

            # "waiting for me" run tags and tasks-<user> artifacts
            install_people(ctx, configured_api_url(ctx.settings.database_url))
    return ctx
