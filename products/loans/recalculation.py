"""Interest recalculation (seed 001 "recalcul des intérêts"): declining-balance interest on the
principal actually outstanding, so that paying early lowers the interest and paying late
raises it. Pure: no I/O, no clock; `Decimal` only, in the schedule engine's context.

The loan keeps its due dates and its principal plan (the principal part of each instalment
in the schedule generated from its terms). What changes is the interest of each period: it
is computed day by day on the balance outstanding, that is the tranches disbursed less the
principal repaid, with the schedule engine's own period rates (`interest.PeriodRates`: day
count, days in year, interest-free days, grace on interest charged), so that a loan repaid
exactly on its due dates has exactly its original schedule.

When a principal repayment starts lowering that balance is the product's recalculation
frequency (Fineract's "rest frequency"): ``daily`` from the day it is paid; ``weekly`` or
``monthly`` from the next boundary counted from the disbursement date in weeks or months.
A due date (the end of an interest period) is always a boundary, so a payment made on or
before its due date is never late; a payment on a due date moved by the holiday rule counts
as made on the nominal date. Principal still owed is assumed, for what has not happened
yet, to be paid on its due date, or "now" when it is already overdue (so an overdue
instalment makes the next one's interest grow each day it stays unpaid).

A payment made during a period pays the interest *locked* so far: the interest of the
period up to the day its own principal would start counting. Later payments can only lower
the balance after that day, so interest already paid is never more than the interest owed
(and, as a guard for waivers and holiday windows, an instalment's interest, fee or VAT is
never recalculated below what was already paid or waived on it: no refund by recalculation).
Future instalments ask only for principal: paying ahead repays principal of the next
instalments, oldest first, and lowers the interest of the periods after it.

Paying the loan off early (pre-closure) owes interest to the payoff date (``to_date``) or to
the next rest boundary (``to_rest_date``), the product's pre-closure rule. Fees of
instalments that have no principal outstanding in their whole period (after a payoff) are
no longer asked.
"""

from __future__ import annotations

import bisect
import decimal
import itertools
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec

from products.loans.allocation import AllocationLine
from products.loans.calendar import add_months, adjusted_due_dates, nominal_due_dates
from products.loans.fees import vat_on
from products.loans.interest import PeriodRates
from products.loans.model import Instalment, Schedule, ScheduleTotals
from products.loans.product import InterestRecalculation, PreClosureInterest, RecalculationFrequency
from products.loans.schedule import SCHEDULE_CONTEXT
from products.loans.terms import InterestCalculationPeriod, LoanTerms
from products.posting_rules import Component
from products.rounding import Rounder, compile_rounding

_ZERO: Final = Decimal(0)
_WEEK: Final = timedelta(days=7)
BOUNDARY_SEARCH_MAX: Final = 1200
"""Rest boundaries searched forward from the disbursement (100 years of months)."""


class PrincipalRepaid(msgspec.Struct, frozen=True, kw_only=True):
    """Principal a standing repayment paid, on its value date."""

    value_date: date
    amount: Decimal


