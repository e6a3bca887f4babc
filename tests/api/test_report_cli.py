"""`grandlivre report` and `grandlivre close-year`, called as the CLI calls them (on the
test database): the table, CSV and JSON outputs, and the close's refusals."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from api.report_cli import ReportOptions, close_year_now, render_report, table
from chart_of_accounts import AccountType, AccountUsage, GLAccount
from ledger.errors import LedgerError
from ledger.model import Line, Side
from servicing import chart
from servicing.commands import CreateGLAccounts, PostJournalEntry


async def test_reports_print_as_table_csv_and_json(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    await chart.create_accounts(uow_factory(), CreateGLAccounts(actor="tests", accounts=(
        GLAccount(code=f"{world.prefix}.RES", name="Résultat", type=AccountType.EQUITY, usage=AccountUsage.DETAIL),)))
    await journal.post(PostJournalEntry(
        office_id=world.office_id, value_date=date(2023, 4, 1), description="=HYPERLINK(\"x\")", actor="tests",
        lines=(Line(account_code=world.cash, side=Side.DEBIT, amount=Decimal(2500), currency="XOF"),
               Line(account_code=world.income, side=Side.CREDIT, amount=Decimal(2500), currency="XOF"))))
    office = f"{world.prefix}-BR"
    printed = await render_report(uow_factory, ReportOptions(kind="trial-balance", as_of=date(2023, 12, 31), office=office))
    assert f"  {world.cash}" in printed and "2500" in printed
    exported = await render_report(uow_factory, ReportOptions(kind="journal", office=office, output="csv"))
    assert exported.startswith("\ufeff") and ';"\'=HYPERLINK(""x"")";' in exported
    ledger = json.loads(await render_report(uow_factory, ReportOptions(
        kind="general-ledger", account=world.cash, office=office, date_from=date(2023, 1, 1),
        date_to=date(2023, 12, 31), output="json")))
    assert ledger["closing"] == [{"currency": "XOF", "balance": "2500"}]
    for kind in ("balance-sheet", "income-statement"):
        assert "2500" in await render_report(uow_factory, ReportOptions(kind=kind, office=office, date_to=date(2023, 12, 31)))
    with pytest.raises(ValueError, match="--account"):
        await render_report(uow_factory, ReportOptions(kind="general-ledger", office=office))
    with pytest.raises(LedgerError) as unknown:
        await render_report(uow_factory, ReportOptions(kind="trial-balance", office="NO-SUCH-OFFICE"))
    assert unknown.value.field == "office"
    said = await close_year_now(uow_factory, journal, year=2023, office=office,
                                retained_earnings_account=f"{world.prefix}.RES")
    assert said.startswith(f"year 2023 closed into {world.prefix}.RES: 1 closing entries")
    with pytest.raises(LedgerError) as again:
        await close_year_now(uow_factory, journal, year=2023, office=office, retained_earnings_account=None)
    assert again.value.field == "year"


def test_table_aligns_amounts_right_and_text_left() -> None:
    printed = table(["compte", "montant"], [["1011", Decimal(5)], ["2511", Decimal(-12000)]]).splitlines()
    assert printed == ["compte  montant", "------  -------", "1011          5", "2511     -12000"]
