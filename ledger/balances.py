"""Balances are folds over lines. The database keeps a cache of these folds; `verify`
recomputes it from the lines, and the property tests compare both."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from ledger.model import JournalEntry, Side


class AccountTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Sum of debits and of credits on one account in one currency."""

    debit_total: Decimal = Decimal(0)
    credit_total: Decimal = Decimal(0)

    def plus(self, side: Side, amount: Decimal) -> AccountTotals:
        if side is Side.DEBIT:
            return AccountTotals(debit_total=self.debit_total + amount, credit_total=self.credit_total)
        return AccountTotals(debit_total=self.debit_total, credit_total=self.credit_total + amount)

    def balance_on(self, normal_side: Side) -> Decimal:
        """Signed balance on the account's normal side (positive = normal balance)."""
        difference = self.debit_total - self.credit_total
        return difference if normal_side is Side.DEBIT else -difference


TotalsKey = tuple[str, str]
"""(account_code, currency)."""


def fold_totals(entries: Iterable[JournalEntry]) -> dict[TotalsKey, AccountTotals]:
    """Totals per account and currency over the given entries."""
    totals: dict[TotalsKey, AccountTotals] = defaultdict(AccountTotals)
    for entry in entries:
        for line in entry.lines:
            key = (line.account_code, line.currency)
            totals[key] = totals[key].plus(line.side, line.amount)
    return dict(totals)


def trial_balance_is_even(totals: dict[TotalsKey, AccountTotals]) -> bool:
    """Per currency, the sum of all debits equals the sum of all credits."""
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    for (_account, currency), account_totals in totals.items():
        per_currency[currency] += account_totals.debit_total - account_totals.credit_total
    return all(difference == 0 for difference in per_currency.values())
