"""The pure core stays pure: standard library, pydantic and the definition models only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "cdmo_workflow" / "domain"
ALLOWED_PROJECT_MODULES = {
    "cdmo_workflow.hashing",  # canonical JSON and SHA-256, standard library only
    "cdmo_workflow.spec.models",
    "cdmo_workflow.spec.durations",
    "cdmo_workflow.spec.graph",  # phase-graph walks, standard library only
    "cdmo_workflow.spec.diff",  # definition diff over the models (pydantic only)
    "cdmo_workflow.spec.approvers",  # default change approvers over the models
    "cdmo_workflow.spec.zones",  # IANA zone names (zoneinfo), standard library only
    "cdmo_workflow.spec.currencies",  # the ISO 4217 table, standard library only
}
ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a module of cdmo_workflow.domain."""
    package = ["cdmo_workflow", "domain"]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
                if node.module is None:  # from . import events -> cdmo_workflow.domain.events
                    out.extend((node.lineno, f"{module}.{a.name}") for a in node.names)
                    continue
            else:
                module = node.module or ""
            out.append((node.lineno, module))
    return out


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return True
    if top in ALLOWED_THIRD_PARTY:
        return True
    if module.startswith("cdmo_workflow.domain"):
        return True
    return module in ALLOWED_PROJECT_MODULES


FILES = sorted(DOMAIN.rglob("*.py"))


def test_domain_has_modules() -> None:
    assert {p.name for p in FILES} >= {"project.py", "records.py", "events.py", "errors.py"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_domain_imports_only_stdlib_pydantic_and_spec_models(path: Path) -> None:
    bad = [
        f"{path.name}:{line}: {module}" for line, module in _imports(path) if not _allowed(module)
    ]
    assert not bad, "the pure core imports outside its allowance:\n" + "\n".join(bad)


def test_the_import_checker_resolves_relative_imports() -> None:
    found = {m for _, m in _imports(DOMAIN / "project.py")}
    assert "cdmo_workflow.spec.models" in found
    assert "cdmo_workflow.domain.events" in found
    assert not _allowed("cdmo_workflow.store.tables")
    assert not _allowed("yaml") and not _allowed("sqlalchemy")


def test_importing_the_engine_loads_no_heavy_dependency() -> None:
    code = (
        "import json, sys\n"
        "import cdmo_workflow.domain.project\n"
        "heavy = ('prefect', 'sqlalchemy', 'apprise', 'yaml', 'jinja2', 'alembic', 'typer')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
