"""An attacker's scenario is refused like an attacker's definition: the same safe reader, the
same one-line findings, exit 2, nothing executed, no traceback, nothing unsafe printed."""

from __future__ import annotations

from pathlib import Path

from .conftest import HEADER, SCOPING, cdmo, scenario

FILE = "definitions/scenarios/case.yaml"


def refused(tree: Path, path: Path) -> str:
    result = cdmo("simulate", "-s", str(path), cwd=tree)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def test_alias_bomb(tree: Path) -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        bomb.append(f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    path = scenario(tree, "- advance: 1d\n", head="\n".join(bomb) + "\n" + HEADER)
    assert refused(tree, path).strip() == (
        f"{FILE}:1:1: document expands to more than 20000 values (too many aliases?)"
    )


def test_unsafe_tag_is_never_constructed(tree: Path) -> None:
    marker = tree / "pwned"
    path = scenario(
        tree,
        f"- advance: !!python/object/apply:os.system ['touch {marker}']\n",
    )
    out = refused(tree, path)
    assert (
        f"{FILE}:15:14: steps[0].advance: tag '!!python/object/apply:os.system' is not allowed: "
        "definitions use plain YAML only"
    ) in out
    assert not marker.exists()


def test_huge_numbers(tree: Path) -> None:
    digits = "9" * 5000
    path = scenario(tree, f"- expect: {{slip_days: {digits}}}\n- advance: 99999999999d\n")
    out = refused(tree, path).splitlines()
    assert out[0].startswith(
        f"{FILE}:15:25: steps[0].expect.slip_days: the number 999999999999...999999 (5000 "
        "characters) is out of range"
    )
    assert out[1] == (
        f"{FILE}:16:14: steps[1].advance: duration '99999999999d' is out of range: at most 10 "
        "years (3653 days, 2609bd)"
    )


def test_a_far_start_and_too_much_time(tree: Path) -> None:
    path = scenario(
        tree,
        *["- advance: 3653d\n"] * 11,
        head=HEADER.replace("start: 2026-01-05T09:00:00Z", "start: 99999999999999"),
    )
    out = refused(tree, path).splitlines()
    assert out == [
        f"{FILE}:4:8: start: start must lie between 1970-01-01 and 2999-12-31",
        f"{FILE}:24:14: steps[9].advance: the scenario moves its clock by more than 36525 days "
        "(a hundred years) in all",
    ]


def test_a_watcher_woken_too_often(tree: Path) -> None:
    path = scenario(tree, SCOPING, *["- advance: 3653d\n"] * 3)
    out = refused(tree, path)
    assert out.strip() == (
        f"{FILE}:22:14: steps[7].advance: the simulated SLA watcher would wake more than 5000 "
        "times: advance the clock by less, or remind less often"
    )


def test_a_file_too_large_and_not_text(tree: Path) -> None:
    big = scenario(tree, "- advance: 1d\n" + "# padding\n" * 250_000, name="big.yaml")
    assert (
        refused(tree, big).strip() == "definitions/scenarios/big.yaml:1:1: file is larger than 2 MB"
    )
    binary = tree / "definitions" / "scenarios" / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00schema: x\n")
    assert refused(tree, binary).strip() == (
        "definitions/scenarios/binary.yaml:1:1: file is not UTF-8 text"
    )


def test_duplicate_keys_and_deep_nesting(tree: Path) -> None:
    path = scenario(tree, "- advance: 1d\n", head=HEADER.replace("steps:", "team: {}\nsteps:"))
    assert "duplicate key 'team' (first at line 5)" in refused(tree, path)
    deep = scenario(tree, "- expect: {phases: " + "[" * 5000 + "]" * 5000 + "}\n", name="deep.yaml")
    out = refused(tree, deep)
    assert out.startswith("definitions/scenarios/deep.yaml:")


def test_markup_and_terminal_escapes_in_names_are_shown_safely(tree: Path) -> None:
    head = HEADER.replace(
        "steps:",
        'names:\n  paula: "[bold red]Paula[/] \\e[31mRed\\e[0m \\u202eevil"\nsteps:',
    )
    path = scenario(
        tree,
        SCOPING,
        "- sign: {gate: scoping-go, by: paula, role: pm, decision: go, meaning: approval}\n",
        '- hold: {by: paula, reason: "\\e]0;owned\\a[link=http://x]click[/link]"}\n',
        "- expect: {project: on-hold}\n",
        head=head,
    )
    result = cdmo("simulate", "-s", str(path), cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "\x07" not in result.stdout
    assert "[bold red]Paula[/] [31mRed[0m evil (paula) signed gate scoping-go" in result.stdout
    assert "project on hold: ]0;owned[link=http://x]click[/link]" in result.stdout


def test_over_long_names_and_ids(tree: Path) -> None:
    head = HEADER.replace("steps:", f"names:\n  paula: {'P' * 201}\nsteps:").replace(
        "  pm: paula\n", "  pm: [paula, " + "u" * 65 + "]\n"
    )
    path = scenario(tree, SCOPING, head=head)
    out = refused(tree, path).splitlines()
    assert out == [
        f"{FILE}:6:15: team.pm[1]: user id is 65 characters long; the limit is 64",
        f"{FILE}:15:10: names.paula: printed name is 201 characters long; the limit is 200",
    ]
