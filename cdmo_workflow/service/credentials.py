"""How a caller proves who it is: a password, a ``cdmo login`` session, or a one-time code."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

SESSION_TOKEN_BYTES = 32
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 12


@dataclass(frozen=True)
class Credential:
    """The actor a command names and what proves it; secrets never show in a repr."""

    user: str
    password: str | None = field(default=None, repr=False)
    session: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        if self.password is not None:
            return "password"
        if self.session is not None:
            return "session"
        return "none"


def token_hash(token: str) -> str:
    """Sessions and codes are high-entropy random values: a plain SHA-256 is enough at rest."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_token() -> str:
    return secrets.token_urlsafe(SESSION_TOKEN_BYTES)


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    return "-".join(
        "".join(ch for ch in code.upper() if ch.isalnum())[i : i + 4]
        for i in range(0, CODE_LENGTH, 4)
    )
