"""Where `cdmo login` keeps its token: one file readable by its owner alone (mode 0600).

The database stores only the token's SHA-256; the file maps (database, user) to the token.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def path() -> Path:
    raw = os.environ.get("CDMO_SESSION_FILE", "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cdmo" / "session"


def _key(user: str, database_url: str) -> str:
    return hashlib.sha256(database_url.encode()).hexdigest()[:16] + ":" + user


def _read() -> dict[str, str]:
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write(data: dict[str, str]) -> None:
    target = path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)


def read_token(user: str, database_url: str) -> str | None:
    return _read().get(_key(user, database_url))


def store_token(user: str, database_url: str, token: str) -> Path:
    data = _read()
    data[_key(user, database_url)] = token
    _write(data)
    return path()


def drop_token(user: str, database_url: str) -> str | None:
    data = _read()
    token = data.pop(_key(user, database_url), None)
    if token is not None:
        _write(data)
    return token
