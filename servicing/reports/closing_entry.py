"""The year-end closing entry of one office. Pure.

Every income and expense account's balance at the year's last day is moved to the
retained-earnings account: a credit balance (income) is debited, a debit balance
(expense) is credited, and the difference, the year's result, is credited to retained
earnings when it is a profit or debited when it is a loss. One entry holds every currency
(each balances on its own), so the income statement's net result and the movement on
retained earnings are equal by construction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final

from ledger.model import Line, Side
from ledger.money import normalize_amount
from servicing.reports.chart_tree import Totals

ZERO: Final = Decimal(0)
SOURCE_TYPE: Final = "year_end_close"


def closing_lines(
    balances: Iterable[Totals], codes: Mapping[int, str], retained_earnings_code: str
) -> tuple[Line, ...]:
    """Lines zeroing the given income and expense totals into retained earnings.

    `balances` are one office's totals through the year's last day, income and expense
    accounts only; `codes` maps their account ids to codes. Accounts already at zero get no
    line; no balance at all gives no lines (nothing to close).
    """
    lines: list[Line] = []
    result_debit_positive: dict[str, Decimal] = defaultdict(Decimal)
    for totals in sorted(balances, key=lambda t: (t.currency, codes[t.account_id])):
        balance = normalize_amount(totals.debit_total - totals.credit_total, totals.currency)
        if balance == 0:
            continue
        side = Side.CREDIT if balance > 0 else Side.DEBIT
        lines.append(Line(account_code=codes[totals.account_id], side=side, amount=abs(balance),
                          currency=totals.currency))
        result_debit_positive[totals.currency] += balance
    for currency, result in sorted(result_debit_positive.items()):
        if result != 0:
            side = Side.DEBIT if result > 0 else Side.CREDIT
            lines.append(Line(account_code=retained_earnings_code, side=side, amount=abs(result), currency=currency))
    assert len(lines) != 1, "a closing entry has no lines or at least two"
    return tuple(lines)
