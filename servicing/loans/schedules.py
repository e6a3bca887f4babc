"""The schedule a loan's money movements use, derived from its transactions.

For most products it is the schedule kept on the loan (generated at disbursement, and again
at each tranche). For a product with interest recalculation it is that loan's schedule with
each period's interest recomputed on the principal actually outstanding
(`products.loans.recalculation`): the schedule shown, the dues a repayment settles and the
payoff quote all come from here. Pure functions over the loan's rows: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from products.loans.allocation import AllocationLine, Due
from products.loans.model import Schedule
from products.loans.position import remaining_dues
from products.loans.product import LoanProduct
from products.loans.recalculation import PrincipalRepaid, payable_schedule, recalculated_schedule
from products.loans.schedule import generate_schedule
from products.loans.terms import LoanTerms
from products.loans.tranches import DisbursedTranche, tranche_terms
from servicing.loans.db.tables import LoanTransactionRow


class Standing(msgspec.Struct, frozen=True, kw_only=True):
    """What a loan's transactions that stand (not reversed) amount to."""

    tranches: tuple[DisbursedTranche, ...]
    repaid: tuple[PrincipalRepaid, ...]
    settled: tuple[AllocationLine, ...]
    charged: tuple[AllocationLine, ...]
    last_value_date: date | None
    """Of the transactions that stand: a disbursement undone may be made again at an earlier date."""


def plain(value: Decimal) -> Decimal:
    """A stored amount (numeric(22, 4)) without its trailing zeros: 200000.0000 -> 200000."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def not_reversed(history: Sequence[Any], *kinds: str) -> list[Any]:
    """The transactions of ``kinds`` (of every kind when none is named) that no reversal took back,
    in history order. ``history``: rows with kind, id and reverses_transaction_id."""
    reversed_ids = {row.reverses_transaction_id for row in history if row.reverses_transaction_id is not None}
    return [row for row in history if row.id not in reversed_ids and (not kinds or row.kind in kinds)]


def standing(history: Sequence[LoanTransactionRow]) -> Standing:
    reversed_ids = {row.reverses_transaction_id for row in history if row.reverses_transaction_id is not None}
    kept = [row for row in history if row.id not in reversed_ids and row.reverses_transaction_id is None]

    def lines(*kinds: str) -> tuple[AllocationLine, ...]:
        return tuple(line for row in kept if row.kind in kinds
                     for line in msgspec.convert(row.allocation, list[AllocationLine]))

    return Standing(
        tranches=tuple(DisbursedTranche(value_date=row.value_date, amount=plain(row.principal))
                       for row in kept if row.kind == "disbursement"),
        repaid=tuple(PrincipalRepaid(value_date=row.value_date, amount=plain(row.principal))
                     for row in kept if row.kind == "repayment" and row.principal > 0),
        settled=lines("repayment", "waiver"), charged=lines("charge"),
        last_value_date=max((row.value_date for row in kept), default=None))


def _base(terms: LoanTerms, stored: Schedule, facts: Standing) -> Schedule:
    """The schedule the loan's terms and tranches generate, showing the fees its tranches
    actually withheld (kept on the stored schedule)."""
    generated = generate_schedule(tranche_terms(terms, facts.tranches))
    return msgspec.structs.replace(generated, disbursements=stored.disbursements,
                                   fee_charges=stored.fee_charges)


def schedule_on(terms: LoanTerms, stored: Schedule, product: LoanProduct, history: Sequence[LoanTransactionRow],
                on: date) -> Schedule:
    """The loan's schedule as it stands on ``on`` (never before its last transaction)."""
    if not product.interest_recalculation:
        return stored
    facts = standing(history)
    day = max(on, facts.last_value_date) if facts.last_value_date else on
    return recalculated_schedule(tranche_terms(terms, facts.tranches), _base(terms, stored, facts),
                                 product.interest_recalculation_settings, facts.repaid, facts.settled, day)


def payable_dues(terms: LoanTerms, stored: Schedule, product: LoanProduct, history: Sequence[LoanTransactionRow],
                 on: date, amount: Decimal | None) -> tuple[Schedule, list[Due]]:
    """The schedule and the dues a payment of ``amount`` on ``on`` settles, for a product with
    interest recalculation: the pre-closure dues when it pays the loan off (``amount`` None:
    the payoff quote), else the dues locked so far."""
    assert product.interest_recalculation
    facts = standing(history)
    actual = tranche_terms(terms, facts.tranches)
    base = _base(terms, stored, facts)
    settings = product.interest_recalculation_settings
    closing = payable_schedule(actual, base, settings, facts.repaid, facts.settled, on, closing=True)
    closing_dues = remaining_dues(closing, facts.settled, facts.charged)
    if amount is None or amount >= sum((due.amount for due in closing_dues), Decimal(0)):
        return closing, closing_dues
    locked = payable_schedule(actual, base, settings, facts.repaid, facts.settled, on, closing=False)
    return locked, remaining_dues(locked, facts.settled, facts.charged)


def schedule_after(terms: LoanTerms, stored: Schedule, product: LoanProduct,
                   history: Sequence[LoanTransactionRow], on: date, principal: Decimal,
                   lines: Sequence[AllocationLine]) -> Schedule:
    """The recalculated schedule once a repayment of ``principal`` (allocated as ``lines``) on
    ``on`` is added to the history."""
    facts = standing(history)
    repaid = (*facts.repaid, PrincipalRepaid(value_date=on, amount=principal)) if principal > 0 else facts.repaid
    return recalculated_schedule(tranche_terms(terms, facts.tranches), _base(terms, stored, facts),
                                 product.interest_recalculation_settings, repaid, (*facts.settled, *lines), on)
