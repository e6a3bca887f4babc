"""Interest on deposit accounts: daily balances, compounding, posting and the rounding carry.

The model, in the words of an accountant:

* **Interest base.** Each day earns on its end-of-day balance (value dates; interest posted
  on a day counts from the next day, see `balances.interest_effective_day`) plus the
  interest already compounded but not yet credited (the carry and this posting period's
  compounded interest).
* **Daily balance method**: a day earns ``base x rate / 100 / days-in-year``; the period's
  interest is the sum over its days. **Average daily balance**: over each compounding period,
  ``average base x rate / 100 x days / days-in-year`` (with a rate that changes inside the
  period, the average base times the sum of each day's ``rate / 100 / days-in-year``). With a
  constant rate and a fixed year the two are equal; they differ when the rate changes, when
  the balance crosses zero or the minimum balance for interest, and across a leap year.
* **Overdraft.** A day whose base is negative earns nothing and is charged the overdraft rate
  on the overdrawn amount; it is a separate stream (a debit to the client, income to the
  institution), compounded and posted like interest, with its own carry.
* **Compounding vs posting.** At the end of each compounding period the period's interest
  joins the base: from the next day it earns interest too. At the end of each posting period
  everything accrued is credited (posted) to the account. Compounding is never less frequent
  than posting: credited interest sits in the client's balance, and paying nothing on it
  until a later compounding date would need a second balance that no statement shows.
* **Rounding and the carry.** Interest is computed exactly (Decimal, no rounding) and rounded
  once, when posted, the product's way. The part rounding leaves out (``exact - posted``,
  below one rounding step) is *carried*: it stays in the interest base and is added to the
  next posting period's interest before that is rounded. So over any number of periods the
  sum posted equals the exact total minus the last carry: no money is created or lost, and
  splitting a period in two changes the total by less than one rounding step. A carry can be
  negative when the product rounds up. When the account closes, the carry left (less than one
  minor unit) is not paid: the closing posting rounds it with the last period.

Every calculation is bounded by `limits.CALCULATION_DAYS_MAX` days.
"""

import bisect
import decimal
import functools
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final
from uuid import UUID

import msgspec

from ledger.money import is_known_currency
from products.deposits.balances import (
    BALANCE_SIGN,
    AccountTransaction,
    TransactionKind,
    interest_effective_day,
)
from products.deposits.errors import DepositError
from products.deposits.limits import CALCULATION_DAYS_MAX, RATE_CHANGES_MAX, RATE_PERCENT_MAX
from products.deposits.periods import (
    COMPOUNDING_MONTHS,
    POSTING_MONTHS,
    CompoundingPeriod,
    DaysInYear,
    Period,
    PostingPeriod,
    compounding_periods,
    days_in_year_on,
    posting_period_containing,
    posting_periods,
)
from products.rounding import Rounder, Rounding, compile_rounding

_ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)
_ONE_DAY: Final = timedelta(days=1)

EXACT_QUANTUM: Final = Decimal("1e-18")
"""Unrounded ("exact") interest is kept to 18 decimal places, far below any currency's minor unit. Each
compounding period's interest is quantized to it once, and every sum after that is done in a
60-digit context, so ``posted + carry_out == carry_in + exact`` holds to the last digit."""

_CALCULATION_CONTEXT: Final = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)
"""One explicit context whatever the caller's: 60 digits, and quantize ties to even."""


class CalculationMethod(StrEnum):
    """Seed 004 "méthode de calcul": solde quotidien or solde moyen quotidien."""

    DAILY_BALANCE = "daily_balance"
    AVERAGE_DAILY_BALANCE = "average_daily_balance"


class RateChange(msgspec.Struct, frozen=True, kw_only=True):
    """From ``effective_from`` on, the annual rate is ``rate_annual_percent`` (5 for 5 %)."""

    effective_from: date
    rate_annual_percent: Decimal


