"""Mandatory savings as a rate of each instalment (seed 002 "épargne obligatoire" on the total
instalment): how much of the borrower's account should be held for each instalment. Pure.

A West-African MFI asks the borrower to save, with each instalment, a share of it (10 % of
the instalment is common in solidarity-group lending); the savings stay on the borrower's
account, blocked until the loan is repaid, and stand as a guarantee. The share follows what
the borrower actually paid: for each instalment, the rate of what the repayments allocated to
it (principal, interest, fees and their VAT: the instalment as the schedule asks it; penalties
and overpayments are not part of an instalment), rounded the product's way on the total paid
so partial payments add up to the same savings as one payment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final

import msgspec

from products.loans.allocation import AllocationLine
from products.loans.product import MandatorySavings, RateOrFlat
from products.posting_rules import Component
from products.rounding import Rounding, round_amount

_HUNDRED: Final = Decimal(100)
SAVED_ON: Final = frozenset({Component.PRINCIPAL, Component.INTEREST, Component.FEE, Component.VAT})
"""The components of an instalment whose payment carries savings."""


class SavingsChange(msgspec.Struct, frozen=True, kw_only=True):
    """What to hold more, per instalment, and the instalments whose holds exceed what they
    justify (a repayment reversed): release those and hold their target again."""

    to_hold: dict[int, Decimal]
    to_redo: dict[int, Decimal]


def saves_per_instalment(savings: MandatorySavings | None) -> bool:
    """The product saves a rate of each instalment (rather than an amount held upfront)."""
    return savings is not None and savings.basis is RateOrFlat.RATE and savings.on_total_instalment


def savings_targets(savings: MandatorySavings, paid: Iterable[AllocationLine], rounding: Rounding,
                    currency: str) -> dict[int, Decimal]:
    """The savings each instalment justifies: the rate of what was paid on it."""
    assert saves_per_instalment(savings), savings
    assert savings.rate_percent is not None
    per_instalment: dict[int, Decimal] = {}
    for line in paid:
        if line.component in SAVED_ON:
            per_instalment[line.instalment] = per_instalment.get(line.instalment, Decimal(0)) + line.amount
    targets = {number: round_amount(amount * savings.rate_percent / _HUNDRED, rounding, currency)
               for number, amount in sorted(per_instalment.items())}
    return {number: amount for number, amount in targets.items() if amount > 0}


def savings_change(targets: Mapping[int, Decimal], held: Mapping[int, Decimal]) -> SavingsChange:
    """Compare the targets with what is held per instalment."""
    to_hold: dict[int, Decimal] = {}
    to_redo: dict[int, Decimal] = {}
    for number in sorted(set(targets) | set(held)):
        target = targets.get(number, Decimal(0))
        already = held.get(number, Decimal(0))
        if target > already:
            to_hold[number] = target - already
        elif target < already:
            to_redo[number] = target
    return SavingsChange(to_hold=to_hold, to_redo=to_redo)
