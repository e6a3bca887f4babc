"""Balance sheet (bilan) and income statement (compte de résultat) from account types. Pure.

The balance sheet at a date lists asset, liability and equity accounts with their balance on
their normal side (a contra account, such as a provision, shows a negative amount). The
income and expense accounts not yet closed into equity are carried as one line, the result
of the financial year in progress, so that assets = liabilities + equity + that result:
every entry is balanced, so this holds at any date, before and after the year-end close.

The income statement over a period lists income and expense accounts with the period's
movements, leaving out the year-end closing entries (and their reversals): after the close
it still shows the year's activity, and its net result is what the close moved to equity."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from chart_of_accounts.model import AccountType
from ledger.model import Side
from ledger.money import normalize_amount
from servicing.reports.chart_tree import ChartTree, Totals

ZERO = Decimal(0)
BALANCE_SHEET_TYPES = (AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY)
RESULT_TYPES = (AccountType.INCOME, AccountType.EXPENSE)


class StatementLine(msgspec.Struct, frozen=True, kw_only=True):
    account_code: str
    account_name: str
    amount: Decimal
    """On the account's normal side: positive is the usual balance of its type."""


class StatementSection(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    lines: list[StatementLine]
    total: Decimal


class BalanceSheet(msgspec.Struct, frozen=True, kw_only=True):
    """One currency's balance sheet. `current_year_result` is income minus expenses not yet
    closed; `balanced` says assets equal liabilities plus equity plus that result."""

    currency: str
    assets: StatementSection
    liabilities: StatementSection
    equity: StatementSection
    current_year_result: Decimal
    liabilities_and_equity_total: Decimal
    balanced: bool


class IncomeStatement(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    income: StatementSection
    expenses: StatementSection
    net_result: Decimal
    """Income minus expenses: a profit when positive, a loss when negative."""


def _normal_balances(tree: ChartTree, totals: Iterable[Totals]) -> dict[str, dict[int, Decimal]]:
    """Per currency, each detail account's balance on its normal side."""
    balances: dict[str, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in totals:
        account = tree.by_id[row.account_id]
        difference = row.debit_total - row.credit_total
        signed = difference if account.type.normal_side is Side.DEBIT else -difference
        balances[row.currency][row.account_id] += signed
    return balances


def _section(tree: ChartTree, kind: AccountType, balances: dict[int, Decimal], currency: str) -> StatementSection:
    lines = [
        StatementLine(account_code=account.code, account_name=account.name,
                      amount=normalize_amount(balances[account.account_id], currency) + 0)
        for account in tree.in_order()
        if account.type is kind and not account.is_header and balances.get(account.account_id, ZERO) != 0
    ]
    return StatementSection(type=kind.value, lines=lines, total=sum((line.amount for line in lines), ZERO))


def build_balance_sheet(tree: ChartTree, totals: Iterable[Totals]) -> list[BalanceSheet]:
    """Balance sheets per currency from the totals of every line up to the date."""
    sheets = []
    for currency, balances in sorted(_normal_balances(tree, totals).items()):
        assets, liabilities, equity = (_section(tree, kind, balances, currency) for kind in BALANCE_SHEET_TYPES)
        income, expenses = (_section(tree, kind, balances, currency) for kind in RESULT_TYPES)
        result = income.total - expenses.total
        right = liabilities.total + equity.total + result
        sheets.append(BalanceSheet(
            currency=currency, assets=assets, liabilities=liabilities, equity=equity,
            current_year_result=result, liabilities_and_equity_total=right, balanced=assets.total == right,
        ))
    return sheets


def build_income_statement(tree: ChartTree, period: Iterable[Totals], closing: Iterable[Totals]) -> list[IncomeStatement]:
    """Income statements per currency: the period's totals minus those of closing entries."""
    net = [row for row in period if tree.by_id[row.account_id].type in RESULT_TYPES]
    net += [Totals(row.account_id, row.currency, -row.debit_total, -row.credit_total) for row in closing
            if tree.by_id[row.account_id].type in RESULT_TYPES]
    statements = []
    for currency, balances in sorted(_normal_balances(tree, net).items()):
        income, expenses = (_section(tree, kind, balances, currency) for kind in RESULT_TYPES)
        if income.lines or expenses.lines:
            statements.append(IncomeStatement(currency=currency, income=income, expenses=expenses,
                                              net_result=income.total - expenses.total))
    return statements