class RateTimeline(msgspec.Struct, frozen=True, kw_only=True):
    """An annual rate that may change over time; before the first change the rate is 0.

    Changes are in strictly increasing date order (checked by `validate_interest_settings`).
    """

    changes: tuple[RateChange, ...] = ()

    @classmethod
    def constant(cls, rate_annual_percent: Decimal) -> "RateTimeline":
        """One rate for every day."""
        return cls(changes=(RateChange(effective_from=date.min, rate_annual_percent=rate_annual_percent),))

    def rate_on(self, day: date) -> Decimal:
        """Annual rate in percent on ``day``."""
        if len(self.changes) == 1:  # the common case: one rate from some day on
            only = self.changes[0]
            return only.rate_annual_percent if only.effective_from <= day else _ZERO
        index = bisect.bisect_right(self.changes, day, key=lambda change: change.effective_from)
        return self.changes[index - 1].rate_annual_percent if index else _ZERO

    def change_days_in(self, period: Period) -> list[date]:
        """Days inside ``period`` (after its first day) on which the rate changes."""
        return [
            c.effective_from for c in self.changes if period.first_day < c.effective_from <= period.last_day
        ]


class InterestSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an interest calculation needs, mapped from a deposit or term-deposit product.

    Parameters
    ----------
    currency
        ISO code; with ``rounding`` it gives the posting precision (XOF/XAF: whole units).
    rate
        Annual rate timeline (percent) for positive balances.
    overdraft_rate
        Annual rate (percent) charged on negative balances; empty: overdrafts cost nothing.
    method
        Daily balance or average daily balance.
    days_in_year
        360, 365 or actual.
    compounding, posting
        Compounding and posting periods; compounding never less frequent than posting.
    anchor
        ``None``: calendar periods (month ends); a date: anniversary periods from that date.
    balance_for_interest_min
        A day (daily balance) or a compounding period (average) whose base is below it earns
        nothing; 0 means any positive balance earns.
    rounding
        The product's rounding of posted amounts.
    """

    currency: str
    rate: RateTimeline
    overdraft_rate: RateTimeline = msgspec.field(default_factory=RateTimeline)
    method: CalculationMethod = CalculationMethod.DAILY_BALANCE
    days_in_year: DaysInYear = DaysInYear.DAYS_365
    compounding: CompoundingPeriod = CompoundingPeriod.MONTHLY
    posting: PostingPeriod = PostingPeriod.MONTHLY
    anchor: date | None = None
    balance_for_interest_min: Decimal = _ZERO
    rounding: Rounding = msgspec.field(default_factory=Rounding)


class InterestCarry(msgspec.Struct, frozen=True, kw_only=True):
    """Exact interest computed but not posted because of rounding (below one rounding step).

    The servicing layer stores it with each posting and passes it to the next calculation.
    """

    earned: Decimal = _ZERO
    charged: Decimal = _ZERO


class BalanceSegment(msgspec.Struct, frozen=True, kw_only=True):
    """Days ``first_day`` to ``last_day`` whose end-of-day balance (for interest) is ``balance``."""

    first_day: date
    last_day: date
    balance: Decimal


class CompoundingStep(msgspec.Struct, frozen=True, kw_only=True):
    """Exact interest of one compounding period, the working shown on a statement."""

    period: Period
    average_base: Decimal
    earned: Decimal
    charged: Decimal


class PeriodInterest(msgspec.Struct, frozen=True, kw_only=True):
    """Interest of one posting period.

    ``earned_exact``/``charged_exact`` are this period's own exact interest; ``*_posted`` are
    what to credit/debit now (carry in + exact, rounded); ``carry_out`` goes to the next period.
    """

    period: Period
    earned_exact: Decimal
    charged_exact: Decimal
    earned_posted: Decimal
    charged_posted: Decimal
    carry_in: InterestCarry
    carry_out: InterestCarry
    steps: tuple[CompoundingStep, ...]


class InterestProjection(msgspec.Struct, frozen=True, kw_only=True):
    """Interest over several posting periods, each posting credited before the next period."""

    periods: tuple[PeriodInterest, ...]
    earned_posted_total: Decimal
    charged_posted_total: Decimal
    earned_exact_total: Decimal
    charged_exact_total: Decimal
    carry_out: InterestCarry


def validate_interest_settings(settings: InterestSettings) -> None:
    """Raise `DepositError` naming the field for settings no calculation can honour."""
    if not is_known_currency(settings.currency):
        raise DepositError("currency", f"unknown currency {settings.currency!r}")
    posting_months = POSTING_MONTHS[settings.posting]
    if posting_months is not None and COMPOUNDING_MONTHS[settings.compounding] > posting_months:
        raise DepositError(
            "interest.compounding",
            f"compounding {settings.compounding.value} is less frequent than posting {settings.posting.value}",
        )
    for name, timeline in (
        ("interest.rate", settings.rate),
        ("interest.overdraft_rate", settings.overdraft_rate),
    ):
        _validate_timeline(name, timeline)
    if settings.balance_for_interest_min < 0:
        raise DepositError("interest.balance_for_interest_min", "must not be negative")


def _validate_timeline(name: str, timeline: RateTimeline) -> None:
    if len(timeline.changes) > RATE_CHANGES_MAX:
        raise DepositError(name, f"at most {RATE_CHANGES_MAX} rate changes")
    for index, change in enumerate(timeline.changes):
        if not 0 <= change.rate_annual_percent <= RATE_PERCENT_MAX:
            raise DepositError(
                f"{name}[{index}].rate_annual_percent", f"must be between 0 and {RATE_PERCENT_MAX}"
            )
        if index and change.effective_from <= timeline.changes[index - 1].effective_from:
            raise DepositError(
                f"{name}[{index}].effective_from", "rate changes must be in increasing date order"
            )


def daily_balances(transactions: Iterable[AccountTransaction], period: Period) -> tuple[BalanceSegment, ...]:
    """End-of-day balances for interest over ``period``, as runs of days with the same balance.

    Every transaction counts from `interest_effective_day`; holds do not count. The first
    run starts with the balance of everything effective before the period.
    """
    assert period.days <= CALCULATION_DAYS_MAX, period
    opening = _ZERO
    changes: dict[date, Decimal] = {}
    for transaction in transactions:
        sign = BALANCE_SIGN[transaction.kind]
        if not sign:
            continue
        effective = interest_effective_day(transaction)
        if effective <= period.first_day:
            opening += sign * transaction.amount
        elif effective <= period.last_day:
            changes[effective] = changes.get(effective, _ZERO) + sign * transaction.amount
    segments: list[BalanceSegment] = []
    balance = opening
    first = period.first_day
    for day in sorted(changes):
        segments.append(BalanceSegment(first_day=first, last_day=day - _ONE_DAY, balance=balance))
        balance += changes[day]
        first = day
    segments.append(BalanceSegment(first_day=first, last_day=period.last_day, balance=balance))
    return tuple(segments)


class _Piece(msgspec.Struct, frozen=True):
    """Days with one balance, one rate, one overdraft rate and one year length."""

    days: int
    balance: Decimal
    rate_percent: Decimal
    overdraft_rate_percent: Decimal
    days_in_year: int


def _pieces(
    segments: Sequence[BalanceSegment],
    segment_ends: Sequence[date],
    window: Period,
    settings: InterestSettings,
) -> list[_Piece]:
    """Cut ``window`` where the balance, a rate or (actual days) the year changes."""
    cuts = set(settings.rate.change_days_in(window)) | set(settings.overdraft_rate.change_days_in(window))
    if settings.days_in_year is DaysInYear.ACTUAL:
        cuts |= {date(year, 1, 1) for year in range(window.first_day.year + 1, window.last_day.year + 1)}
    index = bisect.bisect_left(segment_ends, window.first_day)
    assert index < len(segments), (window, "not covered by the balances")
    assert segments[index].first_day <= window.first_day, (window, segments[index])
    pieces: list[_Piece] = []
    first = window.first_day
    while first <= window.last_day:
        segment = segments[index]
        last = min(segment.last_day, window.last_day)
        for cut in sorted(day for day in cuts if first < day <= last):
            pieces.append(_piece(first, cut - _ONE_DAY, segment.balance, settings))
            first = cut
        pieces.append(_piece(first, last, segment.balance, settings))
        first = last + _ONE_DAY
        index += 1
        assert first > window.last_day or index < len(segments), (window, "balances end too early")
    return pieces


def _piece(first: date, last: date, balance: Decimal, settings: InterestSettings) -> _Piece:
    return _Piece(
        (last - first).days + 1,
        balance,
        settings.rate.rate_on(first),
        settings.overdraft_rate.rate_on(first),
        days_in_year_on(first, settings.days_in_year),
    )


def _window_interest(
    pieces: Sequence[_Piece], window: Period, compounded: Decimal, settings: InterestSettings
) -> CompoundingStep:
    """Exact interest earned and charged over one compounding period ``window``."""
    minimum = settings.balance_for_interest_min
    base_days = _ZERO
    earned = _ZERO
    charged = _ZERO
    if settings.method is CalculationMethod.DAILY_BALANCE:
        for piece in pieces:
            base = piece.balance + compounded
            base_days += base * piece.days
            if base > 0 and base >= minimum:
                earned += base * piece.rate_percent * piece.days / (_HUNDRED * piece.days_in_year)
            elif base < 0:
                charged -= base * piece.overdraft_rate_percent * piece.days / (_HUNDRED * piece.days_in_year)
        return _step(window, base_days / window.days, earned, charged)
    rate_years = _ZERO
    overdraft_rate_years = _ZERO
    for piece in pieces:
        base_days += (piece.balance + compounded) * piece.days
        rate_years += piece.rate_percent * piece.days / piece.days_in_year
        overdraft_rate_years += piece.overdraft_rate_percent * piece.days / piece.days_in_year
    average = base_days / window.days
    if average > 0 and average >= minimum:
        earned = average * rate_years / _HUNDRED
    elif average < 0:
        charged = -average * overdraft_rate_years / _HUNDRED
    return _step(window, average, earned, charged)


def _step(window: Period, average_base: Decimal, earned: Decimal, charged: Decimal) -> CompoundingStep:
    """A compounding step with its amounts quantized to `EXACT_QUANTUM` (see there)."""
    return CompoundingStep(
        period=window,
        average_base=average_base.quantize(EXACT_QUANTUM),
        earned=earned.quantize(EXACT_QUANTUM),
        charged=charged.quantize(EXACT_QUANTUM),
    )


def interest_for_period(
    balances: Sequence[BalanceSegment],
    settings: InterestSettings,
    period: Period,
    carry: InterestCarry | None = None,
) -> PeriodInterest:
    """Interest of one posting period (or of the part of one up to a date, for accrual).

    ``balances`` must cover ``period`` (see `daily_balances`); ``carry`` is the previous
    posting's `PeriodInterest.carry_out`. Posted amounts are never negative.
    """
    rounder = _checked_rounder(settings)
    assert period.days <= CALCULATION_DAYS_MAX, period
    with decimal.localcontext(_CALCULATION_CONTEXT):
        return _interest_for_period(balances, settings, period, carry or InterestCarry(), rounder)


def _checked_rounder(settings: InterestSettings) -> Rounder:
    """Validate the settings and compile their rounding once per distinct settings (a run over
    100,000 accounts of a few products validates a few times, not 100,000). Settings built
    with a list instead of a tuple of rate changes cannot be cached and are checked each time."""
    try:
        hash(settings)
    except TypeError:
        return _validated_rounder(settings)
    return _cached_rounder(settings)


def _validated_rounder(settings: InterestSettings) -> Rounder:
    validate_interest_settings(settings)
    return compile_rounding(settings.rounding, settings.currency)


_cached_rounder: Final = functools.lru_cache(maxsize=1024)(_validated_rounder)


def _interest_for_period(
    balances: Sequence[BalanceSegment],
    settings: InterestSettings,
    period: Period,
    carry_in: InterestCarry,
    rounder: Rounder,
) -> PeriodInterest:
    segment_ends = [segment.last_day for segment in balances]
    compounded = carry_in.earned - carry_in.charged
    steps: list[CompoundingStep] = []
    for window in compounding_periods(period, settings.compounding, settings.anchor):
        pieces = _pieces(balances, segment_ends, window, settings)
        step = _window_interest(pieces, window, compounded, settings)
        steps.append(step)
        compounded += step.earned - step.charged
    return _settle(period, carry_in, tuple(steps), rounder)


def _settle(
    period: Period, carry_in: InterestCarry, steps: tuple[CompoundingStep, ...], rounder: Rounder
) -> PeriodInterest:
    """Round what the period owes (carry in + its steps) for posting and carry the rest."""
    earned_exact = sum((step.earned for step in steps), _ZERO)
    charged_exact = sum((step.charged for step in steps), _ZERO)
    assert earned_exact >= 0, earned_exact
    assert charged_exact >= 0, charged_exact
    earned_posted = _posted(carry_in.earned + earned_exact, rounder)
    charged_posted = _posted(carry_in.charged + charged_exact, rounder)
    return PeriodInterest(
        period=period,
        earned_exact=earned_exact,
        charged_exact=charged_exact,
        earned_posted=earned_posted,
        charged_posted=charged_posted,
        carry_in=carry_in,
        carry_out=InterestCarry(
            earned=carry_in.earned + earned_exact - earned_posted,
            charged=carry_in.charged + charged_exact - charged_posted,
        ),
        steps=steps,
    )


def interest_accrued_through(
    balances: Sequence[BalanceSegment],
    settings: InterestSettings,
    posting_period: Period,
    through_day: date,
    carry: InterestCarry | None = None,
) -> PeriodInterest:
    """Interest accrued in ``posting_period`` from its first day through ``through_day``.

    What the period would post if it ended that day, rounded the same way: the accrual
    entry of day D (for products that accrue to interest payable) is the accrual through D
    less the accrual through D - 1, so the daily accruals of a period add up exactly to its
    posting, and the posting moves the amount from interest payable to the client's account.
    """
    assert posting_period.contains(through_day), (posting_period, through_day)
    accrued = Period(first_day=posting_period.first_day, last_day=through_day)
    return interest_for_period(balances, settings, accrued, carry)


def _posted(owed: Decimal, rounder: Rounder) -> Decimal:
    """What to post of an exact amount owed: rounded the product's way, never negative."""
    if owed <= 0:
        return rounder.zero()
    return max(rounder.round(owed), rounder.zero())


