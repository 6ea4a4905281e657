"""The marked YAML reader: YAML 1.2 scalars, positions, and refusal of unsafe input."""

from __future__ import annotations

from cdmo_workflow.spec.reader import format_path, read_yaml


def test_yaml_1_1_booleans_stay_text() -> None:
    doc = read_yaml("a: on\nb: off\nc: yes\nd: no\ne: y\nf: true\ng: False\n")
    assert doc.problems == []
    assert doc.data == {
        "a": "on",
        "b": "off",
        "c": "yes",
        "d": "no",
        "e": "y",
        "f": True,
        "g": False,
    }


def test_core_schema_scalars() -> None:
    doc = read_yaml("a: 12\nb: 0x1f\nc: 1.5\nd: ~\ne: null\nf: '12'\ng: 10d\nh: 0o17\ni:\n")
    assert doc.data == {
        "a": 12, "b": 31, "c": 1.5, "d": None, "e": None, "f": "12", "g": "10d", "h": 15, "i": None
    }  # fmt: skip


def test_marks_of_keys_and_values() -> None:
    doc = read_yaml("id: x\nsignoffs:\n  - role: qa\n  - role: mfgg\n")
    assert doc.values[("signoffs", 1, "role")] == (4, 11)
    assert doc.keys[("signoffs", 1, "role")] == (4, 5)
    assert doc.values[("signoffs", 1)] == (4, 5)
    assert doc.mark(("signoffs", 1, "missing")) == (4, 5)
    assert format_path(("signoffs", 1, "role")) == "signoffs[1].role"


def test_python_tags_are_refused_not_executed() -> None:
    doc = read_yaml("a: !!python/object/apply:os.system ['touch /tmp/pwned-cdmo']\n")
    assert doc.data == {"a": None}
    assert [p.rule for p in doc.problems] == ["yaml-unsafe-tag"]


def test_custom_and_binary_tags_are_refused() -> None:
    doc = read_yaml("a: !secret x\nb: !!binary aGk=\nc: !!set {x}\nd: !!str 12\n")
    assert [p.line for p in doc.problems] == [1, 2, 3]
    assert doc.data["d"] == "12"


def test_duplicate_keys_are_reported() -> None:
    doc = read_yaml("a: 1\nb: 2\na: 3\n")
    assert [(p.line, p.column, p.message) for p in doc.problems] == [
        (3, 1, "duplicate key 'a' (first at line 1)")
    ]


def test_alias_bomb_is_bounded() -> None:
    text = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    names = "abcdefghij"
    for i in range(1, 10):
        p = names[i - 1]
        text += f"{names[i]}: &{names[i]} [" + ", ".join([f"*{p}"] * 9) + "]\n"
    doc = read_yaml(text)  # a reader that expanded 9^9 nodes would not come back at all
    assert [p.rule for p in doc.problems] == ["yaml-alias"]


def test_recursive_alias() -> None:
    doc = read_yaml("a: &a [*a]\n")
    assert [p.rule for p in doc.problems] == ["yaml-alias"]


def test_small_aliases_are_fine() -> None:
    doc = read_yaml("roles: &r [pm, qa]\nother: *r\n")
    assert doc.problems == []
    assert doc.data == {"roles": ["pm", "qa"], "other": ["pm", "qa"]}


def test_syntax_error_position() -> None:
    doc = read_yaml("a: [1, 2\nb: 3\n")
    assert doc.problems[0].rule == "yaml-syntax"
    assert doc.problems[0].line == 2


def test_merge_keys_and_complex_keys_are_refused() -> None:
    assert [p.rule for p in read_yaml("a: &a {x: 1}\nb:\n  <<: *a\n").problems] == ["yaml-merge"]
    assert [p.rule for p in read_yaml("? [a]\n: 1\n").problems] == ["yaml-key"]
