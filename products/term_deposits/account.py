"""From a term-deposit product (catalogue settings) to the terms frozen on one account, and
the interest of its periods that fall due by a date. Pure: no I/O, no clock, Decimal only.

The product says the bounds, the rate chart and incentives, the interest settings and the
rounding; the account freezes the principal, the term, the rate found on the opening date and
the product version. The calculation itself is `products.deposits.term_deposit` (maturity,
projection, premature closure, maturity instruction): this module only maps one onto the
other, so a product change never alters an account already opened.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec

from products.deposits.balances import AccountTransaction, TransactionKind
from products.deposits.interest import (
    BalanceSegment,
    CalculationMethod,
    InterestCarry,
    PeriodInterest,
    credit_interest_of_constant_balance,
    interest_for_period,
    is_single_window,
    project_interest,
    withholding_tax,
)
from products.deposits.periods import (
    POSTING_MONTHS,
    CompoundingPeriod,
    DaysInYear,
    Period,
    PostingPeriod,
    days_in_year_on,
    period_containing,
)
from products.deposits.term import MonthEndRule, Term, TermUnit, maturity_date
from products.deposits.term_deposit import (
    PenaltyBasis,
    PrematureClosurePenalty,
    TermDepositTerms,
    interest_settings,
    project_term_deposit,
)
from products.rounding import Rounding, compile_rounding
from products.term_deposits.product import TermDepositProduct, TermLength

_ONE_DAY: Final = timedelta(days=1)
_ZERO: Final = Decimal(0)


def core_term(length: TermLength) -> Term:
    """A catalogue term length as the calculation's term (same units, same count)."""
    return Term(count=length.count, unit=TermUnit(length.unit.value))


def account_terms(product: TermDepositProduct, *, principal: Decimal, activated_on: date, term: TermLength,
                  rate_percent: Decimal, withholding_tax_percent: Decimal = Decimal(0)) -> TermDepositTerms:
    """The terms frozen on an account: the product's interest settings and rounding, the
    account's principal, term and rate. Interest periods run from the activation date
    (monthly on each monthly anniversary), as a term deposit's do."""
    interest = product.interest
    return TermDepositTerms(
        principal=principal,
        currency=product.currency,
        activated_on=activated_on,
        term=core_term(term),
        rate_annual_percent=rate_percent,
        method=CalculationMethod(interest.balance_method.value),
        days_in_year=DaysInYear(interest.days_in_year.value),
        compounding=CompoundingPeriod(interest.compounding_period.value),
        posting=PostingPeriod(interest.posting_period.value),
        periods_from_activation=True,
        rounding=Rounding(decimals=product.decimals, in_multiples_of=None),
        withholding_tax_percent=withholding_tax_percent,
    )


def lock_in(product: TermDepositProduct) -> Term | None:
    """The product's lock-in ("période de blocage"), none when absent or zero."""
    if product.lock_in is None or product.lock_in.count == 0:
        return None
    return core_term(product.lock_in)


def closure_penalty(product: TermDepositProduct) -> PrematureClosurePenalty | None:
    penalty = product.premature_closure_penalty
    if penalty is None:
        return None
    return PrematureClosurePenalty(rate_percent=penalty.rate_percent, basis=PenaltyBasis(penalty.basis.value))


class DueInterest(msgspec.Struct, frozen=True, kw_only=True):
    """One posting period's interest, due on ``period_end`` (its last day, the entry's value date)."""

    period_start: date
    period_end: date
    amount: Decimal


def interest_due(terms: TermDepositTerms, *, through: date, posted: Collection[date]) -> list[DueInterest]:
    """Interest of every posting period ending on or before ``through`` and not yet posted
    (``posted``: the period ends already posted). The periods are those of the whole term;
    the last one ends the day before maturity. A zero amount (0 % rate) is not due.

    Only the periods completed by ``through`` are computed: a period's interest depends on the
    periods before it (balance, rounding carry), never on those after, so projecting up to the
    last completed period gives the same amounts as projecting the whole term, at a fraction
    of the cost early in the term (checked against the whole-term projection by a property)."""
    window_end = completed_through(terms, through)
    if window_end is None:
        return []
    principal = AccountTransaction(kind=TransactionKind.DEPOSIT, amount=terms.principal, value_date=terms.activated_on)
    detail = project_interest([principal], interest_settings(terms),
                              Period(first_day=terms.activated_on, last_day=window_end),
                              pay_out_interest=terms.interest_paid_out,
                              withholding_tax_percent=terms.withholding_tax_percent)
    due = []
    for period in detail.periods:
        end = period.period.last_day
        if end <= through and end not in posted and period.earned_posted > 0:
            due.append(DueInterest(period_start=period.period.first_day, period_end=end, amount=period.earned_posted))
    return due


def all_periods(terms: TermDepositTerms) -> tuple[PeriodInterest, ...]:
    return project_term_deposit(terms).interest_detail.periods


def completed_through(terms: TermDepositTerms, through: date) -> date | None:
    """The last day of the last posting period that has ended by ``through`` (the day before
    maturity at most), or None when none has."""
    last_day = maturity_date(terms.activated_on, terms.term, terms.month_end_rule) - _ONE_DAY
    if through >= last_day:
        return last_day
    months = POSTING_MONTHS[terms.posting]
    if months is None or through < terms.activated_on:
        return None
    anchor = terms.activated_on if terms.periods_from_activation else None
    containing = period_containing(through, months, anchor)
    end = through if containing.last_day == through else containing.first_day - _ONE_DAY
    return end if end >= terms.activated_on else None


