"""Accounting reports on the wire (JSON) and as CSV rows. Amounts are decimal strings in the
currency's minor unit. The CSV layouts put one accountant-readable row per report line,
with the totals last."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Annotated

import msgspec

from api.schemas.common import Code, Id
from api.schemas.journal import JournalEntryOut
from servicing.reports.csv_export import Cell
from servicing.reports.general_ledger import CurrencyBalance, LedgerLine, LedgerPage
from servicing.reports.service import BalanceSheetReport, IncomeStatementReport, TrialBalanceReport
from servicing.reports.statements import BalanceSheet, IncomeStatement, StatementSection
from servicing.reports.trial_balance import TrialBalanceRow, TrialBalanceTotal
from servicing.reports.year_end import YearEndClose


class TrialBalanceOut(msgspec.Struct, kw_only=True):
    office_id: int
    date_from: date | None
    date_to: date
    currency: str | None
    rows: list[TrialBalanceRow]
    totals: list[TrialBalanceTotal]

    @classmethod
    def from_report(cls, found: TrialBalanceReport) -> TrialBalanceOut:
        scope = found.scope
        return cls(office_id=scope.office_id, date_from=scope.date_from, date_to=scope.date_to,
                   currency=scope.currency, rows=found.report.rows, totals=found.report.totals)


TRIAL_BALANCE_CSV = ("currency", "account_code", "account_name", "account_type", "header", "depth",
                     "opening_debit", "opening_credit", "period_debit", "period_credit", "closing_debit",
                     "closing_credit")


def trial_balance_rows(out: TrialBalanceOut) -> Iterable[Sequence[Cell]]:
    for r in out.rows:
        yield (r.currency, r.account_code, r.account_name, r.account_type, r.is_header, r.depth, r.opening_debit,
               r.opening_credit, r.period_debit, r.period_credit, r.closing_debit, r.closing_credit)
    for t in out.totals:
        yield (t.currency, "TOTAL", "Totaux", None, None, None, t.opening_debit, t.opening_credit, t.period_debit,
               t.period_credit, t.closing_debit, t.closing_credit)


class GeneralLedgerOut(msgspec.Struct, kw_only=True):
    account_code: str
    account_name: str
    account_type: str
    office_id: int
    date_from: date
    date_to: date
    currency: str | None
    opening: list[CurrencyBalance]
    lines: list[LedgerLine]
    closing: list[CurrencyBalance]
    next_cursor: str | None

    @classmethod
    def from_page(cls, page: LedgerPage) -> GeneralLedgerOut:
        query = page.query
        return cls(account_code=page.account.code, account_name=page.account.name,
                   account_type=page.account.type.value, office_id=query.office_id, date_from=query.date_from,
                   date_to=query.date_to, currency=query.currency, opening=page.opening, lines=page.lines,
                   closing=page.closing, next_cursor=page.next_cursor)


GENERAL_LEDGER_CSV = ("value_date", "entry_id", "line_no", "account_code", "office_id", "source_type", "source_id",
                      "description", "currency", "debit", "credit", "balance")


def general_ledger_rows(opening: list[CurrencyBalance], lines: Iterable[LedgerLine],
                        closing: list[CurrencyBalance], date_from: date, date_to: date) -> Iterable[Sequence[Cell]]:
    for balance in opening:
        yield (date_from, None, None, None, None, None, None, "Solde d'ouverture", balance.currency, None, None,
               balance.balance)
    for line in lines:
        yield (line.value_date, line.entry_id, line.line_no, line.account_code, line.office_id, line.source_type,
               line.source_id, line.description, line.currency, line.debit, line.credit, line.balance)
    for balance in closing:
        yield (date_to, None, None, None, None, None, None, "Solde de clôture", balance.currency, None, None,
               balance.balance)


JOURNAL_CSV = ("value_date", "entry_id", "sequence", "office_id", "source_type", "source_id", "description", "actor",
               "reverses", "line_no", "account_code", "currency", "debit", "credit")


def journal_rows(entries: Iterable[JournalEntryOut]) -> Iterable[Sequence[Cell]]:
    for entry in entries:
        reference = entry.reference
        for line in entry.lines:
            debit = line.amount if line.side == "debit" else None
            credit = line.amount if line.side == "credit" else None
            yield (entry.value_date, entry.id, entry.sequence, entry.office_id,
                   reference.source_type if reference else None, reference.source_id if reference else None,
                   entry.description, entry.actor, entry.reverses, line.line_no, line.account_code, line.currency,
                   debit, credit)


class BalanceSheetOut(msgspec.Struct, kw_only=True):
    office_id: int
    as_of: date
    currency: str | None
    sheets: list[BalanceSheet]

    @classmethod
    def from_report(cls, found: BalanceSheetReport) -> BalanceSheetOut:
        return cls(office_id=found.scope.office_id, as_of=found.scope.date_to, currency=found.scope.currency,
                   sheets=found.sheets)


STATEMENT_CSV = ("currency", "section", "account_code", "account_name", "amount")


def _section_rows(currency: str, section: StatementSection) -> Iterable[Sequence[Cell]]:
    for line in section.lines:
        yield (currency, section.type, line.account_code, line.account_name, line.amount)
    yield (currency, section.type, "TOTAL", f"Total {section.type}", section.total)


def balance_sheet_rows(out: BalanceSheetOut) -> Iterable[Sequence[Cell]]:
    for sheet in out.sheets:
        for section in (sheet.assets, sheet.liabilities, sheet.equity):
            yield from _section_rows(sheet.currency, section)
        yield (sheet.currency, "equity", "RESULT", "Résultat de l'exercice en cours", sheet.current_year_result)
        yield (sheet.currency, "total", "TOTAL", "Total passif (dettes, capitaux propres et résultat)",
               sheet.liabilities_and_equity_total)


class IncomeStatementOut(msgspec.Struct, kw_only=True):
    office_id: int
    date_from: date
    date_to: date
    currency: str | None
    statements: list[IncomeStatement]

    @classmethod
    def from_report(cls, found: IncomeStatementReport) -> IncomeStatementOut:
        scope = found.scope
        assert scope.date_from is not None
        return cls(office_id=scope.office_id, date_from=scope.date_from, date_to=scope.date_to,
                   currency=scope.currency, statements=found.statements)


def income_statement_rows(out: IncomeStatementOut) -> Iterable[Sequence[Cell]]:
    for statement in out.statements:
        yield from _section_rows(statement.currency, statement.income)
        yield from _section_rows(statement.currency, statement.expenses)
        yield (statement.currency, "result", "RESULT", "Résultat net", statement.net_result)


class YearEndCloseIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    year: Annotated[int, msgspec.Meta(ge=1900, le=2199, description="Financial (calendar) year to close")]
    office_id: Id | None = None
    """Default: the signed-in user's office (the head office for head-office staff)."""
    include_branches: bool = True
    retained_earnings_account: Code | None = None
    """Default: the equity account tagged 'year-end-result', else 59 (SFD) or 3300 (generic)."""


class YearEndReopenIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    year: Annotated[int, msgspec.Meta(ge=1900, le=2199)]
    office_id: Id | None = None
    include_branches: bool = True
    value_date: date | None = None
    """Date of the reversals; 31 December of the year by default (give an open date if it is closed)."""


class YearEndCloseOut(msgspec.Struct, kw_only=True):
    year: int
    office_id: int
    retained_earnings_account: str
    entries: list[JournalEntryOut]

    @classmethod
    def from_close(cls, close: YearEndClose) -> YearEndCloseOut:
        return cls(year=close.year, office_id=close.office_id,
                   retained_earnings_account=close.retained_earnings_account,
                   entries=[JournalEntryOut.from_booked(b, with_balances=True) for b in close.entries])
