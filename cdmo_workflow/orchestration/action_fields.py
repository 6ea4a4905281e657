"""Fields shared by the action forms (``actions.py``, ``change_forms.py``): free text, a
select of what is open, and the refusal when there is nothing to choose."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .forms import _literal, _select

TEXT_MAX = 500


class NothingToDo(Exception):
    """The form would have no choice to offer (nothing open of that kind)."""


def _text(title: str, description: str, position: int) -> tuple[Any, Any]:
    return (
        str,
        Field(
            title=title,
            description=description,
            min_length=1,
            max_length=TEXT_MAX,
            json_schema_extra={"position": position},
        ),
    )


def _choice(title: str, description: str, values: list[str], position: int) -> tuple[Any, Any]:
    if not values:
        raise NothingToDo(f"nothing to choose for {title.lower()}")
    return (
        _literal(values),
        Field(title=title, description=description, json_schema_extra=_select(values, position)),
    )