def project_interest(
    transactions: Iterable[AccountTransaction],
    settings: InterestSettings,
    period: Period,
    carry: InterestCarry | None = None,
    *,
    pay_out_interest: bool = False,
    withholding_tax_percent: Decimal = _ZERO,
) -> InterestProjection:
    """Interest posting period by posting period over ``period``, crediting each posting.

    Each posting period's interest is posted on its last day (an ``interest`` and an
    ``overdraft_interest`` transaction) and so counts in the balance from the next day. The
    transactions passed in must not already hold postings for the periods projected.
    Used for a term deposit's projected interest and for catching up several periods.

    With ``pay_out_interest`` each credited amount is transferred out the next day (a term
    deposit that pays its interest to the client's current account): it leaves the base
    the day it would have joined it, so interest does not compound across postings.

    With ``withholding_tax_percent`` the tax withheld on each posting (`withholding_tax`)
    leaves the account with it: only the net interest joins the base from the next day.
    """
    rounder = _checked_rounder(settings)
    with decimal.localcontext(_CALCULATION_CONTEXT):
        return _project_interest(
            list(transactions), settings, period, carry or InterestCarry(), pay_out_interest=pay_out_interest,
            tax_percent=withholding_tax_percent, rounder=rounder,
        )


def _project_interest(
    history: list[AccountTransaction],
    settings: InterestSettings,
    period: Period,
    carry_in: InterestCarry,
    *,
    pay_out_interest: bool,
    tax_percent: Decimal,
    rounder: Rounder,
) -> InterestProjection:
    results: list[PeriodInterest] = []
    for posting_period in posting_periods(period, settings.posting, settings.anchor):
        result = interest_for_period(
            daily_balances(history, posting_period), settings, posting_period, carry_in
        )
        results.append(result)
        carry_in = result.carry_out
        last_day = posting_period.last_day
        if result.earned_posted > 0:
            history.append(
                AccountTransaction(
                    kind=TransactionKind.INTEREST, amount=result.earned_posted, value_date=last_day
                )
            )
            tax = withholding_tax(result.earned_posted, tax_percent, rounder) if tax_percent else _ZERO
            if tax > 0:  # withheld with the posting: leaves the base the day the interest joins it
                history.append(
                    AccountTransaction(
                        kind=TransactionKind.WITHHOLDING_TAX, amount=tax, value_date=last_day + _ONE_DAY
                    )
                )
            if pay_out_interest and result.earned_posted > tax:
                paid_on = last_day + _ONE_DAY
                history.append(
                    AccountTransaction(
                        kind=TransactionKind.WITHDRAWAL, amount=result.earned_posted - tax, value_date=paid_on
                    )
                )
        if result.charged_posted > 0:
            history.append(
                AccountTransaction(
                    kind=TransactionKind.OVERDRAFT_INTEREST, amount=result.charged_posted, value_date=last_day
                )
            )
    return InterestProjection(
        periods=tuple(results),
        earned_posted_total=sum((r.earned_posted for r in results), _ZERO),
        charged_posted_total=sum((r.charged_posted for r in results), _ZERO),
        earned_exact_total=sum((r.earned_exact for r in results), _ZERO),
        charged_exact_total=sum((r.charged_exact for r in results), _ZERO),
        carry_out=carry_in,
    )


