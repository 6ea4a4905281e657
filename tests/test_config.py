"""Settings from the environment; the database password never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdmo_workflow.config import DEFAULT_DATABASE_URL, Settings, mask_url


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.database_url == DEFAULT_DATABASE_URL == "sqlite:///.cdmo/cdmo.db"
    assert s.definitions_dir == Path.cwd()
    assert s.ui_url is None and s.lock_after == 5 and s.relay_max_attempts == 8


def test_from_env_and_masking() -> None:
    s = Settings.from_env(
        {
            "CDMO_DATABASE_URL": "postgresql+psycopg://cdmo:s3cr3t@db:5432/cdmo",
            "CDMO_DEFINITIONS": "/srv/defs",
            "CDMO_UI_URL": "https://ui.example/",
            "CDMO_RELAY_MAX_ATTEMPTS": "3",
        }
    )
    assert s.definitions_dir == Path("/srv/defs")
    assert s.ui_url == "https://ui.example" and s.relay_max_attempts == 3
    assert "s3cr3t" not in repr(s) and "s3cr3t" not in str(s)
    assert s.database_url_masked == "postgresql+psycopg://cdmo:***@db:5432/cdmo"
    with pytest.raises(ValueError, match="CDMO_LOCK_AFTER"):
        Settings.from_env({"CDMO_LOCK_AFTER": "many"})


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("sqlite:///.cdmo/cdmo.db", "sqlite:///.cdmo/cdmo.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:p@ss/w@h/db", "postgresql://u:***@h/db"),
        (
            "postgresql://u:pw@h:5432/db?sslmode=require",
            "postgresql://u:***@h:5432/db?sslmode=require",
        ),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_team_mode_refuses_a_missing_or_local_database() -> None:
    from cdmo_workflow.config import ConfigError

    with pytest.raises(ConfigError, match="CDMO_DATABASE_URL is not set") as exc:
        Settings.from_env({"CDMO_TEAM": "1"})
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="local SQLite file"):
        Settings.from_env({"CDMO_TEAM": "1", "CDMO_DATABASE_URL": "sqlite:///.cdmo/cdmo.db"})
    with pytest.raises(ConfigError):
        Settings.from_env({"CDMO_TEAM": "yes", "CDMO_DATABASE_URL": "  "})
    s = Settings.from_env(
        {"CDMO_TEAM": "1", "CDMO_DATABASE_URL": "postgresql+psycopg://u:pw@db/cdmo"}
    )
    assert s.team and s.stuck_after_seconds == 60.0 and s.housekeeping_every_seconds == 20.0
    assert Settings.from_env({"CDMO_TEAM": "0"}).database_url == DEFAULT_DATABASE_URL


def test_cli_refuses_in_one_line_in_team_mode(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cdmo_workflow.cli import app

    r = CliRunner().invoke(app, ["project", "list"], env={"CDMO_TEAM": "1"})
    assert r.exit_code != 0
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "CDMO_TEAM=1" in lines[0], r.output
