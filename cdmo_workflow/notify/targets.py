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


def db_zones(conn: Connection, users: Iterable[str]) -> dict[str, str]:
    """user id -> the IANA zone the user chose (``users add --tz``, ``users tz``)."""
    return TargetRepository(conn).zones_of(users)


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


def apprise_can_use(url: str) -> bool:
    """Whether apprise understands ``url`` (a known scheme with valid parts). Nothing is sent.

    ``apprise.Apprise().add(url)`` parses the URL with the plugin of its scheme and returns
    False when no plugin takes it (``notaurl://x``) or the plugin refuses its parts.
    """
    if not isinstance(url, str) or not url.strip() or len(url) > 2000:
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return False
    try:
        return bool(apprise.Apprise().add(url))
    except Exception:  # a plugin that raises on odd input: apprise cannot use it
        return False


def check_apprise_url(url: str) -> str:
    """Return ``url`` when apprise can use it and it fits the ``url`` limit, else refuse.

    Raises the domain's ``RuleViolation`` (``field-too-long`` or ``invalid-notify-url``); the
    message masks the URL, which may hold a secret.
    """
    from cdmo_workflow.domain.errors import RuleViolation
    from cdmo_workflow.domain.limits import check_text

    check_text("url", url)
    if not apprise_can_use(url):
        raise RuleViolation(
            "invalid-notify-url",
            f"apprise cannot use the notification URL {mask_url(url)!r} "
            "(unknown scheme or invalid parts; see https://github.com/caronc/apprise/wiki)",
            field="url",
        )
    return url


def check_apprise_urls(urls: Iterable[str]) -> None:
    """:func:`check_apprise_url` for each of ``urls`` (the ``--notify`` values of a user)."""
    for url in urls:
        check_apprise_url(url)
