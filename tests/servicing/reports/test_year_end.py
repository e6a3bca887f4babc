"""The year-end close under concurrency and its default retained-earnings account."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from sqlalchemy import text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from ledger.model import Line, Side
from servicing import chart
from servicing.commands import CreateGLAccounts, PostJournalEntry
from servicing.errors import Conflict
from servicing.reports.year_end import RETAINED_EARNINGS_TAG, CloseYear, close_year


async def test_concurrent_closes_post_once_into_the_tagged_account(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    await chart.create_accounts(uow_factory(), CreateGLAccounts(actor="tests", accounts=(
        GLAccount(code=f"{world.prefix}.RES", name="Résultat", type=AccountType.EQUITY, usage=AccountUsage.DETAIL,
                  tags=(RETAINED_EARNINGS_TAG,)),)))
    await journal.post(PostJournalEntry(
        office_id=world.office_id, value_date=date(2022, 6, 30), description="Commission", actor="tests",
        lines=(Line(account_code=world.cash, side=Side.DEBIT, amount=Decimal(900), currency="XOF"),
               Line(account_code=world.income, side=Side.CREDIT, amount=Decimal(900), currency="XOF"))))
    command = CloseYear(year=2022, office_id=world.office_id, actor="tests", today=date(2023, 1, 2))
    outcomes = await asyncio.gather(*[close_year(uow_factory, journal, command) for _ in range(4)],
                                    return_exceptions=True)
    closes = [o for o in outcomes if not isinstance(o, BaseException)]
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException)), [
        (type(o), str(o)) for o in outcomes if isinstance(o, BaseException)]
    assert closes and {c.entries[0].entry.entry_id for c in closes} == {closes[0].entries[0].entry.entry_id}
    assert all(c.retained_earnings_account == f"{world.prefix}.RES" for c in closes)
    async with uow_factory() as uow:
        count = await uow.session.scalar(text(
            "SELECT count(*) FROM journal_entry WHERE office_id = :o AND source_type = 'year_end_close'"),
            {"o": world.office_id})
    assert count == 1
