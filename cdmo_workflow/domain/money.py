"""Money in the core: amounts as ``Decimal`` in a project's ISO 4217 currency, never a float.

An amount is written with digits and an optional decimal point (``12500``, ``12500.50``): no
sign, no exponent, no thousands separator, at most 15 digits before the point and no more
decimal places than the currency has (CHF 2, JPY 0, BHD 3). It is kept quantised to the
currency's minor unit, so ``12500`` and ``12500.00`` are the same amount in CHF, and it
travels in JSON and the database as that exact text. Refusals name the field.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..spec.currencies import UnknownCurrency, check_currency, minor_units
from .errors import RuleViolation

MAX_INTEGER_DIGITS = 15
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_PERCENT = re.compile(r"^\s*([0-9]{1,4}(\.[0-9]{1,2})?)\s*%\s*$")


def currency_code(code: str) -> str:
    """``code`` when it is an ISO 4217 currency, else rule ``unknown-currency``."""
    try:
        return check_currency(code)
    except UnknownCurrency as exc:
        raise RuleViolation("unknown-currency", str(exc), field="currency", currency=code) from None


def quantum(currency: str) -> Decimal:
    """The currency's minor unit: ``Decimal("0.01")`` for CHF, ``Decimal("1")`` for JPY."""
    return Decimal(1).scaleb(-minor_units(currency))


def parse_amount(
    text: str | Decimal, currency: str, *, field: str = "amount", allow_zero: bool = False
) -> Decimal:
    """``text`` as an amount in ``currency``, or a refusal naming ``field``.

    Rules ``negative-amount``, ``invalid-amount`` (not a number, too many digits or decimal
    places) and ``zero-amount`` (unless ``allow_zero``).
    """
    raw = format(text, "f") if isinstance(text, Decimal) else str(text)
    value = raw.strip()
    shown = value if len(value) <= 24 else value[:24] + "..."
    if not value:
        raise RuleViolation("invalid-amount", f"{field} is required", field=field)
    if value.startswith("-"):
        raise RuleViolation(
            "negative-amount",
            f"{field} must not be negative (got {shown!r})",
            field=field,
            value=shown,
        )
    if not _AMOUNT.fullmatch(value):
        hint = ""
        if "," in value:
            hint = "; use a dot for decimals and no thousands separator"
        raise RuleViolation(
            "invalid-amount",
            f"{field} {shown!r} is not an amount: write digits with an optional decimal point, "
            f"e.g. 12500.50{hint}",
            field=field,
            value=shown,
        )
    whole, _, decimals = value.partition(".")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise RuleViolation(
            "invalid-amount",
            f"{field} {shown!r} is too large: at most {MAX_INTEGER_DIGITS} digits before the "
            "decimal point",
            field=field,
            value=shown,
        )
    places = minor_units(currency)
    if len(decimals.rstrip("0")) > places:
        raise RuleViolation(
            "invalid-amount",
            f"{field} {shown!r} has more decimal places than {currency} allows ({places})",
            field=field,
            value=shown,
        )
    amount = Decimal(value).quantize(quantum(currency))
    if amount == 0 and not allow_zero:
        raise RuleViolation("zero-amount", f"{field} must be greater than 0", field=field)
    return amount


def text(amount: Decimal) -> str:
    """The exact text an amount is stored and exported as (``"12500.00"``)."""
    return format(amount, "f")


def parse_percent(value: str) -> Decimal:
    """``"110%"`` -> ``Decimal("1.10")`` (definitions are validated; this never guesses)."""
    found = _PERCENT.fullmatch(value)
    if not found:
        raise ValueError(f"invalid percentage {value!r}")
    return Decimal(found.group(1)) / 100
