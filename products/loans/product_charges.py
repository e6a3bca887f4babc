"""The product's charges that the repayment schedule does not carry and that fall due by the
calendar: when each falls due on a loan, and for how much (with its VAT). Pure.

The schedule engine carries the charges whose amount is known when the schedule is made
(disbursement, tranche and instalment fees on the instalment's amount or interest:
`servicing.products.terms.fee_spec`). These are the others a loan pays without anyone adding
them by hand:

* an **instalment fee on the outstanding principal** (charge time ``instalment_fee``,
  calculation ``percent_of_outstanding_principal``): on each due date, a percentage of the
  principal still owed that day; the schedule cannot know it, since it depends on what the
  borrower has repaid;
* a **monthly** fee (``monthly``, on ``due_day``, clamped to the month's end) and an **annual**
  fee (``annual``, on ``due_month``/``due_day``): flat, or a percentage of the outstanding
  principal, each time the date comes while the loan runs (after its disbursement, up to its
  last due date).

Each occurrence is charged once, on the instalment whose period holds its date (the close of
business's ``loan_charges`` step, `servicing.loans.product_charges`). Penalties on overdue
instalments are the close of business's ``loan_penalties`` step, not this module.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

from products.reference.model import ChargeCalculation, ChargeTime
from products.reference.taxes import ChargeTax
from products.rounding import Rounding, round_amount

_HUNDRED: Final = Decimal(100)
CATCH_UP_DAYS_MAX: Final = 31
"""A run charges the occurrences of the last month at most: days the close of business missed
(a week-end, a stoppage) are caught up, a loan's whole past is not re-charged at once."""
AUTOMATIC_TIMES: Final = frozenset({ChargeTime.INSTALMENT_FEE, ChargeTime.MONTHLY, ChargeTime.ANNUAL})
OCCURRENCES_MAX: Final = 400
"""A loan of 30 years of monthly fees, with margin."""


class ProductCharge(msgspec.Struct, frozen=True, kw_only=True):
    """One charge of the product's catalogue (reference data), as much as the calendar needs."""

    charge_id: int
    name: str
    charge_time: ChargeTime
    calculation: ChargeCalculation
    amount: Decimal
    """A flat amount, or the percentage of the outstanding principal."""
    vat_percent: Decimal = Decimal(0)
    """The charge's tax rate (none, inactive or the institution exempt: 0), within its validity:"""
    vat_valid_from: date | None = None
    vat_valid_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    is_penalty: bool = False
    due_month: int | None = None
    due_day: int | None = None

    def vat_percent_on(self, day: date) -> Decimal:
        """The VAT percentage on an occurrence due on ``day`` (zero outside the rate's validity)."""
        return ChargeTax(rate_percent=self.vat_percent, valid_from=self.vat_valid_from,
                         valid_to=self.vat_valid_to).rate_on(day)


class ChargeOccurrence(msgspec.Struct, frozen=True, kw_only=True):
    """A product charge falling due on ``due_on``: what the loan owes for it."""

    charge_id: int
    due_on: date
    amount: Decimal
    vat_amount: Decimal

    @property
    def key(self) -> str:
        """The charge and its date: a loan is charged once per key (the charge's idempotency key)."""
        return f"product-charge:{self.charge_id}:{self.due_on.isoformat()}"


def is_automatic(charge: ProductCharge) -> bool:
    """Charged by the calendar: an instalment fee on the outstanding principal (the schedule
    carries the other instalment fees), a monthly or an annual fee."""
    if charge.charge_time is ChargeTime.INSTALMENT_FEE:
        return charge.calculation is ChargeCalculation.PERCENT_OF_OUTSTANDING_PRINCIPAL
    return charge.charge_time in AUTOMATIC_TIMES


def _on_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def due_dates(charge: ProductCharge, *, after: date, through: date, instalment_due_dates: Sequence[date]) -> list[date]:
    """The dates in (``after``, ``through``] on which the charge falls due."""
    assert is_automatic(charge), charge
    if through <= after:
        return []
    found: list[date]
    if charge.charge_time is ChargeTime.INSTALMENT_FEE:
        found = [d for d in instalment_due_dates if after < d <= through]
    elif charge.charge_time is ChargeTime.MONTHLY:
        assert charge.due_day is not None, charge
        found = []
        year, month = after.year, after.month
        while len(found) <= OCCURRENCES_MAX:
            day = _on_day(year, month, charge.due_day)
            if day > through:
                break
            if day > after:
                found.append(day)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    else:
        assert charge.due_month is not None and charge.due_day is not None, charge
        found = []
        for year in range(after.year, through.year + 1):
            day = _on_day(year, charge.due_month, charge.due_day)
            if after < day <= through:
                found.append(day)
    assert len(found) <= OCCURRENCES_MAX, (charge, after, through)
    return found


def charge_amount(charge: ProductCharge, *, outstanding_principal: Decimal, rounding: Rounding,
                  currency: str, due_on: date | None = None) -> tuple[Decimal, Decimal]:
    """The charge's amount (within its minimum and maximum) and its VAT at the rate in force on
    ``due_on`` (None: the rate whatever its validity), rounded the product's way."""
    if charge.calculation is ChargeCalculation.FLAT:
        amount = charge.amount
    else:
        assert charge.calculation is ChargeCalculation.PERCENT_OF_OUTSTANDING_PRINCIPAL, charge
        amount = round_amount(outstanding_principal * charge.amount / _HUNDRED, rounding, currency)
        if charge.amount_min is not None:
            amount = max(amount, charge.amount_min)
        if charge.amount_max is not None:
            amount = min(amount, charge.amount_max)
    vat_percent = charge.vat_percent if due_on is None else charge.vat_percent_on(due_on)
    return amount, vat_on_charge(amount, vat_percent, rounding, currency)


def vat_on_charge(amount: Decimal, vat_percent: Decimal, rounding: Rounding, currency: str) -> Decimal:
    """VAT (or TAF) on a charge already rounded, rounded the product's way; zero without a rate."""
    if vat_percent == 0 or amount == 0:
        return Decimal(0)
    return round_amount(amount * vat_percent / _HUNDRED, rounding, currency)


def occurrences_due(charges: Sequence[ProductCharge], *, disbursed_on: date, last_due_date: date, on: date,
                    instalment_due_dates: Sequence[date], outstanding_principal: Decimal,
                    rounding: Rounding, currency: str) -> list[ChargeOccurrence]:
    """The automatic charges a loan owes by ``on``: those falling due in the month before it
    (`CATCH_UP_DAYS_MAX`), after the disbursement and not after the last due date, in date
    order. A zero amount (nothing outstanding left to take a percentage of) is not charged."""
    after = max(disbursed_on, date.fromordinal(on.toordinal() - CATCH_UP_DAYS_MAX))
    through = min(on, last_due_date)
    found: list[ChargeOccurrence] = []
    for charge in charges:
        if not is_automatic(charge):
            continue
        for due_on in due_dates(charge, after=after, through=through, instalment_due_dates=instalment_due_dates):
            amount, vat = charge_amount(charge, outstanding_principal=outstanding_principal, rounding=rounding,
                                        currency=currency, due_on=due_on)
            if amount > 0:
                found.append(ChargeOccurrence(charge_id=charge.charge_id, due_on=due_on, amount=amount,
                                              vat_amount=vat))
    return sorted(found, key=lambda o: (o.due_on, o.charge_id))
