"""What a schedule is: immutable rows and totals, in the product's rounding.

Amounts are `Decimal`s already rounded the product's way; a row's total is the exact sum
of its parts, and the totals are exact sums of the rows, so nothing is rounded twice.
"""

from datetime import date
from decimal import Decimal

import msgspec

from products.loans.terms import FeeKind, FeeTrigger


class FeeCharge(msgspec.Struct, frozen=True, kw_only=True):
    """One fee falling due: on the disbursement (``instalment_number`` 0) or an instalment."""

    name: str
    kind: FeeKind
    trigger: FeeTrigger
    instalment_number: int
    due_date: date
    amount: Decimal
    vat_amount: Decimal


class Disbursement(msgspec.Struct, frozen=True, kw_only=True):
    """Money paid out to the borrower on a date, with the upfront fees due that day."""

    disbursement_date: date
    amount: Decimal
    fee_amount: Decimal
    vat_amount: Decimal


class Instalment(msgspec.Struct, frozen=True, kw_only=True):
    """One repayment: what is due on ``due_date`` and the principal left after it.

    ``interest_amount`` is the interest payable with this instalment (it includes interest
    deferred by a grace on interest payment); ``balance_amount`` is principal outstanding
    once this instalment is paid.
    """

    number: int
    from_date: date
    due_date: date
    days: int
    principal_amount: Decimal
    interest_amount: Decimal
    fee_amount: Decimal
    vat_amount: Decimal
    total_amount: Decimal
    balance_amount: Decimal


class ScheduleTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Sums over the schedule.

    ``cost_of_credit_amount`` is everything the borrower pays beyond the principal:
    interest, fees (upfront and in instalments) and VAT.
    """

    principal_amount: Decimal
    interest_amount: Decimal
    fee_amount: Decimal
    vat_amount: Decimal
    repayment_amount: Decimal
    cost_of_credit_amount: Decimal


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """A full repayment schedule for one set of `LoanTerms`."""

    currency_code: str
    disbursements: tuple[Disbursement, ...]
    instalments: tuple[Instalment, ...]
    fee_charges: tuple[FeeCharge, ...]
    totals: ScheduleTotals
