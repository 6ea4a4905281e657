"""Pydantic validation errors in the words of a process owner (one finding each)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .durations import DURATION_PATTERN, DurationError
from .errors import Finding
from .findings import _describe, _Report, _Source
from .models import (
    ID_PATTERN,
    MAX_QUOTA,
    CheckDef,
    Decision,
    DeliverableDef,
    MessageTemplate,
    NotifyEvent,
    PhaseDef,
    SignoffQuota,
    Sla,
)
from .reader import Path as DocPath
from .reader import format_path

_CONTAINERS: dict[str, type[BaseModel]] = {
    "phases": PhaseDef,
    "deliverables": DeliverableDef,
    "checks": CheckDef,
    "signoffs": SignoffQuota,
    "sla": Sla,
    "messages": MessageTemplate,
}


def _model_at(
    top: type[BaseModel],
    loc: DocPath,
    containers: Mapping[str, type[BaseModel]] = _CONTAINERS,
) -> type[BaseModel]:
    """The model that holds the field at ``loc`` (for suggestions of allowed field names)."""
    parents = [p for p in loc[:-1] if isinstance(p, str)]
    for depth, name in enumerate(reversed(parents), start=1):
        # ``messages.<event>.<field>``: that container is two names up.
        if name in containers and (name != "messages" or depth == 2):
            return containers[name]
    return top


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _translate(
    src: _Source,
    top: type[BaseModel],
    exc: ValidationError,
    report: _Report,
    containers: Mapping[str, type[BaseModel]] = _CONTAINERS,
) -> None:
    _translate_errors(src, top, exc.errors(include_url=False), report, containers)


def _translate_errors(
    src: _Source,
    top: type[BaseModel],
    errors: Iterable[ErrorDetails],
    report: _Report,
    containers: Mapping[str, type[BaseModel]] = _CONTAINERS,
) -> None:
    """One finding per pydantic error; ``containers`` maps a field name to the model it holds
    (for the allowed names of an unknown field)."""
    for err in errors:
        loc: DocPath = tuple(err["loc"])
        kind = err["type"]
        value = err.get("input")
        ctx = err.get("ctx") or {}
        key = False
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            key = True
        last = loc[-1] if loc else ""
        if loc[:1] in (("schema",), ("kind",)) and len(loc) == 1:
            continue  # reported in words by _check_header
        rule = "type"
        if kind == "missing":
            line, column = src.doc.mark(loc[:-1])
            report.findings.append(
                Finding(
                    src.display,
                    line,
                    column,
                    format_path(loc),
                    f"required field '{last}' is missing",
                    "error",
                    "missing",
                )
            )
            continue
        if kind == "extra_forbidden":
            allowed = _field_names(_model_at(top, loc, containers))
            hint = difflib.get_close_matches(str(last), allowed, n=1)
            text = f"unknown field '{last}'"
            text += f" (did you mean '{hint[0]}'?)" if hint else f" (allowed: {', '.join(allowed)})"
            report.add(src, loc, text, "unknown-field", key=True)
            continue
        if kind == "string_pattern_mismatch":
            pattern = ctx.get("pattern")
            if pattern == DURATION_PATTERN:
                text, rule = str(DurationError(str(value))), "duration"
            elif pattern == ID_PATTERN:
                what = "key" if key else "id"
                text = (
                    f"{value!r} is not a valid {what}: use lowercase letters, digits and single "
                    "dashes (e.g. 'tech-transfer')"
                )
                rule = "id"
            else:  # pragma: no cover - no other patterns in the models
                text = err["msg"]
        elif kind == "value_error":
            text = err["msg"].removeprefix("Value error, ")
            rule = "duration" if "duration" in text else "value"
        elif kind == "enum":
            choices = ", ".join(d.value for d in Decision)
            text, rule = f"unknown decision {value!r} (allowed: {choices})", "decision"
        elif kind == "literal_error":
            expected = str(ctx.get("expected", ""))
            if key and len(loc) >= 2 and loc[-2] in ("notify", "messages"):
                text = f"unknown event {last!r} (events: {', '.join(get_args(NotifyEvent))})"
                rule = "event"
            else:
                text = f"{value!r} is not allowed here (expected {expected})"
        elif kind == "greater_than_equal":
            if last == "min":
                text, rule = f"min must be at least 1 (got {value})", "quota-min"
            else:  # pragma: no cover - only ``min`` has a bound
                text = f"must be at least {ctx.get('ge')} (got {value})"
        elif kind == "less_than_equal":
            if last == "min":
                text = f"min is out of range: at most {MAX_QUOTA} signers (got {value})"
                rule = "quota-range"
            else:  # pragma: no cover - only ``min`` has a bound
                text = f"must be at most {ctx.get('le')} (got {value})"
        elif kind == "string_type":
            text = f"expected text, got {_describe(value)}"
            if isinstance(value, bool | int | float) and value is not None:
                text += " (put it in quotes)"
        elif kind in ("bool_type", "bool_parsing"):
            text = f"expected true or false, got {_describe(value)}"
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            text = f"expected a whole number, got {_describe(value)}"
        elif kind == "list_type":
            text = f"expected a list, got {_describe(value)}"
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            text = f"expected a mapping, got {_describe(value)}"
        elif kind == "too_short":
            need = ctx.get("min_length", 1)
            text = "must not be empty" if need == 1 else f"needs at least {need} items"
            rule = "empty"
        elif kind == "string_too_short":
            text, rule = "must not be empty", "empty"
        elif kind == "string_too_long":
            text = f"is too long (at most {ctx.get('max_length')} characters)"
        else:
            text = err["msg"]
        report.add(src, loc, text, rule, key=key)
