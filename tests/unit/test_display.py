"""cdmo_workflow/display.py: what user text looks like on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.console import Console
from rich.table import Table

from cdmo_workflow.display import day, markup, moment, one_line, plain, slip


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "[31mred[0m"),
        ("\x1b[2J\x1b[H", "[2J[H"),
        ("a\x9b31mb", "a31mb"),
        ("abc\u202egnp.exe", "abcgnp.exe"),
        ("\u2066x\u2069", "x"),
        ("bell\x07 del\x7f", "bell del"),
        ("line\nnext\ttab", "line\nnext\ttab"),
        ("Dr. Müller 😀", "Dr. Müller 😀"),
    ],
)
def test_plain_strips_control_characters(raw: str, shown: str) -> None:
    assert plain(raw) == shown


def test_one_line_and_none() -> None:
    assert one_line("a\r\nb\tc") == "a b c"  # CR is a control character: it is removed
    assert plain(None) == ""


@pytest.mark.parametrize("text", ["Bob [/bold] closing", "[/]", "[bold]x", "x\\", "[link=x]y"])
def test_markup_prints_user_text_as_written(text: str) -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    console.print(f"[bold]name:[/bold] {markup(text)}")
    table = Table("cell")
    table.add_row(markup(text))
    console.print(table)
    assert out.getvalue().count(text) == 2


def test_times_and_slips() -> None:
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (day(t), moment(t), day(None)) == ("2026-01-02", "2026-01-02 03:04:05", "-")
    assert [slip(x) for x in (None, 0.01, 3.0, -1.5)] == ["-", "0", "+3", "-1.5"]


def test_lone_surrogates_become_replacement_characters() -> None:
    assert plain("a\udcffb") == "a\ufffdb"