@functools.lru_cache(maxsize=4_096)
def is_single_window(settings: InterestSettings, period: Period) -> bool:
    """Whether ``period`` is one compounding period at one rate, one year length and no minimum.

    Then a period's interest depends on the balances only through two sums, credit and debit
    balance-days (`interest_from_balance_days`), which a set-based job can compute in SQL for
    every account at once. Monthly compounding posted monthly, at a rate unchanged within the
    month, is the everyday case. Remembered: a month-end run asks it of every account, with a
    handful of distinct settings.
    """
    windows = compounding_periods(period, settings.compounding, settings.anchor)
    rate_changes = settings.rate.change_days_in(period) or settings.overdraft_rate.change_days_in(period)
    crosses_year = (
        settings.days_in_year is DaysInYear.ACTUAL and period.first_day.year != period.last_day.year
    )
    return (
        len(windows) == 1 and not rate_changes and not crosses_year and settings.balance_for_interest_min == 0
    )


def interest_from_balance_days(
    *,
    credit_balance_days: Decimal,
    debit_balance_days: Decimal,
    settings: InterestSettings,
    period: Period,
    carry: InterestCarry | None = None,
) -> PeriodInterest:
    """The interest of a single-window period (`is_single_window`) from its balance-day sums.

    ``credit_balance_days`` is the sum over the period's days of the positive interest bases
    (end-of-day balance plus the carry's net amount), ``debit_balance_days`` the sum of the
    negative ones as a positive number. Same result as `interest_for_period` on the same
    balances (a property test checks it), one multiplication instead of a walk over the days.
    """
    assert is_single_window(settings, period), (settings, period)
    assert credit_balance_days >= 0, credit_balance_days
    assert debit_balance_days >= 0, debit_balance_days
    rounder = _checked_rounder(settings)
    carry_in = carry or InterestCarry()
    with decimal.localcontext(_CALCULATION_CONTEXT):
        year = days_in_year_on(period.first_day, settings.days_in_year)
        rate = settings.rate.rate_on(period.first_day)
        overdraft_rate = settings.overdraft_rate.rate_on(period.first_day)
        if settings.method is CalculationMethod.DAILY_BALANCE:
            earned = credit_balance_days * rate / (_HUNDRED * year)
            charged = debit_balance_days * overdraft_rate / (_HUNDRED * year)
        else:
            net_balance_days = credit_balance_days - debit_balance_days
            earned = max(net_balance_days, _ZERO) * rate / (_HUNDRED * year)
            charged = max(-net_balance_days, _ZERO) * overdraft_rate / (_HUNDRED * year)
        step = _step(period, (credit_balance_days - debit_balance_days) / period.days, earned, charged)
        return _settle(period, carry_in, (step,), rounder)


