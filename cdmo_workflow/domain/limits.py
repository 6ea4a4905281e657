"""One table of field limits and identifier rules, the same on SQLite and PostgreSQL.

Every limit is at most the size of the column that stores the value (``store/tables.py``),
so a value that passes here never reaches the database too long for it. Texts kept inside
JSON documents (evidence, reasons, comments, conditions) have limits too, so that an export
line, a notification or a Prefect form stays readable. The table is documented in
``docs/limits.md``; a test keeps the two in step.

Pure: the standard library only, so the domain, the service and the edges all use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..spec.models import ID_PATTERN
from .errors import RuleViolation


@dataclass(frozen=True)
class Limit:
    """The longest text a field accepts, and the pattern an identifier must match."""

    field: str
    max_length: int
    pattern: str | None = None
    description: str = ""
    column: int | None = None
    """Size of the database column that stores it, when it has its own column."""


PROJECT_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9._-]{0,31}$"
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
CONDITION_ID_PATTERN = r"^C[0-9]{1,6}$"
CHANGE_ID_PATTERN = r"^CR-[0-9]{1,6}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
VERSION_REF_PATTERN = r"^[^\x00-\x20\x7f-][^\x00-\x1f\x7f]*$"
HOLD_ID_PATTERN = r"^H[0-9]{1,6}$"
DELEGATION_ID_PATTERN = r"^D[0-9]{1,9}$"
COST_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._/#:()-]{0,63}$"

LIMITS: dict[str, Limit] = {
    lim.field: lim
    for lim in (
        Limit(
            "project code",
            32,
            PROJECT_CODE_PATTERN,
            "capital letters, digits, dot, dash, underscore; starts with a letter or digit",
            column=128,
        ),
        Limit(
            "user id",
            64,
            USER_ID_PATTERN,
            "letters, digits, dot, dash, underscore or @; starts with a letter or digit",
            column=128,
        ),
        Limit("condition id", 7, CONDITION_ID_PATTERN, "C followed by its number, e.g. C1"),
        Limit("hold id", 7, HOLD_ID_PATTERN, "H followed by its number, e.g. H2"),
        Limit("delegation id", 10, DELEGATION_ID_PATTERN, "D followed by its number, e.g. D7"),
        Limit(
            "phase id",
            64,
            ID_PATTERN,
            "a phase or role id of the definition: lowercase letters, digits, single dashes",
        ),
        Limit("printed name", 200, None, "the name shown on signatures", column=256),
        Limit("customer", 200, None, "the customer (sponsor) name", column=256),
        Limit("milestone", 200, None, "a named milestone of the agreed plan"),
        Limit("evidence", 500, None, "a document reference, e.g. a DMS id"),
        Limit("reason", 2000, None, "why a project was held, resumed or an account withdrawn"),
        Limit("comment", 2000, None, "a signer's comment"),
        Limit("condition", 1000, None, "the text of a Conditional Go condition"),
        Limit("url", 2000, None, "an apprise notification URL"),
        Limit("idempotency key", 200, None, "the key of a retried command", column=256),
        Limit("change request id", 9, CHANGE_ID_PATTERN, "CR- and its number, e.g. CR-1"),
        Limit("change title", 200, None, "the title of a change request"),
        Limit("currency", 3, CURRENCY_PATTERN, "an ISO 4217 code, e.g. EUR"),
        Limit("amount", 32, None, "a cost impact, e.g. 12500.00 or -800"),
        Limit("schedule impact", 32, None, "a signed duration, e.g. 10bd, 2w or -5d"),
        Limit(
            "version reference",
            500,
            VERSION_REF_PATTERN,
            "a git revision or a folder; no leading dash, space or control character",
        ),
        Limit(
            "cost ref",
            64,
            COST_REF_PATTERN,
            "a purchase order, invoice or ERP document number: letters, digits, space and "
            ". _ / # : ( ) -, starting with a letter or digit",
            column=64,
        ),
        Limit("cost note", 500, None, "a note on a cost entry"),
    )
}
"""field name -> its limit; the names are the ones refusals print."""

MAX_CONDITIONS = 20
"""Conditions one signature may attach to a Conditional Go."""


class FieldRefused(RuleViolation):
    """A value refused by :data:`LIMITS`; ``field``, ``limit`` and ``pattern`` are attributes."""

    def __init__(
        self, rule: str, message: str, field: str, limit: int, pattern: str | None, **facts: int
    ) -> None:
        super().__init__(rule, message, field=field, limit=limit, pattern=pattern, **facts)
        self.field = field
        self.limit = limit
        self.pattern = pattern


_COMPILED = {f: re.compile(lim.pattern) for f, lim in LIMITS.items() if lim.pattern}


def check_text(field: str, value: str) -> str:
    """Return ``value`` when it fits ``field``'s limit (and pattern), else refuse.

    Raises :class:`FieldRefused` (a :class:`RuleViolation`) with rule ``field-too-long``
    (facts ``field``, ``limit``, ``length``) or ``invalid-identifier`` (``field``,
    ``pattern``). A too-long value is never echoed: a refusal may be printed or audited.
    """
    lim = LIMITS[field]
    text = value if isinstance(value, str) else str(value)
    if len(text) > lim.max_length:
        raise FieldRefused(
            "field-too-long",
            f"{field} is {len(text)} characters long; the limit is {lim.max_length}",
            field,
            lim.max_length,
            lim.pattern,
            length=len(text),
        )
    pattern = _COMPILED.get(field)
    if pattern is not None and not pattern.fullmatch(text):
        raise FieldRefused(
            "invalid-identifier",
            f"invalid {field} {text!r}: it must match {lim.pattern} ({lim.description})",
            field,
            lim.max_length,
            lim.pattern,
        )
    return value


def check_optional(field: str, value: str | None) -> str | None:
    """:func:`check_text` for an optional value (``None`` passes)."""
    return None if value is None else check_text(field, value)
