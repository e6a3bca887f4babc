"""Settings, read once from the environment. Every setting has a default that works on a
fresh machine with the embedded PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from ledger.limits import IDEMPOTENCY_RETENTION_DAYS_MIN
from servicing.clients.kyc_rules import ALLOWED_CONTENT_TYPES, DOCUMENT_BYTES_MAX, ContentType, DocumentPolicy


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
    documents_folder: Path | None = None
    """Where KYC files are kept; None keeps them in the database (one backup holds everything)."""
    document_bytes_max: int = DOCUMENT_BYTES_MAX
    document_content_types: tuple[str, ...] = tuple(sorted(ALLOWED_CONTENT_TYPES))

    def document_policy(self) -> DocumentPolicy:
        return DocumentPolicy(bytes_max=self.document_bytes_max,
                              content_types=frozenset(ContentType(t) for t in self.document_content_types))

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
            documents_folder=Path(folder) if (folder := environ.get("GRANDLIVRE_DOCUMENTS_FOLDER")) else None,
            **_document_limits(environ),
        )


def _document_limits(environ: Mapping[str, str]) -> dict[str, Any]:
    """GRANDLIVRE_DOCUMENT_BYTES_MAX and GRANDLIVRE_DOCUMENT_CONTENT_TYPES (comma-separated MIME
    types), checked at start-up so that a typo stops the server instead of refusing every file."""
    limits: dict[str, Any] = {}
    if raw_bytes := environ.get("GRANDLIVRE_DOCUMENT_BYTES_MAX"):
        if not raw_bytes.isdigit() or not 1 <= int(raw_bytes) <= DOCUMENT_BYTES_MAX:
            raise ValueError(f"GRANDLIVRE_DOCUMENT_BYTES_MAX must be between 1 and {DOCUMENT_BYTES_MAX} bytes")
        limits["document_bytes_max"] = int(raw_bytes)
    if raw_types := environ.get("GRANDLIVRE_DOCUMENT_CONTENT_TYPES"):
        types = tuple(sorted({t.strip().lower() for t in raw_types.split(",") if t.strip()}))
        unknown = [t for t in types if t not in ALLOWED_CONTENT_TYPES]
        if unknown or not types:
            raise ValueError("GRANDLIVRE_DOCUMENT_CONTENT_TYPES lists types among "
                             + ", ".join(sorted(ALLOWED_CONTENT_TYPES)) + f" (got {raw_types!r})")
        limits["document_content_types"] = types
    return limits