class _Calendar:
    """The loan's interest periods and rest boundaries, computed once per schedule."""

    __slots__ = ("due_dates", "ends", "interest_dates", "rates", "rounder", "settings", "terms")

    def __init__(self, terms: LoanTerms, base: Schedule, settings: InterestRecalculation) -> None:
        self.terms = terms
        self.settings = settings
        nominal = nominal_due_dates(terms)
        moved = adjusted_due_dates(terms, nominal)
        daily = terms.interest_calculation_period is InterestCalculationPeriod.DAILY
        self.interest_dates = [terms.disbursement_date, *(moved if daily else nominal)]
        self.rates = PeriodRates(terms, self.interest_dates)
        self.rounder: Rounder = compile_rounding(terms.rounding, terms.currency_code)
        count = len(base.instalments)
        self.due_dates = [row.due_date for row in base.instalments]
        self.ends = self.interest_dates[1:count + 1]
        assert len(self.ends) == count, (len(self.ends), count)

    def _grid_boundary(self, day: date) -> date:
        """The first rest boundary on or after ``day``."""
        frequency = self.settings.frequency
        if frequency is RecalculationFrequency.DAILY:
            return day
        start = self.terms.disbursement_date
        if day <= start:
            return start
        if frequency is RecalculationFrequency.WEEKLY:
            weeks = -(-(day - start).days // 7)
            return start + _WEEK * weeks
        assert frequency is RecalculationFrequency.MONTHLY, frequency
        months = (day.year - start.year) * 12 + day.month - start.month
        for step in range(max(months - 1, 0), months + 2):
            boundary = add_months(start, step)
            if boundary >= day:
                return boundary
        raise AssertionError(day)  # pragma: no cover: add_months(start, months + 1) is after day

    def effective(self, day: date, *, closing: bool) -> date:
        """From when principal paid on ``day`` stops earning interest."""
        for end, due in zip(self.ends, self.due_dates, strict=True):
            if min(end, due) <= day <= max(end, due) and end != due:
                return end  # paid on a due date moved by the holiday rule: on time
        if closing and self.settings.pre_closure_interest is PreClosureInterest.TO_DATE:
            return day
        index = bisect.bisect_left(self.ends, day)
        period_end = self.ends[index] if index < len(self.ends) else None
        boundary = self._grid_boundary(day)
        return min(boundary, period_end) if period_end is not None else boundary


class _Balance:
    """Principal outstanding as a step function of the date."""

    __slots__ = ("days", "levels")

    def __init__(self, movements: Iterable[tuple[date, Decimal]]) -> None:
        by_day: dict[date, Decimal] = {}
        for day, delta in movements:
            by_day[day] = by_day.get(day, _ZERO) + delta
        self.days = sorted(by_day)
        level = _ZERO
        self.levels: list[Decimal] = []
        for day in self.days:
            level += by_day[day]
            self.levels.append(level)

    def at(self, day: date) -> Decimal:
        index = bisect.bisect_right(self.days, day)
        return self.levels[index - 1] if index else _ZERO

    def changes_between(self, start: date, end: date) -> list[date]:
        low = bisect.bisect_right(self.days, start)
        high = bisect.bisect_left(self.days, end)
        return self.days[low:high]


def _interest_exact(calendar: _Calendar, balance: _Balance, index: int, until: date) -> Decimal:
    """Interest of period ``index`` from its start up to ``until`` on the balance, unrounded."""
    start = calendar.interest_dates[index]
    if until <= start:
        return _ZERO
    rates = calendar.rates
    points = [start, *balance.changes_between(start, until), until]
    total = _ZERO
    for left, right in itertools.pairwise(points):
        level = balance.at(left)
        assert level >= 0, (left, level)
        if level:
            total += level * (rates.rate_from(index, left) - rates.rate_from(index, right))
    return total


def _settled_by_key(settled: Iterable[AllocationLine]) -> dict[tuple[int, Component], Decimal]:
    totals: dict[tuple[int, Component], Decimal] = {}
    for line in settled:
        key = (line.instalment, line.component)
        totals[key] = totals.get(key, _ZERO) + line.amount
    return totals


def _balance(calendar: _Calendar, base: Schedule, repaid: Sequence[PrincipalRepaid],
             principal_paid: dict[int, Decimal], on: date, closing_at: date | None) -> _Balance:
    """Tranches in, principal repaid out from when it counts, and the principal still owed
    out on its due date (or from ``on`` when overdue)."""
    movements: list[tuple[date, Decimal]] = [(d.disbursement_date, d.amount) for d in base.disbursements]
    total = base.totals.principal_amount
    payments = sorted(repaid, key=lambda p: p.value_date)
    repaid_total = sum((p.amount for p in payments), _ZERO)
    assert repaid_total <= total, (repaid_total, total)
    closed_from = None  # once paid off, nothing earns interest from the pre-closure date on
    if closing_at is not None:
        closed_from = calendar.effective(closing_at, closing=True)
    elif payments and repaid_total == total:
        closed_from = calendar.effective(payments[-1].value_date, closing=True)
    for payment in payments:
        effective = calendar.effective(payment.value_date, closing=False)
        movements.append((min(effective, closed_from) if closed_from else effective, -payment.amount))
    if closed_from is not None:
        if repaid_total < total:
            movements.append((closed_from, -(total - repaid_total)))
        return _Balance(movements)
    overdue_from = calendar.effective(on, closing=False)
    for row, end in zip(base.instalments, calendar.ends, strict=True):
        unpaid = row.principal_amount - principal_paid.get(row.number, _ZERO)
        assert unpaid >= 0, (row.number, unpaid)
        if unpaid:
            movements.append((end if row.due_date >= on else max(overdue_from, end), -unpaid))
    return _Balance(movements)


def _recalculate(terms: LoanTerms, base: Schedule, settings: InterestRecalculation,
                 repaid: Sequence[PrincipalRepaid], settled: Iterable[AllocationLine], on: date,
                 payment_on: date | None, closing: bool) -> Schedule:
    calendar = _Calendar(terms, base, settings)
    rounder = calendar.rounder
    zero = rounder.zero()
    settled_totals = _settled_by_key(settled)
    principal_paid = {number: amount for (number, component), amount in settled_totals.items()
                      if component is Component.PRINCIPAL}
    balance = _balance(calendar, base, repaid, principal_paid, on, on if closing else None)
    current = None
    lock_until = None
    if payment_on is not None:
        current = next((k for k, row in enumerate(base.instalments) if row.due_date > payment_on), None)
        if current is not None:
            start = calendar.interest_dates[current]
            lock_until = max(start, min(calendar.effective(payment_on, closing=closing), calendar.ends[current]))
    vat_percent = terms.vat_on_interest_percent
    grace = terms.grace_on_interest_payment_periods
    last = len(base.instalments) - 1
    deferred = zero
    instalments: list[Instalment] = []
    for index, row in enumerate(base.instalments):
        future = current is not None and index > current
        until = lock_until if (current is not None and index == current) else calendar.ends[index]
        assert until is not None
        interest = zero if future else rounder.round(_interest_exact(calendar, balance, index, until))
        if index < grace:
            deferred += interest
            interest = zero
        else:
            interest += deferred
            deferred = zero
        if index == last:
            interest += deferred
        start, end = calendar.interest_dates[index], calendar.ends[index]
        idle = (row.principal_amount == principal_paid.get(row.number, _ZERO)
                and balance.at(start) == 0 and not balance.changes_between(start, end))
        fee = zero if (future or idle) else row.fee_amount
        fee_vat = zero if (future or idle) else row.vat_amount - _vat(row.interest_amount, vat_percent, rounder)

        def kept(component: Component, amount: Decimal, number: int = row.number) -> Decimal:
            return max(amount, settled_totals.get((number, component), zero))

        interest = kept(Component.INTEREST, interest)
        fee = kept(Component.FEE, fee)
        vat = kept(Component.VAT, _vat(interest, vat_percent, rounder) + fee_vat)
        instalments.append(msgspec.structs.replace(
            row, interest_amount=interest, fee_amount=fee, vat_amount=vat,
            total_amount=row.principal_amount + interest + fee + vat))
    upfront_fee = sum((d.fee_amount for d in base.disbursements), zero)
    upfront_vat = sum((d.vat_amount for d in base.disbursements), zero)
    interest_total = sum((row.interest_amount for row in instalments), zero)
    fee_total = sum((row.fee_amount for row in instalments), zero) + upfront_fee
    vat_total = sum((row.vat_amount for row in instalments), zero) + upfront_vat
    totals = ScheduleTotals(
        principal_amount=base.totals.principal_amount, interest_amount=interest_total, fee_amount=fee_total,
        vat_amount=vat_total, repayment_amount=sum((row.total_amount for row in instalments), zero),
        cost_of_credit_amount=interest_total + fee_total + vat_total)
    return msgspec.structs.replace(base, instalments=tuple(instalments), totals=totals)


def _vat(amount: Decimal, percent: Decimal, rounder: Rounder) -> Decimal:
    return vat_on(amount, percent, rounder) if percent else rounder.zero()


def recalculated_schedule(terms: LoanTerms, base: Schedule, settings: InterestRecalculation,
                          repaid: Sequence[PrincipalRepaid], settled: Iterable[AllocationLine],
                          on: date) -> Schedule:
    """The schedule as it stands on ``on``: interest of every period on the balance actually
    outstanding (principal still owed assumed paid on its due date, or on ``on`` when
    overdue). ``base`` is the schedule the terms generate; ``repaid`` the principal of each
    standing repayment; ``settled`` the allocation lines of repayments and waivers."""
    with decimal.localcontext(SCHEDULE_CONTEXT):
        return _recalculate(terms, base, settings, repaid, settled, on, None, closing=False)


def payable_schedule(terms: LoanTerms, base: Schedule, settings: InterestRecalculation,
                     repaid: Sequence[PrincipalRepaid], settled: Iterable[AllocationLine],
                     on: date, *, closing: bool) -> Schedule:
    """What a payment on ``on`` may settle: instalments due by then in full; the current one
    with its interest locked so far (``closing``: to the payoff date or rest date, the
    product's pre-closure rule); the later ones their principal only."""
    with decimal.localcontext(SCHEDULE_CONTEXT):
        return _recalculate(terms, base, settings, repaid, settled, on, on, closing=closing)
