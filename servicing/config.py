"""Settings, read once from the environment. Every setting has a default that works on a
fresh machine with the embedded PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from ledger.limits import IDEMPOTENCY_RETENTION_DAYS_MIN


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Where the data lives and how Grand Livre connects to it.

    database_url: an administrative (owner) URL of an external PostgreSQL; None starts the
        embedded server under `home`. Migrations run with it; the application itself runs
        as `app_role`, which may only read and append to the journal.
    """

    database_url: str | None = None
    home: Path = Path(".grandlivre")
    database_name: str = "grandlivre"
    app_role: str = "grandlivre_app"
    app_password: str | None = None
    idempotency_retention_days: int = 30
    pool_size: int = 20

    @classmethod
    def from_environment(cls) -> Settings:
        environ = os.environ
        retention_days = int(environ.get("GRANDLIVRE_IDEMPOTENCY_RETENTION_DAYS", "30"))
        if retention_days < IDEMPOTENCY_RETENTION_DAYS_MIN:
            raise ValueError(f"GRANDLIVRE_IDEMPOTENCY_RETENTION_DAYS must be at least {IDEMPOTENCY_RETENTION_DAYS_MIN}")
        return cls(
            database_url=environ.get("DATABASE_URL") or None,
            home=Path(environ.get("GRANDLIVRE_HOME", ".grandlivre")),
            database_name=environ.get("GRANDLIVRE_DATABASE", "grandlivre"),
            app_role=environ.get("GRANDLIVRE_APP_ROLE", "grandlivre_app"),
            app_password=environ.get("GRANDLIVRE_APP_PASSWORD") or None,
            idempotency_retention_days=retention_days,
            pool_size=int(environ.get("GRANDLIVRE_POOL_SIZE", "20")),
        )