def credit_interest_of_constant_balance(
    balance: Decimal, days: int, *, rate_percent: Decimal, year_days: int, carry_earned: Decimal, rounder: Rounder
) -> tuple[Decimal, Decimal, Decimal]:
    """(exact, posted, carry out) of a single-window period's credit interest: the arithmetic of
    `interest_from_balance_days` for an account that is never overdrawn (a term deposit), without
    building the working, for a balance constant over the period's ``days`` (the base is the
    balance plus the carry, as in `interest_for_period`). The
    same operations in the same 60-digit context, so the same amounts to the last digit (a
    property test checks it); a run over 100,000 deposits calls it once each."""
    with decimal.localcontext(_CALCULATION_CONTEXT):
        base = balance + carry_earned
        if base > 0:
            exact = (base * days * rate_percent / (_HUNDRED * year_days)).quantize(EXACT_QUANTUM)
        else:
            exact = _ZERO.quantize(EXACT_QUANTUM)
        owed = carry_earned + exact
        posted = _posted(owed, rounder)
        return exact, posted, owed - posted


class PostedInterest(msgspec.Struct, frozen=True, kw_only=True):
    """What a posting job needs of a period's interest: the amounts to post and the carry."""

    earned_posted: Decimal
    charged_posted: Decimal
    carry_out: InterestCarry


