"""Term deposits: projected interest, premature closure, maturity and renewal (seed 004).

A term deposit is a principal placed on its activation date for a term, at a rate frozen
when it opens. Interest follows `interest`: computed daily or on the average daily balance,
compounded and posted at the product's periods, counted from the activation date
(anniversary periods) unless the product uses calendar periods, and posted for the last
time on the day before maturity. Posted interest is credited to the deposit itself, so it
compounds, and the maturity amount is the principal plus everything posted, less withholding
tax; a deposit that pays its interest out at each posting keeps only the last one for maturity.

**Premature closure** (seed 004 "pénalités de retrait anticipé"). Refused before the end of
the lock-in ("période de blocage"). Afterwards the interest is recomputed from activation up
to the day before the closure date at the contract rate less the penalty percent (8 % with a
1 % penalty: 7 %), never below 0 %. The penalty type says over which span the reduction counts:

* ``until_withdrawal`` ("jusqu'au retrait"): only the days held, so the client receives the
  interest of the days held at the reduced rate;
* ``whole_term`` ("durée initiale"): the whole planned term, so on top of that the penalty
  rate is also charged, as simple interest on the principal, for the days from the closure
  to maturity that the deposit will not be held.

The interest paid is never negative (a penalty never eats the principal) and never more
than the contract rate would have paid for the days held. The quote gives the interest
recomputed, the interest already posted (to claw back when it is more) and the amount paid.
"""

from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from products.deposits.balances import AccountTransaction, TransactionKind
from products.deposits.errors import DepositError, PrematureClosureRefused
from products.deposits.interest import (
    CalculationMethod,
    InterestCarry,
    InterestProjection,
    InterestSettings,
    RateTimeline,
    project_interest,
    withholding_tax,
)
from products.deposits.periods import CompoundingPeriod, DaysInYear, Period, PostingPeriod, year_fraction
from products.deposits.term import MonthEndRule, Term, add_term, maturity_date, whole_units_between
from products.rounding import Rounding, compile_rounding, is_multiple_of

_ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)
_ONE_DAY: Final = timedelta(days=1)


class TermDepositTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What is frozen on a term-deposit account when it opens.

    Parameters
    ----------
    principal
        Amount placed, exact in the product's decimals.
    activated_on
        First day the deposit earns; the term runs from it.
    rate_annual_percent
        Rate found in the chart plus incentives (`rate_chart.find_rate`).
    periods_from_activation
        True: compounding and posting periods are counted from ``activated_on`` (monthly on
        each monthly anniversary); False: calendar periods (month ends).
    withholding_tax_percent
        Tax withheld on each interest posting (0: none).
    interest_paid_out
        False: posted interest stays on the deposit and compounds. True: each posting is
        transferred to the client's current account (a monthly-income deposit).
    """

    principal: Decimal
    currency: str
    activated_on: date
    term: Term
    rate_annual_percent: Decimal
    method: CalculationMethod = CalculationMethod.DAILY_BALANCE
    days_in_year: DaysInYear = DaysInYear.DAYS_365
    compounding: CompoundingPeriod = CompoundingPeriod.MONTHLY
    posting: PostingPeriod = PostingPeriod.AT_MATURITY
    periods_from_activation: bool = True
    rounding: Rounding = msgspec.field(default_factory=Rounding)
    month_end_rule: MonthEndRule = MonthEndRule.SAME_DAY
    withholding_tax_percent: Decimal = _ZERO
    interest_paid_out: bool = False


class TermDepositLimits(msgspec.Struct, frozen=True, kw_only=True):
    """A product's bounds on amount and term (seed 004: montant min/max, durée min/max/multiple)."""

    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    amount_multiple: Decimal | None = None
    term_min: Term | None = None
    term_max: Term | None = None
    term_multiple: Term | None = None

    def __post_init__(self) -> None:
        if self.amount_multiple is not None and self.amount_multiple <= 0:
            raise ValueError("amount_multiple must be positive")
        if self.term_multiple is not None and self.term_multiple.count <= 0:
            raise ValueError("term_multiple must be at least one unit")


