"""Keep apprise URLs (which carry passwords and tokens) out of logs, errors and the database.

Every text the relay stores or logs goes through :func:`mask_text`. :func:`quiet_apprise`
puts a filter on apprise's logger that rewrites each record, masked, before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, unquote, urlsplit

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,31}://[^\s'\"<>)\]]+")
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+\-]+)@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})\b")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET = 4


def register_secret_url(url: str) -> None:
    """Remember the parts of an apprise URL that must never be shown (user, password, path
    segments, query values), so :func:`mask_text` scrubs them even from a bare path or a
    ``host='..', port=..`` fragment in an exception text."""
    parts: set[str] = {url.strip()}
    try:
        split = urlsplit(url.strip())
        parts.update([split.username or "", split.password or "", split.fragment])
        for segment in split.path.split("/"):
            parts.add(segment)
            parts.add(unquote(segment))
        for _key, value in parse_qsl(split.query, keep_blank_values=False):
            parts.add(value)
        parts.add(split.path)
        parts.add(split.query)
    except ValueError:
        pass
    found = {p for p in parts if p and len(p) >= _MIN_SECRET}
    with _secrets_lock:
        _secrets.update(found)


def _scrub(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def mask_url(url: str) -> str:
    """A display form of an apprise URL: scheme and host only, user part of an address masked.

    ``mailto://user:secret@smtp.example.com?to=qa@example.com`` -> ``mailto://***@smtp.example.com``
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        scheme = parts.scheme or "?"
    except ValueError:
        return "***"
    if not host:
        return f"{scheme}://***"
    user = "***@" if parts.username or parts.password or scheme.startswith("mail") else ""
    return f"{scheme}://{user}{host}"


def mask_text(text: str) -> str:
    """Replace every URL in ``text`` by its masked form, scrub registered secrets, and mask
    the local part of e-mail addresses."""
    masked = _URL.sub(lambda m: mask_url(m.group(0)), _scrub(text))
    return _EMAIL.sub(lambda m: f"***@{m.group(2)}", masked)


class MaskingFilter(logging.Filter):
    """Rewrites each record of the logger it sits on so that no URL or secret remains.

    A logger-level filter runs before any handler (ours, the root's, pytest's, apprise's own
    capture handler), so every consumer sees the masked text only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken record must not break sending
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_MASKED_LOGGERS = ("apprise", "urllib3.connectionpool", "requests")
_filter = MaskingFilter()


def quiet_apprise() -> None:
    """Mask every record of apprise's logger (and urllib3's, which logs request paths).

    Idempotent and cheap; the relay calls it on each cycle in case logging was reconfigured.
    """
    for name in _MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