def interest_from_balance_days_many(
    balance_days: Sequence[tuple[Decimal, Decimal, InterestCarry]],
    *,
    settings: InterestSettings,
    period: Period,
) -> list[PostedInterest]:
    """`interest_from_balance_days` for many accounts sharing settings and period.

    ``balance_days`` holds each account's (credit balance-days, debit balance-days, carry in).
    The figures are the same as one `interest_from_balance_days` call per account (a property
    test checks it, to the last digit); the work that depends only on the settings and the
    period (validation, year length, rates) is done once, not once per account, which is what
    a month-end run over 100,000 accounts of a few products needs.
    """
    assert is_single_window(settings, period), (settings, period)
    rounder = _checked_rounder(settings)
    posted: list[PostedInterest] = []
    with decimal.localcontext(_CALCULATION_CONTEXT):
        year_divisor = _HUNDRED * days_in_year_on(period.first_day, settings.days_in_year)
        rate = settings.rate.rate_on(period.first_day)
        overdraft_rate = settings.overdraft_rate.rate_on(period.first_day)
        daily = settings.method is CalculationMethod.DAILY_BALANCE
        for credit_balance_days, debit_balance_days, carry_in in balance_days:
            assert credit_balance_days >= 0, credit_balance_days
            assert debit_balance_days >= 0, debit_balance_days
            if daily:
                earned = credit_balance_days * rate / year_divisor
                charged = debit_balance_days * overdraft_rate / year_divisor
            else:
                net_balance_days = credit_balance_days - debit_balance_days
                earned = max(net_balance_days, _ZERO) * rate / year_divisor
                charged = max(-net_balance_days, _ZERO) * overdraft_rate / year_divisor
            earned_owed = carry_in.earned + earned.quantize(EXACT_QUANTUM)
            charged_owed = carry_in.charged + charged.quantize(EXACT_QUANTUM)
            earned_posted = _posted(earned_owed, rounder)
            charged_posted = _posted(charged_owed, rounder)
            posted.append(PostedInterest(
                earned_posted=earned_posted, charged_posted=charged_posted,
                carry_out=InterestCarry(earned=earned_owed - earned_posted, charged=charged_owed - charged_posted)))
    return posted


