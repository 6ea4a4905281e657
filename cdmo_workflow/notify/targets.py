"""Where a user's notifications go: apprise URLs from ``user_targets`` and an apprise config file.

``CDMO_APPRISE_CONFIG`` may name an apprise YAML (or text) configuration whose entries are
tagged with user ids, so targets can live outside the database::

    urls:
      - mailto://bot:secret@smtp.example.com?to=qa.lead@example.com:
          tag: alice
      - json://hooks.example.com/cdmo:
          tag: bob, alice

URLs are secrets: they are read when sending and never copied, logged or stored elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apprise
from sqlalchemy.engine import Connection

from cdmo_workflow.notify.masking import mask_url
from cdmo_workflow.store.targets import TargetRepository

CONFIG_ENV = "CDMO_APPRISE_CONFIG"


def db_targets(conn: Connection, users: Iterable[str]) -> dict[str, list[str]]:
    """user id -> apprise URLs stored in ``user_targets`` (in insertion order)."""
    return TargetRepository(conn).urls_of(users)


@dataclass
class ConfigFile:
    """An apprise configuration file, re-read when it changes on disk."""

    path: Path
    _mtime: float = -1.0
    _config: Any = field(default=None, repr=False)
    _tags: frozenset[str] = frozenset()

    def load(self) -> Any:
        mtime = self.path.stat().st_mtime
        if self._config is None or mtime != self._mtime:
            config = apprise.AppriseConfig()
            config.add(str(self.path))
            probe = apprise.Apprise()
            probe.add(config)
            tags: set[str] = set()
            for server in probe:
                tags.update(server.tags)
            self._config, self._mtime, self._tags = config, mtime, frozenset(tags)
        return self._config

    def has(self, user: str) -> bool:
        self.load()
        return user in self._tags


_config_files: dict[str, ConfigFile] = {}


def config_file(path: str | None = None) -> ConfigFile | None:
    """The apprise config named by ``path`` or ``CDMO_APPRISE_CONFIG`` (None when unset)."""
    path = path or os.environ.get(CONFIG_ENV) or None
    if not path:
        return None
    if path not in _config_files:
        _config_files[path] = ConfigFile(Path(path))
    return _config_files[path]


def masked_targets(conn: Connection, user: str | None = None) -> list[dict[str, Any]]:
    """Every stored target with its URL masked (for listings)."""
    return [
        {"id": i, "user": u, "target": mask_url(url)}
        for i, u, url in TargetRepository(conn).all(user)
    ]
