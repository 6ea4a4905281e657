"""Settings read from the environment (one frozen object; nothing secret is ever logged).

``CDMO_DATABASE_URL``   SQLAlchemy URL (default ``sqlite:///.cdmo/cdmo.db``)
``CDMO_DEFINITIONS``    folder holding ``definitions/`` and ``gates/`` (default: the cwd)
``CDMO_UI_URL``         base URL of the UI, used in notification links (optional)
``CDMO_RELAY_MAX_ATTEMPTS``, ``CDMO_RELAY_BACKOFF_SECONDS``, ``CDMO_RELAY_BATCH``
``CDMO_LOCK_AFTER``     failed sign-ins before an account locks (default 5)
``CDMO_PASSWORD_MAX_AGE_DAYS``  password ageing; 0 (default) turns it off
``CDMO_SESSION_IDLE_MINUTES``, ``CDMO_SESSION_MAX_HOURS``  `cdmo login` timeouts (15 min, 12 h)
``CDMO_SESSION_FILE``   where `cdmo login` keeps its token (default ``~/.cdmo/session``; 0600)
``CDMO_ADMINS_MAY_SIGN``  1 lets accounts with the admin role sign gates (default: refused)
``CDMO_AUDIT_KEY_FILE`` Ed25519 key that signs audit checkpoints (created 0600 on first use;
                        default ``audit-key.pem`` in the local state folder, see below)
``CDMO_CHECKPOINT_DIR`` append-only checkpoint log, one JSON-lines file per chain (default
                        ``checkpoints/`` in the local state folder)
``CDMO_CHECKPOINT_FSYNC`` ``1`` to fsync each checkpoint line before a command returns

The local state folder is the folder of the SQLite database file when the database is one
(``.cdmo/`` for the default URL), else ``.cdmo/`` in the working directory.

Counts and ages are whole numbers from 1 (0 for the password age) to 1,000,000; a negative,
zero or unreadable value is refused with a message naming the variable.
``CDMO_TEAM``           ``1`` on every worker and CLI of a team deployment: refuse to run
                        without ``CDMO_DATABASE_URL`` or on a local SQLite file
``CDMO_STUCK_AFTER``    seconds a gate run may stay Pending or Running before the reconcile
                        marks it Crashed and replaces it (default 60)
``CDMO_HOUSEKEEPING_EVERY``  seconds between reconcile/relay/watch passes (default 20)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///.cdmo/cdmo.db"
TRUE = ("1", "true", "yes", "on")


class ConfigError(ValueError):
    """A setting that would make this process silently use the wrong database (one line)."""


def team_mode(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return (env.get("CDMO_TEAM") or "").strip().lower() in TRUE


def check_team_database(url: str | None, env: Mapping[str, str] | None = None) -> None:
    """In team mode (``CDMO_TEAM=1``) the project database must be a shared server.

    A missing ``CDMO_DATABASE_URL`` would fall back to ``sqlite:///.cdmo/cdmo.db``: each
    worker would then silently keep a database of its own.
    """
    if not team_mode(env):
        return
    if not url or not url.strip():
        raise ConfigError(
            "CDMO_TEAM=1 but CDMO_DATABASE_URL is not set in this process's environment "
            "(set it on the worker, e.g. in its systemd unit; see docs/orchestration.md)"
        )
    if url.strip().lower().startswith("sqlite"):
        raise ConfigError(
            f"CDMO_TEAM=1 but CDMO_DATABASE_URL is a local SQLite file ({url.strip()}); "
            "a team shares one PostgreSQL database"
        )


DEFAULT_STATE_DIR = Path(".cdmo")


def state_dir(database_url: str) -> Path:
    """The local state folder: the SQLite file's folder, else ``.cdmo`` in the cwd."""
    scheme, sep, rest = database_url.partition(":///")
    if sep and scheme.split("+")[0] == "sqlite":
        path = rest.split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            return Path(path).expanduser().parent
    return DEFAULT_STATE_DIR


MAX_SETTING = 1_000_000
"""The largest count, age or number of seconds a setting accepts."""


