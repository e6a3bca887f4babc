"""Revision 0040: the lines' one trigger moves balances and period totals from one aggregate
and still refuses inexact amounts before unpostable accounts, moving nothing; the journal's
commit order (xact_id, seq) is unique."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.db.store import append_entries
from ledger.model import Side
from servicing.errors import sqlstate_of
from tests.migrations.test_database_guards import _entry, _line, _refs
from tests.servicing.test_journal_service import deposit

_TOTALS = text(
    "SELECT t.grain, t.period_start, t.debit_total, t.credit_total, t.line_count FROM account_period_total t"
    " JOIN gl_account a ON a.id = t.account_id WHERE a.code = :code AND t.office_id = :office ORDER BY 1, 2")


async def _period_totals(engine, code: str, office_id: int) -> list[tuple[str, date, Decimal, Decimal, int]]:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        rows = (await connection.execute(_TOTALS, {"code": code, "office": office_id})).all()
    return [(row.grain, row.period_start, row.debit_total, row.credit_total, row.line_count) for row in rows]


async def test_one_statement_over_several_days_and_months_moves_each_period_total(engine, journal, world) -> None:  # type: ignore[no-untyped-def]
    days = [date(2026, 9, 30), date(2026, 10, 5), date(2026, 10, 5), date(2026, 10, 6)]
    await journal.post_batch([deposit(world, str(10 * (n + 1)), day=day) for n, day in enumerate(days)])
    cash = await _period_totals(engine, world.cash, world.office_id)
    assert cash == [
        ("D", date(2026, 9, 30), Decimal(10), Decimal(0), 1),
        ("D", date(2026, 10, 5), Decimal(50), Decimal(0), 2),
        ("D", date(2026, 10, 6), Decimal(40), Decimal(0), 1),
        ("M", date(2026, 9, 1), Decimal(10), Decimal(0), 1),
        ("M", date(2026, 10, 1), Decimal(90), Decimal(0), 3),
        ("Y", date(2026, 1, 1), Decimal(100), Decimal(0), 4),
    ]
    deposits = await _period_totals(engine, world.deposits, world.office_id)
    assert [(grain, start, credit, count) for grain, start, _debit, credit, count in deposits][-1] == \
        ("Y", date(2026, 1, 1), Decimal(100), 4)
    async with engine.connect() as connection:
        balance = (await connection.execute(text(
            "SELECT b.debit_total, b.credit_total, b.line_count FROM account_balance b JOIN gl_account a"
            " ON a.id = b.account_id WHERE a.code = :code"), {"code": world.cash})).one()
    assert tuple(balance) == (Decimal(100), Decimal(0), 4)


async def test_an_inexact_amount_is_named_before_an_unpostable_account_and_nothing_moves(engine, journal, world) -> None:  # type: ignore[no-untyped-def]
    await journal.post(deposit(world, "1"))
    before = await _period_totals(engine, world.cash, world.office_id)
    refs = await _refs(engine, world.cash, world.deposits, world.header)
    inexact = _entry(world, (_line(world.cash, Side.DEBIT, "7.25"), _line(world.deposits, Side.CREDIT, "7.25")))
    header = _entry(world, (_line(world.header, Side.DEBIT, "5"), _line(world.deposits, Side.CREDIT, "5")))
    for entries, state in (([header, inexact], "GL022"), ([header], "GL023")):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await append_entries(connection, entries, refs)
            assert sqlstate_of(raised.value) == state
            await connection.rollback()
    assert await _period_totals(engine, world.cash, world.office_id) == before


async def test_the_commit_order_has_no_ties(admin_engine, world) -> None:  # type: ignore[no-untyped-def]
    """seq comes from an identity column; even a row forced past it cannot repeat (xact_id, seq)."""
    async with admin_engine.connect() as connection:
        with pytest.raises(DBAPIError, match="journal_entry_commit_order") as raised:
            await connection.execute(text(
                "INSERT INTO journal_entry (id, seq, office_id, value_date, description, actor, line_count,"
                " chain_position, entry_hash) OVERRIDING SYSTEM VALUE"
                " VALUES (CAST(:a AS uuid), 900000001, :o, '2026-10-05', 'x', 'x', 2, 1, sha256('a')),"
                "        (CAST(:b AS uuid), 900000001, :o, '2026-10-05', 'x', 'x', 2, 2, sha256('b'))"),
                {"a": str(uuid4()), "b": str(uuid4()), "o": world.office_id})
        assert sqlstate_of(raised.value) == "23505"
