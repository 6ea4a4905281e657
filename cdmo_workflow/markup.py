"""Escaping user text for the markdown the Prefect UI renders (artifacts, form descriptions).

Prefect's UI renders markdown with raw HTML allowed, so any user text (names, customers,
comments, evidence references, condition texts, reasons) that reaches a description or an
artifact goes through :func:`md` first: HTML's ``& < > " '`` become entities, and the
characters that make markdown structure (emphasis, code, links, images, tables, headings)
are backslash-escaped, so ``[x](javascript:...)`` stays text. Links are written only by
:func:`link`, and only for ``http(s)`` URLs (or paths on the same site); anything else is
shown as plain text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_MARKDOWN = set("\\`*_{}[]()#+!|~:")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def md(value: Any) -> str:
    """``value`` as inline markdown text that renders literally (one line, no markup)."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub("", text.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))
    out: list[str] = []
    for ch in text:
        if ch in _HTML:
            out.append(_HTML[ch])
        elif ch in _MARKDOWN:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def safe_url(url: Any) -> str | None:
    """``url`` if it is an http(s) URL or a same-site path (``/x`` or ``../x``), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or _CONTROL.search(url) or any(c in url for c in " <>\"'`\\"):
        return None
    if (url.startswith("/") and not url.startswith("//")) or url.startswith("../"):
        return quote(url, safe="/:?&=#%-._~+")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe="/:?&=#%-._~+@!$,;")


def link(text: Any, url: Any) -> str:
    """A markdown link when ``url`` is safe (see :func:`safe_url`), else the escaped text."""
    target = safe_url(url)
    label = md(text)
    if target is None:
        return label
    return f"[{label}]({target.replace('(', '%28').replace(')', '%29')})"
