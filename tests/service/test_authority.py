"""The README's "Who may do what" table is the code's table (cdmo_workflow/service/authority.py)."""

from __future__ import annotations

import re
from pathlib import Path

from cdmo_workflow.service import AUTHORITY

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented_commands() -> set[str]:
    """Commands in the table's first column; ``grant\\|revoke`` names both."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Who may do what", 1)[1].split("\n\n```", 1)[0]
    found: set[str] = set()
    for line in section.splitlines():
        for cell in re.findall(r"`(cdmo [^`]*)`", line.split(" | ")[0]):
            words = [w for w in cell.split() if re.fullmatch(r"[a-z][a-z\\|-]*", w)]
            variants = [""]
            for w in words:
                variants = [f"{v} {alt}".strip() for v in variants for alt in w.split("\\|")]
            found.update(variants)
    return found


def test_every_command_with_authority_is_in_the_readme() -> None:
    documented = _documented_commands()
    for action, authority in AUTHORITY.items():
        if authority.command.startswith("cdmo "):  # not the library-only entries
            assert authority.command in documented, (action, sorted(documented))


def test_the_readme_names_the_credential_the_code_asks_for() -> None:
    text = README.read_text(encoding="utf-8")
    for authority in AUTHORITY.values():
        if authority.credential == "password" and authority.action == "gate.sign":
            assert "**password, every time**" in text
    assert "password or session" in text