class TermDepositProjection(msgspec.Struct, frozen=True, kw_only=True):
    """What the client is shown before opening: maturity date, interest, amount at maturity.

    ``maturity_amount`` is what the deposit pays on the maturity date: the principal plus the
    interest still on it, net of tax (all of it, unless the interest is paid out at each
    posting, when only the last posting remains).
    """

    maturity_date: date
    days: int
    rate_annual_percent: Decimal
    interest: Decimal
    withholding_tax: Decimal
    interest_paid_out_before_maturity: Decimal
    maturity_amount: Decimal
    interest_detail: InterestProjection


class PenaltyBasis(StrEnum):
    """Seed 004 "type de calcul" of the premature-closure penalty."""

    WHOLE_TERM = "whole_term"
    UNTIL_WITHDRAWAL = "until_withdrawal"


class PrematureClosurePenalty(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 004: penalty percent taken off the annual rate, and the span it counts over."""

    rate_percent: Decimal
    basis: PenaltyBasis


class PrematureClosureQuote(msgspec.Struct, frozen=True, kw_only=True):
    """The working of a premature closure, as the closure statement shows it.

    ``interest_recalculated`` is what the client is owed in all; ``interest_to_claw_back``
    (posted before and now not owed) or ``interest_to_post`` settles the difference with
    ``interest_posted_to_date``; the withholding tax on the recalculated interest settles the
    same way with the tax withheld so far; ``amount_paid`` is what leaves the deposit.
    """

    closed_on: date
    maturity_date: date
    days_held: int
    contract_rate_percent: Decimal
    reduced_rate_percent: Decimal
    interest_at_contract_rate: Decimal
    interest_recalculated: Decimal
    penalty_amount: Decimal
    interest_posted_to_date: Decimal
    interest_to_claw_back: Decimal
    interest_to_post: Decimal
    withholding_tax: Decimal
    withholding_tax_to_refund: Decimal
    withholding_tax_to_withhold: Decimal
    amount_paid: Decimal


class MaturityInstruction(StrEnum):
    """What the client chose for maturity."""

    PAY_OUT = "pay_out"
    RENEW_PRINCIPAL = "renew_principal"
    RENEW_PRINCIPAL_AND_INTEREST = "renew_principal_and_interest"
    HOLD = "hold"


class MaturityOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What happens on the maturity date: amount paid out and, when renewed, the new terms."""

    instruction: MaturityInstruction
    maturity_date: date
    balance_at_maturity: Decimal
    amount_paid_out: Decimal
    renewed: TermDepositTerms | None


def interest_settings(
    terms: TermDepositTerms, rate_annual_percent: Decimal | None = None
) -> InterestSettings:
    """The interest settings of a term deposit, at its own rate or at ``rate_annual_percent``."""
    rate = terms.rate_annual_percent if rate_annual_percent is None else rate_annual_percent
    return InterestSettings(
        currency=terms.currency,
        rate=RateTimeline.constant(rate),
        method=terms.method,
        days_in_year=terms.days_in_year,
        compounding=terms.compounding,
        posting=terms.posting,
        anchor=terms.activated_on if terms.periods_from_activation else None,
        rounding=terms.rounding,
    )


def check_term_deposit(terms: TermDepositTerms, limits: TermDepositLimits) -> None:
    """Raise `DepositError` naming ``principal`` or ``term`` when outside the product's bounds."""
    rounder = compile_rounding(terms.rounding, terms.currency)
    amount = terms.principal
    if amount <= 0 or amount != amount.quantize(rounder.quantum):
        raise DepositError("principal", f"must be positive with at most {rounder.decimals} decimal(s)")
    if limits.amount_min is not None and amount < limits.amount_min:
        raise DepositError("principal", f"must be at least {limits.amount_min}")
    if limits.amount_max is not None and amount > limits.amount_max:
        raise DepositError("principal", f"must be at most {limits.amount_max}")
    if limits.amount_multiple is not None and not is_multiple_of(amount, limits.amount_multiple):
        raise DepositError("principal", f"must be a multiple of {limits.amount_multiple}")
    start = terms.activated_on
    maturity = maturity_date(start, terms.term, terms.month_end_rule)
    if limits.term_min is not None and maturity < add_term(start, limits.term_min, terms.month_end_rule):
        raise DepositError("term", f"must be at least {limits.term_min}")
    if limits.term_max is not None and maturity > add_term(start, limits.term_max, terms.month_end_rule):
        raise DepositError("term", f"must be at most {limits.term_max}")
    step = limits.term_multiple
    if step is not None:
        units = whole_units_between(start, terms.term, step.unit)
        exact = add_term(start, Term(count=units, unit=step.unit), terms.month_end_rule) == maturity
        if not exact or units % step.count:
            raise DepositError("term", f"must be a multiple of {step}")


def project_term_deposit(terms: TermDepositTerms) -> TermDepositProjection:
    """Interest and maturity amount if the deposit is held to maturity."""
    maturity = maturity_date(terms.activated_on, terms.term, terms.month_end_rule)
    detail = _interest_held(terms, maturity, terms.rate_annual_percent)
    rounder = compile_rounding(terms.rounding, terms.currency)
    net_postings = [
        p.earned_posted - withholding_tax(p.earned_posted, terms.withholding_tax_percent, rounder)
        for p in detail.periods
    ]
    interest = detail.earned_posted_total
    tax = interest - sum(net_postings, rounder.zero())
    paid_out_before = sum(net_postings[:-1], rounder.zero()) if terms.interest_paid_out else rounder.zero()
    return TermDepositProjection(
        maturity_date=maturity,
        days=(maturity - terms.activated_on).days,
        rate_annual_percent=terms.rate_annual_percent,
        interest=interest,
        withholding_tax=tax,
        interest_paid_out_before_maturity=paid_out_before,
        maturity_amount=terms.principal + interest - tax - paid_out_before,
        interest_detail=detail,
    )


def _interest_held(
    terms: TermDepositTerms, until_exclusive: date, rate_annual_percent: Decimal
) -> InterestProjection:
    """Interest from activation to the day before ``until_exclusive`` at the given rate."""
    if until_exclusive <= terms.activated_on:
        return InterestProjection(
            periods=(),
            earned_posted_total=_ZERO,
            charged_posted_total=_ZERO,
            earned_exact_total=_ZERO,
            charged_exact_total=_ZERO,
            carry_out=InterestCarry(),
        )
    principal = AccountTransaction(
        kind=TransactionKind.DEPOSIT, amount=terms.principal, value_date=terms.activated_on
    )
    held = Period(first_day=terms.activated_on, last_day=until_exclusive - _ONE_DAY)
    settings = interest_settings(terms, rate_annual_percent)
    return project_interest([principal], settings, held, pay_out_interest=terms.interest_paid_out,
                            withholding_tax_percent=terms.withholding_tax_percent)


def premature_closure(
    terms: TermDepositTerms,
    closed_on: date,
    *,
    lock_in: Term | None,
    penalty: PrematureClosurePenalty | None,
    interest_posted_to_date: Decimal = _ZERO,
    withholding_tax_to_date: Decimal = _ZERO,
    interest_paid_out_to_date: Decimal = _ZERO,
    rate_for_days_held_percent: Decimal | None = None,
) -> PrematureClosureQuote:
    """Quote a closure on ``closed_on`` (the day the money is paid; it earns up to the day before).

    ``interest_posted_to_date`` is the gross interest credited so far and
    ``withholding_tax_to_date`` the tax withheld on it; ``interest_paid_out_to_date`` is what
    was already transferred out of the deposit (net of tax), deducted from the payout.
    ``rate_for_days_held_percent``, when given, replaces the contract rate as the rate the
    penalty is taken from (institutions that pay the chart's rate for the term actually held,
    Fineract-style, look it up with `rate_chart.find_rate`); it never exceeds the contract rate. Raises
    `PrematureClosureRefused` inside the lock-in, before activation, or on or after maturity
    (that is a maturity, not a closure).
    """
    assert interest_paid_out_to_date <= interest_posted_to_date, "paid out comes from posted interest"
    maturity = _check_closure_allowed(terms, closed_on, lock_in)
    rounder = compile_rounding(terms.rounding, terms.currency)
    contract_rate = terms.rate_annual_percent
    penalty_percent = penalty.rate_percent if penalty is not None else _ZERO
    assert penalty_percent >= 0, penalty_percent
    base_rate = (
        contract_rate
        if rate_for_days_held_percent is None
        else min(rate_for_days_held_percent, contract_rate)
    )
    reduced_rate = max(base_rate - penalty_percent, _ZERO)
    at_contract = _interest_held(terms, closed_on, contract_rate).earned_posted_total
    recalculated = _interest_held(terms, closed_on, reduced_rate).earned_posted_total
    if penalty is not None and penalty.basis is PenaltyBasis.WHOLE_TERM and closed_on < maturity:
        not_held = Period(first_day=closed_on, last_day=maturity - _ONE_DAY)
        extra = terms.principal * penalty_percent * year_fraction(not_held, terms.days_in_year) / _HUNDRED
        recalculated = max(recalculated - rounder.round(extra), rounder.zero())
    assert 0 <= recalculated <= at_contract, (recalculated, at_contract)
    tax_due = withholding_tax(recalculated, terms.withholding_tax_percent, rounder)
    return PrematureClosureQuote(
        closed_on=closed_on,
        maturity_date=maturity,
        days_held=(closed_on - terms.activated_on).days,
        contract_rate_percent=contract_rate,
        reduced_rate_percent=reduced_rate,
        interest_at_contract_rate=at_contract,
        interest_recalculated=recalculated,
        penalty_amount=at_contract - recalculated,
        interest_posted_to_date=interest_posted_to_date,
        interest_to_claw_back=max(interest_posted_to_date - recalculated, _ZERO),
        interest_to_post=max(recalculated - interest_posted_to_date, _ZERO),
        withholding_tax=tax_due,
        withholding_tax_to_refund=max(withholding_tax_to_date - tax_due, _ZERO),
        withholding_tax_to_withhold=max(tax_due - withholding_tax_to_date, _ZERO),
        amount_paid=terms.principal + recalculated - tax_due - interest_paid_out_to_date,
    )


def _check_closure_allowed(terms: TermDepositTerms, closed_on: date, lock_in: Term | None) -> date:
    """Refuse a closure before activation, on or after maturity, or inside the lock-in; return the maturity."""
    maturity = maturity_date(terms.activated_on, terms.term, terms.month_end_rule)
    if closed_on < terms.activated_on:
        raise PrematureClosureRefused("closed_on", f"the deposit starts on {terms.activated_on.isoformat()}")
    if closed_on >= maturity:
        raise PrematureClosureRefused(
            "closed_on", f"the deposit matures on {maturity.isoformat()}: use maturity"
        )
    if lock_in is not None:
        lock_in_end = add_term(terms.activated_on, lock_in, terms.month_end_rule)
        if closed_on < lock_in_end:
            raise PrematureClosureRefused(
                "closed_on", f"the deposit is locked in until {lock_in_end.isoformat()}: no withdrawal before"
            )
    return maturity


def apply_maturity_instruction(
    terms: TermDepositTerms,
    instruction: MaturityInstruction,
    *,
    interest_credited: Decimal,
    renewal_rate_percent: Decimal | None = None,
) -> MaturityOutcome:
    """Pay out, renew (principal only, or principal and interest) or hold at maturity.

    ``interest_credited`` is the interest credited to the deposit over its term, net of
    withholding tax. A renewal runs for the same term from the maturity date at
    ``renewal_rate_percent``, the chart's rate on that day (`rate_chart.find_rate`).
    """
    assert interest_credited >= 0, interest_credited
    maturity = maturity_date(terms.activated_on, terms.term, terms.month_end_rule)
    balance = terms.principal + interest_credited
    renewed: TermDepositTerms | None = None
    if instruction is MaturityInstruction.PAY_OUT:
        amount_paid_out = balance
    elif instruction is MaturityInstruction.HOLD:
        amount_paid_out = _ZERO
    else:
        if renewal_rate_percent is None:
            raise DepositError("renewal_rate_percent", "a renewal needs the rate valid on the maturity date")
        keeps_interest = instruction is MaturityInstruction.RENEW_PRINCIPAL_AND_INTEREST
        new_principal = balance if keeps_interest else terms.principal
        renewed = msgspec.structs.replace(
            terms, principal=new_principal, activated_on=maturity, rate_annual_percent=renewal_rate_percent
        )
        amount_paid_out = balance - new_principal
    return MaturityOutcome(
        instruction=instruction,
        maturity_date=maturity,
        balance_at_maturity=balance,
        amount_paid_out=amount_paid_out,
        renewed=renewed,
    )
