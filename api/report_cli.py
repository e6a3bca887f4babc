"""`grandlivre report ...` and `grandlivre close-year`: the same service calls and the same
CSV layouts as the API, and a plain text table for the terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

from api.schemas import reports as schemas
from api.schemas.journal import JournalEntryOut
from servicing.close_of_business import risk_reports
from servicing.close_of_business.provisioning_report import provisioning_report
from servicing.journal import JournalService
from servicing.queries import EntryFilter
from servicing.reports import service, year_end
from servicing.reports.csv_export import Cell, cell_text, to_csv
from servicing.reports.general_ledger import LedgerQuery, whole_general_ledger
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

REPORTS: Final = ("trial-balance", "general-ledger", "balance-sheet", "income-statement", "journal")
PORTFOLIO_REPORTS: Final = ("portfolio-at-risk", "loan-ageing", "provisioning")
"""As of the last closed business day (the close of business's loan states): they tie to the
trial balance as of that day (docs/close-of-business.md, "How the reports tie")."""
EXPORT_LINES_MAX: Final = 1_000_000
CELL_WIDTH_MAX: Final = 40
CLI_ACTOR: Final = "cli"
TRIAL_BALANCE_TABLE: Final = ("account", "name", "currency", "opening debit", "opening credit", "debits", "credits",
                              "closing debit", "closing credit")


class ReportOptions(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    office: str | None = None
    account: str | None = None
    currency: str | None = None
    output: str = "table"
    show_zero: bool = False


def table(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """Columns aligned for a terminal: numbers (Decimal, int cells) to the right, text cut at CELL_WIDTH_MAX."""
    cells = [list(row) for row in rows]
    body = [[cell_text(value)[:CELL_WIDTH_MAX] for value in row] for row in cells]
    numeric = [any(isinstance(row[i], Decimal | int) and not isinstance(row[i], bool) for row in cells)
               for i in range(len(header))]
    widths = [max([len(name), *(len(row[i]) for row in body)]) for i, name in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if num else cell.ljust(w)
                         for cell, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(row) for row in body)])


async def render_report(uow_factory: UnitOfWorkFactory, options: ReportOptions) -> str:
    office_id = await service.office_by_code(uow_factory, options.office)
    if options.kind in PORTFOLIO_REPORTS:
        return await _portfolio_report(uow_factory, options, office_id)
    to = options.as_of or options.date_to or date.today()
    header: Sequence[str]
    rows: Iterable[Sequence[Cell]]
    out: msgspec.Struct | list[JournalEntryOut]
    if options.kind == "trial-balance":
        scope = service.ReportScope(office_id=office_id, date_from=options.date_from, date_to=to,
                                    currency=options.currency)
        out = schemas.TrialBalanceOut.from_report(
            await service.trial_balance(uow_factory(), scope, show_zero=options.show_zero))
        header, rows = schemas.TRIAL_BALANCE_CSV, schemas.trial_balance_rows(out)
        if options.output == "table":
            return table(TRIAL_BALANCE_TABLE, (
                ("  " * int(str(row[5] or 0)) + str(row[1]), row[2], row[0], *row[6:]) for row in rows))
    elif options.kind == "general-ledger":
        if options.account is None:
            raise ValueError("--account is required for the general ledger")
        query = LedgerQuery(account_code=options.account, office_id=office_id,
                            date_from=options.date_from or service.start_of_year(to), date_to=to,
                            currency=options.currency)
        page = await whole_general_ledger(uow_factory, query, lines_max=EXPORT_LINES_MAX)
        out = schemas.GeneralLedgerOut.from_page(page)
        header = schemas.GENERAL_LEDGER_CSV
        rows = schemas.general_ledger_rows(page.opening, page.lines, page.closing, query.date_from, query.date_to)
    elif options.kind == "balance-sheet":
        scope = service.ReportScope(office_id=office_id, date_to=to, currency=options.currency)
        out = schemas.BalanceSheetOut.from_report(await service.balance_sheet(uow_factory(), scope))
        header, rows = schemas.STATEMENT_CSV, schemas.balance_sheet_rows(out)
    elif options.kind == "income-statement":
        scope = service.ReportScope(office_id=office_id, date_from=options.date_from, date_to=to,
                                    currency=options.currency)
        out = schemas.IncomeStatementOut.from_report(await service.income_statement(uow_factory(), scope))
        header, rows = schemas.STATEMENT_CSV, schemas.income_statement_rows(out)
    else:
        assert options.kind == "journal", options.kind
        filters = EntryFilter(date_from=options.date_from, date_to=options.as_of or options.date_to,
                              office_id=office_id, account_code=options.account)
        entries = await service.whole_journal(uow_factory, filters, entries_max=EXPORT_LINES_MAX)
        out = [JournalEntryOut.from_booked(b, with_balances=False) for b in entries]
        header, rows = schemas.JOURNAL_CSV, schemas.journal_rows(out)
    if options.output == "json":
        return json.dumps(json.loads(msgspec.json.encode(out)), indent=2, ensure_ascii=False)
    if options.output == "csv":
        return to_csv(header, rows)
    return table(header, rows)


async def _portfolio_report(uow_factory: UnitOfWorkFactory, options: ReportOptions, office_id: int) -> str:
    """PAR by product (`--group-by` is the API's; the CLI prints by product), ageing or provisioning,
    for the office and its branches."""
    async with uow_factory() as uow:
        offices = frozenset(await service.office_subtree(uow.session, office_id))
    scope = OfficeScope(office_id=office_id, office_ids=offices)
    out: msgspec.Struct
    if options.kind == "portfolio-at-risk":
        out = await risk_reports.portfolio_at_risk(uow_factory(), risk_reports.RiskGrouping.PRODUCT, scope)
        found: Sequence[msgspec.Struct] = out.rows
    elif options.kind == "loan-ageing":
        as_of, ageing = await risk_reports.ageing(uow_factory(), scope)
        out = AgeingOut(as_of=as_of, rows=tuple(ageing))
        found = ageing
    else:
        out = await provisioning_report(uow_factory(), scope)
        found = out.rows
    if options.output == "json":
        return json.dumps(json.loads(msgspec.json.encode(out)), indent=2, ensure_ascii=False)
    fields = list(type(found[0]).__struct_fields__) if found else ["empty"]
    cells = [[getattr(row, name) for name in fields] for row in found]
    if options.output == "csv":
        return to_csv(fields, cells)
    as_of_day = getattr(out, "as_of", None)
    return f"as of {as_of_day or 'no close yet'}\n" + table(fields, cells)


class AgeingOut(msgspec.Struct, frozen=True, kw_only=True):
    as_of: date | None
    rows: tuple[risk_reports.AgeingRow, ...]


async def close_year_now(uow_factory: UnitOfWorkFactory, journal: JournalService, *, year: int, office: str | None,
                         retained_earnings_account: str | None) -> str:
    command = year_end.CloseYear(
        year=year, office_id=await service.office_by_code(uow_factory, office), actor=CLI_ACTOR, today=date.today(),
        retained_earnings_account=retained_earnings_account)
    closed = await year_end.close_year(uow_factory, journal, command)
    lines = [f"year {year} closed into {closed.retained_earnings_account}: {len(closed.entries)} closing entries"]
    for booked in closed.entries:
        lines.append(f"  office {booked.entry.office_id}: entry {booked.entry.entry_id} "
                     f"({len(booked.entry.lines)} lines, dated {booked.entry.value_date})")
    return "\n".join(lines)
