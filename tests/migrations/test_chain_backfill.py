"""Migration 0003 on a database that already holds entries: it chains them in booking order
and totals their lines, so verify passes on the upgraded database and posting continues the chain."""

from __future__ import annotations

import asyncio
import os
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import text

_ENTRY = """
WITH e AS (
    INSERT INTO journal_entry (id, office_id, value_date, description, actor, line_count)
    VALUES (:id, :office, :day, :description, 'migration-test', 2) RETURNING id
)
INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount, currency)
VALUES (:id, 1, :cash, :office, :day, 'D', :amount, 'XOF'),
       (:id, 2, :deposits, :office, :day, 'C', :amount, 'XOF')
"""


async def test_upgrading_a_journal_with_entries_chains_and_totals_them(settings: Any) -> None:
    from alembic import command

    from migrations import alembic_config
    from servicing.database import Database, drop_database
    from servicing.unit_of_work import UnitOfWorkFactory
    from servicing.verification import verify_journal

    database = await Database.locate(settings, database_name=f"grandlivre_backfill_{os.getpid()}")
    config = alembic_config(database.admin_url, app_role=settings.app_role)
    try:
        await asyncio.to_thread(command.upgrade, config, "0001")
        admin = database.admin_engine()
        async with admin.begin() as connection:
            office = await connection.scalar(text(
                "INSERT INTO office (code, name, opened_on, created_by) VALUES ('HQ', 'Siège', '2026-01-01', 't')"
                " RETURNING id"))
            accounts = {}
            for code, kind in (("571", "asset"), ("251", "liability")):
                accounts[code] = await connection.scalar(text(
                    "INSERT INTO gl_account (code, name, type, is_header) VALUES (:code, :code, :kind, false)"
                    " RETURNING id"), {"code": code, "kind": kind})
            for n, (day, amount) in enumerate(((date(2026, 1, 5), 1000), (date(2026, 1, 5), 250), (date(2026, 2, 1), 75))):
                await connection.execute(text(_ENTRY), {
                    "id": UUID(f"00000000-0000-7000-8000-00000000000{n}"), "office": office, "day": day,
                    "description": f"Versement n°{n} | « test »", "cash": accounts["571"],
                    "deposits": accounts["251"], "amount": amount})
        await admin.dispose()
        await asyncio.to_thread(command.upgrade, config, "heads")

        engine = database.app_engine(pool_size=2)
        try:
            report = await verify_journal(UnitOfWorkFactory(engine))
            assert report.ok, report.problems
            assert [(h.office_id, h.position) for h in report.chain_heads] == [(office, 3)]
            assert report.period_totals_checked == 2 * (2 + 2 + 1)  # two accounts: days 5 Jan, 1 Feb; two months; a year
        finally:
            await engine.dispose()
    finally:
        await drop_database(database.admin_url.replace(database.database_name, "postgres"), database.database_name)
