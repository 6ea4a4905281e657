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