def mask_url(url: str) -> str:
    """``postgresql+psycopg://u:secret@h/db`` -> ``postgresql+psycopg://u:***@h/db``.

    The password runs to the last ``@`` before the query string, so an unescaped ``@`` or
    ``/`` inside it is hidden too.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    head = rest.split("?", 1)[0]
    at = head.rfind("@")
    if at < 0:
        return url
    user, colon, _password = head[:at].partition(":")
    if not colon:
        return url
    return f"{scheme}://{user}:***@{rest[at + 1 :]}"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        if len(raw.strip()) > 20:  # int() of thousands of digits is slow or refused
            raise ValueError(raw)
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw[:40]!r}") from exc
    if value < minimum or value > MAX_SETTING:
        raise ValueError(f"{name} must be between {minimum} and {MAX_SETTING}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw[:40]!r}") from exc
    if not minimum <= value <= MAX_SETTING:  # also refuses nan
        raise ValueError(f"{name} must be between {minimum:g} and {MAX_SETTING}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    definitions_dir: Path = field(default_factory=Path.cwd)
    ui_url: str | None = None
    relay_max_attempts: int = 8
    relay_backoff_seconds: float = 30.0
    relay_batch_size: int = 50
    lock_after: int = 5
    password_max_age_days: int = 0
    session_idle_minutes: int = 15
    session_max_hours: int = 12
    admins_may_sign: bool = False
    audit_key_file_override: Path | None = None
    checkpoint_dir_override: Path | None = None
    checkpoint_fsync: bool = False
    team: bool = False
    stuck_after_seconds: float = 60.0
    housekeeping_every_seconds: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        ui = (env.get("CDMO_UI_URL") or "").strip() or None
        check_team_database(env.get("CDMO_DATABASE_URL"), env)
        url = (env.get("CDMO_DATABASE_URL") or "").strip() or DEFAULT_DATABASE_URL
        key_file = (env.get("CDMO_AUDIT_KEY_FILE") or "").strip()
        checkpoints = (env.get("CDMO_CHECKPOINT_DIR") or "").strip()
        return cls(
            database_url=url,
            definitions_dir=Path(env.get("CDMO_DEFINITIONS") or Path.cwd()),
            ui_url=ui.rstrip("/") if ui else None,
            relay_max_attempts=_int(env, "CDMO_RELAY_MAX_ATTEMPTS", 8),
            relay_backoff_seconds=_float(env, "CDMO_RELAY_BACKOFF_SECONDS", 30.0, 0.0),
            relay_batch_size=_int(env, "CDMO_RELAY_BATCH", 50),
            lock_after=_int(env, "CDMO_LOCK_AFTER", 5),
            session_idle_minutes=_int(env, "CDMO_SESSION_IDLE_MINUTES", 15),
            session_max_hours=_int(env, "CDMO_SESSION_MAX_HOURS", 12),
            admins_may_sign=(env.get("CDMO_ADMINS_MAY_SIGN") or "").strip().lower()
            in ("1", "true", "yes", "on"),
            audit_key_file_override=Path(key_file) if key_file else None,
            checkpoint_dir_override=Path(checkpoints) if checkpoints else None,
            checkpoint_fsync=(env.get("CDMO_CHECKPOINT_FSYNC") or "").strip().lower()
            in ("1", "true", "yes", "on"),
            password_max_age_days=_int(env, "CDMO_PASSWORD_MAX_AGE_DAYS", 0, minimum=0),
            team=team_mode(env),
            stuck_after_seconds=_float(env, "CDMO_STUCK_AFTER", 60.0),
            housekeeping_every_seconds=_float(env, "CDMO_HOUSEKEEPING_EVERY", 20.0),
        )

    @property
    def audit_key_file(self) -> Path:
        """``CDMO_AUDIT_KEY_FILE``, else ``audit-key.pem`` in the local state folder."""
        if self.audit_key_file_override is not None:
            return self.audit_key_file_override
        return state_dir(self.database_url) / "audit-key.pem"

    @property
    def checkpoint_dir(self) -> Path:
        """``CDMO_CHECKPOINT_DIR``, else ``checkpoints/`` in the local state folder."""
        if self.checkpoint_dir_override is not None:
            return self.checkpoint_dir_override
        return state_dir(self.database_url) / "checkpoints"

    @property
    def database_url_masked(self) -> str:
        return mask_url(self.database_url)

    def __repr__(self) -> str:  # the URL may hold a password: show it masked
        return (
            f"Settings(database_url={self.database_url_masked!r}, "
            f"definitions_dir={str(self.definitions_dir)!r}, ui_url={self.ui_url!r}, "
            f"relay_max_attempts={self.relay_max_attempts}, "
            f"relay_backoff_seconds={self.relay_backoff_seconds}, "
            f"relay_batch_size={self.relay_batch_size}, lock_after={self.lock_after}, "
            f"password_max_age_days={self.password_max_age_days}, "
            f"session_idle_minutes={self.session_idle_minutes}, "
            f"session_max_hours={self.session_max_hours}, admins_may_sign={self.admins_may_sign}, "
            f"audit_key_file={str(self.audit_key_file)!r}, "
            f"checkpoint_dir={str(self.checkpoint_dir)!r}, "
            f"team={self.team}, stuck_after_seconds={self.stuck_after_seconds}, "
            f"housekeeping_every_seconds={self.housekeeping_every_seconds})"
        )


def get_settings() -> Settings:
    return Settings.from_env()
