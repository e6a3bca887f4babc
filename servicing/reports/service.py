"""Trial balance, balance sheet and income statement: read the chart and the totals, hand
them to the pure builders. Every figure comes from `ledger.db.totals.account_totals`, so
the way totals are found (lines or period snapshots) changes in one place; the only
row-level read here is the closing entries' own lines, which the income statement leaves
out (found through the journal's source index)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from chart_of_accounts.model import AccountType
from ledger.db.totals import account_totals
from ledger.limits import PAGE_SIZE_MAX
from ledger.model import BookedEntry
from servicing.errors import InvalidInput, NotFound
from servicing.queries import EntryFilter, EntryPage, list_entries
from servicing.reports.chart_tree import ChartTree, ReportAccount, Totals
from servicing.reports.closing_entry import SOURCE_TYPE
from servicing.reports.statements import (
    BalanceSheet,
    IncomeStatement,
    build_balance_sheet,
    build_income_statement,
)
from servicing.reports.trial_balance import TrialBalance, build_trial_balance
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory


class ReportScope(msgspec.Struct, frozen=True, kw_only=True):
    """Which lines a report covers: an office and its branches, up to a date, from a date
    (None: from the first line), in one currency or all."""

    office_id: int
    date_to: date
    date_from: date | None = None
    currency: str | None = None


class TrialBalanceReport(msgspec.Struct, frozen=True, kw_only=True):
    scope: ReportScope
    report: TrialBalance


class BalanceSheetReport(msgspec.Struct, frozen=True, kw_only=True):
    scope: ReportScope
    sheets: list[BalanceSheet]


class IncomeStatementReport(msgspec.Struct, frozen=True, kw_only=True):
    scope: ReportScope
    statements: list[IncomeStatement]


def check_period(date_from: date | None, date_to: date) -> None:
    if date_from is not None and date_from > date_to:
        raise InvalidInput(f"from ({date_from}) is after to ({date_to})", field="from")


def start_of_year(day: date) -> date:
    """Financial years are calendar years (the UEMOA and CEMAC charts close on 31 December)."""
    return date(day.year, 1, 1)


async def load_chart(session: AsyncSession) -> ChartTree:
    rows = (await session.execute(text(
        "SELECT id, code, name, type, is_header, parent_id, tags FROM gl_account ORDER BY code"))).all()
    return ChartTree(
        ReportAccount(account_id=row.id, code=row.code, name=row.name, type=AccountType(row.type),
                      is_header=row.is_header, parent_id=row.parent_id, tags=tuple(row.tags))
        for row in rows
    )


async def office_subtree(session: AsyncSession, office_id: int) -> list[int]:
    """The office and its branches (every office whose lineage includes it)."""
    ids = list((await session.scalars(
        text("SELECT id FROM office WHERE CAST(:office_id AS int) = ANY(lineage) ORDER BY id"),
        {"office_id": office_id})).all())
    if office_id not in ids:
        raise NotFound(f"unknown office {office_id}", field="office_id")
    return ids


async def totals_of(
    session: AsyncSession, scope: ReportScope, offices: Sequence[int], *, through: date, since: date | None = None,
    account_ids: Sequence[int] | None = None,
) -> list[Totals]:
    rows = await account_totals(session, through=through, since=since, office_ids=offices, account_ids=account_ids)
    return [Totals(r.account_id, r.currency, r.debit_total, r.credit_total) for r in rows
            if scope.currency is None or r.currency == scope.currency]


async def trial_balance(uow: UnitOfWork, scope: ReportScope, *, show_zero: bool = False) -> TrialBalanceReport:
    """Opening balances before `date_from`, movements from `date_from` to `date_to`; without
    `date_from`, the trial balance as of `date_to` (every line up to it, no opening)."""
    check_period(scope.date_from, scope.date_to)
    async with uow:
        session = uow.session
        offices = await office_subtree(session, scope.office_id)
        tree = await load_chart(session)
        opening: list[Totals] = []
        if scope.date_from is not None:
            opening = await totals_of(session, scope, offices, through=scope.date_from - timedelta(days=1))
        period = await totals_of(session, scope, offices, through=scope.date_to, since=scope.date_from)
    currencies = [scope.currency] if scope.currency and show_zero else []
    report = build_trial_balance(tree, opening, period, currencies=currencies, show_zero=show_zero)
    return TrialBalanceReport(scope=scope, report=report)


async def balance_sheet(uow: UnitOfWork, scope: ReportScope) -> BalanceSheetReport:
    """Balances of every line up to `date_to`; income and expenses not yet closed become the
    current year's result."""
    async with uow:
        session = uow.session
        offices = await office_subtree(session, scope.office_id)
        tree = await load_chart(session)
        totals = await totals_of(session, scope, offices, through=scope.date_to)
    return BalanceSheetReport(scope=scope, sheets=build_balance_sheet(tree, totals))


