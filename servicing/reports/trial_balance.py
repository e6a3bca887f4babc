"""Trial balance (balance générale) from account totals. Pure.

Each row is one account in one currency: its opening balance (before the period), the
period's debits and credits, and its closing balance. Balances are shown on the side they
fall (a debit balance in the debit column, a credit balance in the credit column), the way
an accountant reads a six-column trial balance. Header accounts roll up every account below
them; the totals per currency add up detail accounts only (a header would count its
children twice) and must show debits equal to credits in each pair of columns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from ledger.money import normalize_amount
from servicing.reports.chart_tree import ChartTree, ReportAccount, Totals

ZERO = Decimal(0)


class TrialBalanceRow(msgspec.Struct, frozen=True, kw_only=True):
    account_code: str
    account_name: str
    account_type: str
    is_header: bool
    depth: int
    currency: str
    opening_debit: Decimal
    opening_credit: Decimal
    period_debit: Decimal
    period_credit: Decimal
    closing_debit: Decimal
    closing_credit: Decimal

    @property
    def is_zero(self) -> bool:
        return not any((self.opening_debit, self.opening_credit, self.period_debit, self.period_credit,
                        self.closing_debit, self.closing_credit))


class TrialBalanceTotal(msgspec.Struct, frozen=True, kw_only=True):
    """Sums over the detail accounts of one currency; each pair of columns must be equal."""

    currency: str
    opening_debit: Decimal
    opening_credit: Decimal
    period_debit: Decimal
    period_credit: Decimal
    closing_debit: Decimal
    closing_credit: Decimal
    balanced: bool


class TrialBalance(msgspec.Struct, frozen=True, kw_only=True):
    rows: list[TrialBalanceRow]
    totals: list[TrialBalanceTotal]


class _Sums:
    """Debit-positive opening balance and period movements of one (account, currency)."""

    __slots__ = ("credit", "debit", "opening")

    def __init__(self) -> None:
        self.opening = ZERO
        self.debit = ZERO
        self.credit = ZERO

    def add(self, other: _Sums) -> None:
        self.opening += other.opening
        self.debit += other.debit
        self.credit += other.credit

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debit - self.credit


def build_trial_balance(
    tree: ChartTree,
    opening: Iterable[Totals],
    period: Iterable[Totals],
    *,
    currencies: Iterable[str] = (),
    show_zero: bool = False,
) -> TrialBalance:
    """Rows in chart order (headers before their children) and totals per currency.

    `opening` are the totals of the lines before the period, `period` those within it.
    With `show_zero`, every account appears in every currency of the report (and in
    `currencies`), even with nothing to show; otherwise only accounts with a balance or a
    movement appear.
    """
    detail: dict[tuple[int, str], _Sums] = defaultdict(_Sums)
    for totals in opening:
        detail[(totals.account_id, totals.currency)].opening += totals.debit_total - totals.credit_total
    for totals in period:
        sums = detail[(totals.account_id, totals.currency)]
        sums.debit += totals.debit_total
        sums.credit += totals.credit_total
    rolled: dict[tuple[int, str], _Sums] = defaultdict(_Sums)
    for (account_id, currency), sums in detail.items():
        assert account_id in tree.by_id, f"lines on account {account_id} missing from the chart"
        for target in (account_id, *tree.ancestors(account_id)):
            rolled[(target, currency)].add(sums)
    report_currencies = sorted({currency for _account, currency in rolled} | set(currencies))
    rows: list[TrialBalanceRow] = []
    for currency in report_currencies:
        for account in tree.in_order():
            found = rolled.get((account.account_id, currency))
            if found is None and not show_zero:
                continue
            row = _row(account, tree.depth(account.account_id), currency, found or _Sums())
            if show_zero or not row.is_zero:
                rows.append(row)
    return TrialBalance(rows=rows, totals=[_total(currency, rows) for currency in report_currencies])


def _split(balance: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(debit column, credit column) of a debit-positive balance."""
    return _amount(max(balance, ZERO), currency), _amount(max(-balance, ZERO), currency)


def _amount(value: Decimal, currency: str) -> Decimal:
    return normalize_amount(value, currency) + 0  # never a negative zero


def _row(account: ReportAccount, depth: int, currency: str, sums: _Sums) -> TrialBalanceRow:
    opening_debit, opening_credit = _split(sums.opening, currency)
    closing_debit, closing_credit = _split(sums.closing, currency)
    return TrialBalanceRow(
        account_code=account.code, account_name=account.name, account_type=account.type.value,
        is_header=account.is_header, depth=depth, currency=currency,
        opening_debit=opening_debit, opening_credit=opening_credit,
        period_debit=_amount(sums.debit, currency), period_credit=_amount(sums.credit, currency),
        closing_debit=closing_debit, closing_credit=closing_credit,
    )


def _total(currency: str, rows: list[TrialBalanceRow]) -> TrialBalanceTotal:
    mine = [row for row in rows if row.currency == currency and not row.is_header]
    columns = [sum((getattr(r, name) for r in mine), _amount(ZERO, currency)) for name in _COLUMNS]
    pairs = zip(columns[::2], columns[1::2], strict=True)
    return TrialBalanceTotal(currency=currency, **dict(zip(_COLUMNS, columns, strict=True)),
                             balanced=all(debit == credit for debit, credit in pairs))


_COLUMNS = ("opening_debit", "opening_credit", "period_debit", "period_credit", "closing_debit", "closing_credit")
