"""A safe YAML reader that remembers where every key and value came from.

It composes the document with libyaml when available (``yaml.CParser``), then builds plain
Python data itself, so that:

* every mapping key and every value gets a 1-based ``(line, column)`` mark, keyed by its
  path tuple (``("phases", 2, "gate")``), for ``file:line:column`` messages;
* only the standard YAML tags are accepted (``!!str``, ``!!int``, ``!!float``, ``!!bool``,
  ``!!null``, ``!!seq``, ``!!map``); anything else, such as ``!!python/object``, is refused
  and never constructed;
* plain scalars follow the YAML 1.2 core schema: only ``true``/``false`` are booleans, so
  ids like ``on``, ``off``, ``yes`` and ``no`` stay text;
* duplicate keys are reported, and alias expansion is bounded (no "billion laughs").

This is the only module of the package that imports ``yaml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[Hashable, ...]
Mark = tuple[int, int]

MAX_NODES = 20_000
"""Most values one document may expand to (aliases included)."""

MAX_BYTES = 2_000_000
"""Largest definition file read (2 MB); definitions are a few kilobytes."""

_PLAIN = "tag:cdmo-workflow:plain"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

_NULLS = {"", "~", "null", "Null", "NULL"}
_MAYBE_TYPED = frozenset("0123456789+-.~nNtTfF") | {""}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT_RE = re.compile(r"^[-+]?[0-9]+$")
MAX_INT_DIGITS = 15
"""Integers in definitions have at most this many digits (|n| < 10^15); longer ones are refused
with a positioned finding instead of Python's 4300-digit ``ValueError`` or an overflow."""
_OCT_RE = re.compile(r"^0o[0-7]+$")
_HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF_RE = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN_RE = re.compile(r"^\.(nan|NaN|NAN)$")


@dataclass(frozen=True)
class ReadProblem:
    """Something wrong with the YAML itself (1-based position)."""

    line: int
    column: int
    field: str
    message: str
    rule: str


@dataclass
class Document:
    """A read YAML document: the data, marks of every value and key, and any problems."""

    data: Any = None
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    problems: list[ReadProblem] = field(default_factory=list)

    def mark(self, path: Path, *, key: bool = False) -> Mark:
        """The mark of ``path`` (its key when ``key``), else of its nearest marked parent."""
        p = tuple(path)
        while True:
            if key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
            if not p:
                return (1, 1)
            p = p[:-1]
            key = False


def format_path(path: Path) -> str:
    """``("phases", 2, "gate")`` -> ``phases[2].gate``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _noop(self: Any, *args: Any) -> None:
    return None


def _resolve(self: Any, kind: type[Node], value: Any, implicit: Any) -> str:
    if kind is ScalarNode:
        return _PLAIN if implicit and implicit[0] else _STR
    if kind is SequenceNode:
        return _SEQ
    return _MAP


_CParser: Any
try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - libyaml missing
    _CParser = None

if _CParser is not None:

    class _Composer(_CParser):  # type: ignore[misc]
        """libyaml's parser and composer, with our own tag resolution."""

        resolve = _resolve
        descend_resolver = _noop
        ascend_resolver = _noop

