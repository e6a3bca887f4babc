"""Async Alembic environment: runs migrations through `connection.run_sync` on the owner
(administrative) connection. The application itself connects with a less privileged role."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import chart_of_accounts.db.tables  # noqa: F401  (registers gl_account)
import ledger.db.tables  # noqa: F401  (registers the journal tables)
from ledger.db.base import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations(app_role=config.attributes["app_role"])


async def _main() -> None:
    engine = create_async_engine(config.attributes["database_url"])
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `grandlivre migrate`")
asyncio.run(_main())