class PostingState(msgspec.Struct, frozen=True, kw_only=True):
    """Where the current term's interest stands after its last posting.

    ``posted_through``: the last day of the last posting period posted (None: none yet);
    ``balance``: the principal plus the net interest credited in the term (what earns);
    ``carry``: the rounding carry of the last posting (`PeriodInterest.carry_out`).
    """

    posted_through: date | None
    balance: Decimal
    carry: InterestCarry = msgspec.field(default_factory=InterestCarry)


class Posting(msgspec.Struct, frozen=True, kw_only=True):
    """One posting period's interest as the run books it: gross, tax withheld, net credited,
    and the state after it (kept with the transaction, so the next period needs no history)."""

    period: Period
    gross: Decimal
    tax: Decimal
    net: Decimal
    after: PostingState


def postings_due(terms: TermDepositTerms, state: PostingState, *, through: date,
                 tax_percent_on: Callable[[date], Decimal] | None = None) -> list[Posting]:
    """The interest of every posting period after ``state`` ending on or before ``through``
    (the last ends the day before maturity), in closed form: see `TermSchedule.postings_due`."""
    return TermSchedule(terms).postings_due(state, through=through, tax_percent_on=tax_percent_on)


class TermSchedule:
    """A term's settings compiled once for many posting computations (a run shares one between
    every deposit of the same product version, rate, start and term: the principal is not used,
    ``state.balance`` is what earns)."""

    __slots__ = ("_windows", "anchor", "last_day", "months", "rounder", "settings", "terms")

    def __init__(self, terms: TermDepositTerms) -> None:
        self.terms = terms
        self.settings = interest_settings(terms)
        self.rounder = _rounder(terms.rounding, terms.currency)
        self.last_day = _last_day(terms.activated_on, terms.term, terms.month_end_rule)
        self.months = POSTING_MONTHS[terms.posting]
        self.anchor = terms.activated_on if terms.periods_from_activation else None
        self._windows: dict[tuple[date, date], tuple[Decimal, int] | None] = {}

    def _window(self, period: Period) -> tuple[Decimal, int] | None:
        """(rate, days in the year) when the period is one compounding window at one rate
        (`is_single_window`), else None."""
        key = (period.first_day, period.last_day)
        if key not in self._windows:
            settings = self.settings
            self._windows[key] = (
                (settings.rate.rate_on(period.first_day), days_in_year_on(period.first_day, settings.days_in_year))
                if is_single_window(settings, period) else None)
        return self._windows[key]

    def postings_due(self, state: PostingState, *, through: date,
                     tax_percent_on: Callable[[date], Decimal] | None = None) -> list[Posting]:
        """The interest of every posting period after ``state`` ending on or before ``through``
        (the last ends the day before maturity).

        Between postings a term deposit's balance is constant, so a period's interest depends
        only on the balance, the carry and the period: one multiplication when the period is a
        single compounding window (compounding at the posting period), otherwise the core's
        per-window walk over one balance segment. Same amounts as the day-by-day projection
        (`interest_due`) from the activation, which a property test checks; a run calls this
        once per deposit instead of replaying the term. ``tax_percent_on(period_end)`` is the
        withholding tax in force on the posting's value date (default: the terms' own percent);
        the tax leaves the deposit with the posting, so the next period earns on the net.
        """
        terms, rounder, last_day, months = self.terms, self.rounder, self.last_day, self.months
        first = terms.activated_on if state.posted_through is None else state.posted_through + _ONE_DAY
        balance, carry = state.balance, state.carry
        postings: list[Posting] = []
        while first <= last_day:
            end = last_day if months is None else min(_period_end(first, months, self.anchor), last_day)
            if end > through:
                break
            period = Period(first_day=first, last_day=end)
            window = self._window(period)
            if window is not None:
                _exact, gross, carried = credit_interest_of_constant_balance(
                    balance, period.days, rate_percent=window[0], year_days=window[1],
                    carry_earned=carry.earned, rounder=rounder)
                carry = InterestCarry(earned=carried)
            else:
                result = interest_for_period((BalanceSegment(first_day=first, last_day=end, balance=balance),),
                                             self.settings, period, carry)
                gross, carry = result.earned_posted, result.carry_out
            percent = terms.withholding_tax_percent if tax_percent_on is None else tax_percent_on(end)
            tax = withholding_tax(gross, percent, rounder) if percent else rounder.zero()
            balance = balance + gross - tax
            state = PostingState(posted_through=end, balance=balance, carry=carry)
            postings.append(Posting(period=period, gross=gross, tax=tax, net=gross - tax, after=state))
            first = end + _ONE_DAY
        return postings


# A run over 100,000 deposits meets a few hundred distinct dates and settings: remembered.
_rounder: Final = functools.lru_cache(maxsize=256)(compile_rounding)


@functools.lru_cache(maxsize=16_384)
def _last_day(activated_on: date, term: Term, rule: MonthEndRule) -> date:
    return maturity_date(activated_on, term, rule) - _ONE_DAY


@functools.lru_cache(maxsize=16_384)
def _period_end(first: date, months: int, anchor: date | None) -> date:
    return period_containing(first, months, anchor).last_day