else:  # pragma: no cover - pure-Python fallback when libyaml is missing
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.resolver import BaseResolver
    from yaml.scanner import Scanner

    class _Composer(Reader, Scanner, Parser, Composer, BaseResolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            BaseResolver.__init__(self)

        resolve = _resolve


class _OutOfRange(ValueError):
    """An integer literal with more than :data:`MAX_INT_DIGITS` digits."""


class _TooBig(Exception):
    pass


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.active: set[int] = set()

    def problem(self, node: Node, path: Path, message: str, rule: str) -> None:
        line, column = _mark(node)
        self.doc.problems.append(ReadProblem(line, column, format_path(path), message, rule))

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        self.doc.values.setdefault(path, _mark(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            self.problem(node, path, "an alias refers to itself (recursive anchor)", "yaml-alias")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ:
                    return self.bad_tag(node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                if node.tag != _MAP:
                    return self.bad_tag(node, path)
                return self.mapping(node, path)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - composer yields only these node types

    def mapping(self, node: MappingNode, path: Path) -> dict[Hashable, Any]:
        out: dict[Hashable, Any] = {}
        first: dict[Hashable, Mark] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(
                    key_node, path, "a key must be plain text, not a list or mapping", "yaml-key"
                )
                continue
            key = self.scalar(key_node, path)
            if not isinstance(key, Hashable):  # pragma: no cover - scalars are hashable
                continue
            if key == "<<" and key_node.tag == _PLAIN:
                self.problem(key_node, path, "merge keys ('<<') are not supported", "yaml-merge")
                continue
            kmark = _mark(key_node)
            if key in first:
                self.problem(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r} (first at line {first[key][0]})",
                    "duplicate-key",
                )
                continue
            first[key] = kmark
            child = (*path, key)
            self.doc.keys[child] = kmark
            out[key] = self.build(value_node, child)
        return out

    def out_of_range(self, node: Node, path: Path, text: str) -> None:
        shown = text if len(text) <= 24 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"
        self.problem(
            node,
            path,
            f"the number {shown} is out of range: integers have at most {MAX_INT_DIGITS} digits "
            f"(between -{'9' * MAX_INT_DIGITS} and {'9' * MAX_INT_DIGITS})",
            "yaml-number-range",
        )

    def bad_tag(self, node: Node, path: Path) -> None:
        self.problem(
            node,
            path,
            f"tag '{_short_tag(node.tag)}' is not allowed: definitions use plain YAML only",
            "yaml-unsafe-tag",
        )

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        tag, text = node.tag, node.value
        try:
            if tag == _PLAIN:
                return _plain(text)
        except _OutOfRange:
            return self.out_of_range(node, path, text)
        try:
            if tag == _STR:
                return text
            if tag == _NULL and text in _NULLS:
                return None
            if tag == _BOOL and text in _TRUE | _FALSE:
                return text in _TRUE
            if tag == _INT:
                value = _plain(text)
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
            if tag == _FLOAT:
                value = _plain(text)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value)
        except _OutOfRange:
            return self.out_of_range(node, path, text)
        except ValueError:  # pragma: no cover - the regular expressions guard the conversions
            pass
        if tag in {_NULL, _BOOL, _INT, _FLOAT}:
            self.problem(
                node, path, f"{text!r} cannot be read as {tag.rsplit(':', 1)[-1]}", "yaml-tag"
            )
            return None
        self.bad_tag(node, path)
        return None


def _plain(text: str) -> Any:
    """YAML 1.2 core schema resolution of a plain scalar."""
    if text[:1] not in _MAYBE_TYPED:  # fast path: ids, names, durations
        return text
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT_RE.match(text):
        return _bounded(text, int(_digits(text, text.lstrip("+-"))))
    if _OCT_RE.match(text):
        return _bounded(text, int(_digits(text, text[2:]), 8))
    if _HEX_RE.match(text):
        return _bounded(text, int(_digits(text, text[2:]), 16))
    if _FLOAT_RE.match(text):
        return float(text)
    if _INF_RE.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN_RE.match(text):
        return math.nan
    return text


def _digits(text: str, digits: str) -> str:
    """The digits to convert; refuses long ones before ``int()`` (slow, or refused at 4300)."""
    if len(digits.lstrip("0")) > MAX_INT_DIGITS:
        raise _OutOfRange(text)
    return text if text[:2] not in ("0o", "0x") else digits


def _bounded(text: str, value: int) -> int:
    if abs(value) >= 10**MAX_INT_DIGITS:
        raise _OutOfRange(text)
    return value


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


def _mark(node: Node) -> Mark:
    mark = node.start_mark
    return (int(mark.line) + 1, int(mark.column) + 1)


def read_yaml(text: str) -> Document:
    """Read one YAML document; syntax and safety problems land in ``Document.problems``."""
    doc = Document()
    if len(text) > MAX_BYTES:
        doc.problems.append(
            ReadProblem(1, 1, "", f"file is larger than {MAX_BYTES // 1_000_000} MB", "yaml-size")
        )
        return doc
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        doc.problems.append(
            ReadProblem(line, column, "", f"YAML syntax error: {what}", "yaml-syntax")
        )
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(ReadProblem(1, 1, "", f"YAML error: {exc}", "yaml-syntax"))
        return doc
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()
    if node is None:
        return doc
    builder = _Builder(doc)
    try:
        doc.data = builder.build(node, ())
    except (_TooBig, RecursionError):
        doc.data = None
        doc.problems.append(
            ReadProblem(
                1,
                1,
                "",
                f"document expands to more than {MAX_NODES} values (too many aliases?)",
                "yaml-alias",
            )
        )
    return doc
