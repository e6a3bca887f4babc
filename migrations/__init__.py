"""Alembic migrations. `alembic_config(url)` builds the configuration programmatically, so
`grandlivre migrate`, `serve`, `demo` and the tests all apply the same revisions."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(database_url: str, *, app_role: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    config.attributes["app_role"] = app_role
    return config