def posting_period_ending_on(day: date, settings: InterestSettings, activated_on: date) -> Period | None:
    """The posting period that ends on ``day``, from the account's activation at the earliest.

    ``None`` when ``day`` is not the end of a posting period, when the account was activated
    after it, or for at-maturity posting (the maturity date decides). The posting job, run for
    a date, asks this of each account; with `interest_posting_key` it posts each period once.
    """
    if settings.posting is PostingPeriod.AT_MATURITY or activated_on > day:
        return None
    period = posting_period_containing(day, settings.posting, settings.anchor)
    if period.last_day != day:
        return None
    return Period(first_day=max(period.first_day, activated_on), last_day=day)


def withholding_tax(interest_posted: Decimal, tax_percent: Decimal, rounder: Rounder) -> Decimal:
    """Tax withheld on posted interest (e.g. the IRCM), rounded the product's way."""
    assert interest_posted >= 0, interest_posted
    assert 0 <= tax_percent <= 100, tax_percent
    return rounder.round(interest_posted * tax_percent / _HUNDRED)


def interest_posting_key(account_id: UUID | str, period: Period, kind: str = "interest") -> str:
    """Idempotency key of "``kind`` for account A, period P": the same inputs, the same string.

    The posting job stores it with the journal entry (unique), so running it twice for the
    same period posts once. Example: ``deposit-interest:7f0c...:2026-01-01:2026-01-31``.
    """
    assert kind.isidentifier(), kind
    return f"deposit-{kind}:{account_id}:{period.first_day.isoformat()}:{period.last_day.isoformat()}"