async def income_statement(uow: UnitOfWork, scope: ReportScope) -> IncomeStatementReport:
    """Income and expenses from `date_from` (default: 1 January of `date_to`'s year) to
    `date_to`, year-end closing entries and their reversals left out."""
    date_from = scope.date_from or start_of_year(scope.date_to)
    check_period(date_from, scope.date_to)
    scope = msgspec.structs.replace(scope, date_from=date_from)
    async with uow:
        session = uow.session
        offices = await office_subtree(session, scope.office_id)
        tree = await load_chart(session)
        result_ids = [a.account_id for a in tree.by_id.values()
                      if a.type in (AccountType.INCOME, AccountType.EXPENSE) and not a.is_header]
        period = await totals_of(session, scope, offices, through=scope.date_to, since=date_from,
                                 account_ids=result_ids)
        closing = await closing_entry_totals(session, offices, since=date_from, through=scope.date_to)
    closing = [t for t in closing if scope.currency is None or t.currency == scope.currency]
    return IncomeStatementReport(scope=scope, statements=build_income_statement(tree, period, closing))


async def closing_entry_totals(session: AsyncSession, offices: Sequence[int], *, since: date,
                               through: date) -> list[Totals]:
    """Totals of the lines of year-end closing entries and their reversals (which carry the
    same source type) dated within the span, for the offices."""
    rows = (await session.execute(text(
        """
        SELECT l.account_id, l.currency,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'D'), 0) AS debit_total,
               coalesce(sum(l.amount) FILTER (WHERE l.side = 'C'), 0) AS credit_total
          FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id
         WHERE e.source_type = :source_type AND e.value_date BETWEEN :since AND :through
           AND e.office_id = ANY(CAST(:offices AS int[]))
         GROUP BY 1, 2
        """), {"source_type": SOURCE_TYPE, "since": since, "through": through, "offices": list(offices)})).all()
    return [Totals(r.account_id, r.currency.strip(), r.debit_total, r.credit_total) for r in rows]


async def journal_page(uow_factory: UnitOfWorkFactory, filters: EntryFilter, *, limit: int,
                       cursor: str | None) -> EntryPage:
    """One page of the journal listing, after checking that the office and account exist."""
    async with uow_factory() as uow:
        session = uow.session
        if filters.office_id is not None:
            await office_subtree(session, filters.office_id)
        if filters.account_code is not None and await session.scalar(
                text("SELECT id FROM gl_account WHERE code = :code"), {"code": filters.account_code}) is None:
            raise NotFound(f"unknown account {filters.account_code}", field="account_code")
        return await list_entries(session, filters, limit=limit, cursor=cursor)


async def whole_journal(uow_factory: UnitOfWorkFactory, filters: EntryFilter, *, entries_max: int) -> list[BookedEntry]:
    """Every entry the filters select, in booking order (for exports), refused past `entries_max`."""
    entries: list[BookedEntry] = []
    cursor = None
    while True:
        page = await journal_page(uow_factory, filters, limit=PAGE_SIZE_MAX, cursor=cursor)
        entries += page.entries
        cursor = page.next_cursor
        if cursor is None:
            return entries
        if len(entries) >= entries_max:
            raise InvalidInput(f"more than {entries_max} entries: export a shorter period", field="to")


async def office_by_code(uow_factory: UnitOfWorkFactory, code: str | None) -> int:
    """The office with this code, or the head office when no code is given."""
    async with uow_factory() as uow:
        if code is None:
            found = await uow.session.scalar(text("SELECT id FROM office WHERE parent_id IS NULL"))
        else:
            found = await uow.session.scalar(text("SELECT id FROM office WHERE code = :code"), {"code": code})
    if found is None:
        raise NotFound(f"unknown office {code}" if code else "there is no head office yet", field="office")
    return int(found)
