"""Properties of deposit interest that hold for every history and every product setting."""

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from products.deposits import (
    AccountTransaction,
    CalculationMethod,
    CompoundingPeriod,
    DaysInYear,
    InterestCarry,
    InterestSettings,
    Period,
    PostingPeriod,
    RateChange,
    RateTimeline,
    TransactionKind,
    daily_balances,
    interest_for_period,
    interest_from_balance_days,
    interest_from_balance_days_many,
    is_single_window,
    project_interest,
)
from products.deposits.balances import BALANCE_SIGN
from products.deposits.periods import (
    COMPOUNDING_MONTHS,
    POSTING_MONTHS,
    compounding_periods,
    days_in_year_on,
    posting_periods,
)
from products.rounding import Rounding, RoundingMode, compile_rounding

START = date(2026, 1, 1)
PLACES = {"XOF": 0, "XAF": 0, "EUR": 2, "KWD": 3}
K = TransactionKind


def compatible(compounding: CompoundingPeriod, posting: PostingPeriod) -> bool:
    months = POSTING_MONTHS[posting]
    return months is None or COMPOUNDING_MONTHS[compounding] <= months


@st.composite
def interest_settings(
    draw: st.DrawFn, *, fixed_year: bool = False, constant_rate: bool = False
) -> InterestSettings:
    currency = draw(st.sampled_from(sorted(PLACES)))
    compounding = draw(st.sampled_from(list(CompoundingPeriod)))
    posting = draw(st.sampled_from([p for p in PostingPeriod if compatible(compounding, p)]))
    percent = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(25), places=2)
    if constant_rate:
        rate = RateTimeline.constant(draw(percent))
    else:
        change_days = sorted({0} | set(draw(st.lists(st.integers(1, 400), max_size=3))))
        rate = RateTimeline(
            changes=tuple(
                RateChange(effective_from=START + timedelta(days=offset), rate_annual_percent=draw(percent))
                for offset in change_days
            )
        )
    years = [DaysInYear.DAYS_360, DaysInYear.DAYS_365] if fixed_year else list(DaysInYear)
    return InterestSettings(
        currency=currency,
        rate=rate,
        method=draw(st.sampled_from(list(CalculationMethod))),
        days_in_year=draw(st.sampled_from(years)),
        compounding=compounding,
        posting=posting,
        anchor=draw(st.none() | st.just(START)),
        rounding=Rounding(mode=draw(st.sampled_from(list(RoundingMode)))),
    )


@st.composite
def credit_history(draw: st.DrawFn, currency: str) -> list[AccountTransaction]:
    """Deposits only (the balance is never negative), the first on the start date."""
    places = PLACES[currency]
    amounts = st.integers(min_value=1, max_value=10**9).map(lambda units: Decimal(units).scaleb(-places))
    offsets = draw(st.lists(st.integers(1, 500), max_size=6))
    first = AccountTransaction(kind=K.DEPOSIT, amount=draw(amounts), value_date=START)
    return [first] + [
        AccountTransaction(kind=K.DEPOSIT, amount=draw(amounts), value_date=START + timedelta(days=offset))
        for offset in offsets
    ]


def span(days: int) -> Period:
    return Period(first_day=START, last_day=START + timedelta(days=days - 1))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), days=st.integers(1, 600))
def test_interest_is_never_negative_and_no_money_is_created_or_lost(data: st.DataObject, days: int) -> None:
    """On credit balances at positive rates: nothing charged, nothing negative posted, and over every
    posting period posted + carry out = carry in + exact, to the last digit."""
    chosen = data.draw(interest_settings())
    history = data.draw(credit_history(chosen.currency))
    result = project_interest(history, chosen, span(days))
    step = compile_rounding(chosen.rounding, chosen.currency).quantum
    for period in result.periods:
        assert period.earned_exact >= 0
        assert period.earned_posted >= 0
        assert period.charged_exact == 0
        assert period.charged_posted == 0
        assert period.earned_posted + period.carry_out.earned == period.carry_in.earned + period.earned_exact
        assert abs(period.carry_out.earned) < step
    assert result.earned_posted_total + result.carry_out.earned == result.earned_exact_total
    assert result.earned_exact_total > 0


@settings(max_examples=120, deadline=None)
@given(data=st.data(), days=st.integers(1, 600))
def test_splitting_posting_periods_changes_the_total_by_at_most_rounding(
    data: st.DataObject, days: int
) -> None:
    """The same deposit posted monthly, or once at the end: the exact interest is the same (posting
    does not change the base) and the posted totals differ by less than one rounding step."""
    chosen = data.draw(interest_settings())
    history = data.draw(credit_history(chosen.currency))
    monthly = msgspec.structs.replace(chosen, posting=PostingPeriod.MONTHLY)
    assume(compatible(chosen.compounding, PostingPeriod.MONTHLY))
    at_end = msgspec.structs.replace(chosen, posting=PostingPeriod.AT_MATURITY)
    split = project_interest(history, monthly, span(days))
    whole = project_interest(history, at_end, span(days))
    step = compile_rounding(chosen.rounding, chosen.currency).quantum
    assert abs(split.earned_exact_total - whole.earned_exact_total) <= Decimal("1e-12")
    assert abs(split.earned_posted_total - whole.earned_posted_total) <= step


@settings(max_examples=150, deadline=None)
@given(data=st.data(), days=st.integers(1, 400))
def test_average_daily_balance_equals_daily_balance_with_a_constant_rate(
    data: st.DataObject, days: int
) -> None:
    """With one rate and a fixed year (360 or 365), average x rate x days / year = sum of balance x rate / year."""
    chosen = data.draw(interest_settings(fixed_year=True, constant_rate=True))
    history = data.draw(credit_history(chosen.currency))
    daily = msgspec.structs.replace(chosen, method=CalculationMethod.DAILY_BALANCE)
    average = msgspec.structs.replace(chosen, method=CalculationMethod.AVERAGE_DAILY_BALANCE)
    by_day = project_interest(history, daily, span(days))
    by_average = project_interest(history, average, span(days))
    for one, other in zip(by_day.periods, by_average.periods, strict=True):
        assert abs(one.earned_exact - other.earned_exact) <= Decimal("1e-12")


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    rate=st.decimals(min_value=0, max_value=20, places=2),
    overdraft_rate=st.decimals(min_value=0, max_value=30, places=2),
)
def test_overdraft_interest_never_credits_and_credit_interest_never_charges(
    data: st.DataObject, rate: Decimal, overdraft_rate: Decimal
) -> None:
    """A history that goes below zero: both streams are non-negative, and a history that never
    goes above zero earns nothing."""
    chosen = msgspec.structs.replace(
        data.draw(interest_settings()),
        rate=RateTimeline.constant(rate),
        overdraft_rate=RateTimeline.constant(overdraft_rate),
    )
    amounts = st.integers(min_value=1, max_value=10**6).map(Decimal)
    history = [
        AccountTransaction(
            kind=data.draw(st.sampled_from([K.DEPOSIT, K.WITHDRAWAL])),
            amount=data.draw(amounts),
            value_date=START + timedelta(days=data.draw(st.integers(0, 90))),
        )
        for _ in range(data.draw(st.integers(1, 8)))
    ]
    period = span(91)
    result = interest_for_period(daily_balances(history, period), chosen, period, InterestCarry())
    assert result.earned_exact >= 0
    assert result.charged_exact >= 0
    withdrawals_only = [t for t in history if t.kind is K.WITHDRAWAL]
    if withdrawals_only:
        debit_only = interest_for_period(daily_balances(withdrawals_only, period), chosen, period)
        assert debit_only.earned_exact == 0


def reference_interest(
    history: list[AccountTransaction], chosen: InterestSettings, period: Period
) -> tuple[Fraction, Fraction]:
    """An independent, day-by-day statement of the rules, in exact fractions.

    The base of a day is the balance of the client's own movements (deposits, withdrawals) plus
    all interest compounded so far, earned minus charged, exactly: posting only moves the
    rounded part into the ledger and keeps the rest as carry, so it must not change the base.
    """
    compounding_ends = {p.last_day for p in compounding_periods(period, chosen.compounding, chosen.anchor)}
    posting_ends = {p.last_day for p in posting_periods(period, chosen.posting, chosen.anchor)}
    compounding_ends |= posting_ends
    compounded = Fraction(0)
    earned_total = Fraction(0)
    charged_total = Fraction(0)
    window: list[tuple[Fraction, Fraction, Fraction]] = []  # (base, rate / year, overdraft rate / year)
    day = period.first_day
    while day <= period.last_day:
        movements = sum(
            (Fraction(BALANCE_SIGN[t.kind]) * Fraction(t.amount) for t in history if t.value_date <= day),
            Fraction(0),
        )
        year = days_in_year_on(day, chosen.days_in_year)
        window.append(
            (
                movements + compounded,
                Fraction(chosen.rate.rate_on(day)) / 100 / year,
                Fraction(chosen.overdraft_rate.rate_on(day)) / 100 / year,
            )
        )
        if day in compounding_ends:
            if chosen.method is CalculationMethod.DAILY_BALANCE:
                earned = sum((b * r for b, r, _ in window if b > 0), Fraction(0))
                charged = sum((-b * o for b, _, o in window if b < 0), Fraction(0))
            else:
                average = sum((b for b, _, _ in window), Fraction(0)) / len(window)
                earned = average * sum((r for _, r, _ in window), Fraction(0)) if average > 0 else Fraction(0)
                charged = (
                    -average * sum((o for _, _, o in window), Fraction(0)) if average < 0 else Fraction(0)
                )
            compounded += earned - charged
            earned_total += earned
            charged_total += charged
            window = []
        day += timedelta(days=1)
    return earned_total, charged_total


@settings(max_examples=60, deadline=None)
@given(data=st.data(), days=st.integers(1, 200))
def test_engine_agrees_with_a_day_by_day_reference(data: st.DataObject, days: int) -> None:
    """Any history (overdrafts included), any settings: the engine's exact interest equals the
    day-by-day reference, and each posting period's postings equal its rounded amount owed."""
    chosen = msgspec.structs.replace(
        data.draw(interest_settings()),
        overdraft_rate=RateTimeline.constant(data.draw(st.decimals(min_value=0, max_value=30, places=2))),
    )
    places = PLACES[chosen.currency]
    amounts = st.integers(min_value=1, max_value=10**8).map(lambda units: Decimal(units).scaleb(-places))
    history = [
        AccountTransaction(
            kind=data.draw(st.sampled_from([K.DEPOSIT, K.WITHDRAWAL])),
            amount=data.draw(amounts),
            value_date=START + timedelta(days=data.draw(st.integers(0, days))),
        )
        for _ in range(data.draw(st.integers(1, 6)))
    ]
    result = project_interest(history, chosen, span(days))
    earned, charged = reference_interest(history, chosen, span(days))
    tolerance = Fraction(1, 10**12)
    assert abs(Fraction(result.earned_exact_total) - earned) <= tolerance
    assert abs(Fraction(result.charged_exact_total) - charged) <= tolerance
    assert result.earned_posted_total + result.carry_out.earned == result.earned_exact_total
    assert result.charged_posted_total + result.carry_out.charged == result.charged_exact_total


@settings(max_examples=150, deadline=None)
@given(data=st.data(), month=st.integers(1, 12), carry_cents=st.integers(-49, 49))
def test_balance_day_sums_give_the_same_interest_as_the_day_walk(
    data: st.DataObject, month: int, carry_cents: int
) -> None:
    """For a single-window period (monthly compounding posted monthly, one rate), the set-based
    formula on credit/debit balance-days equals `interest_for_period` on the same balances."""
    chosen = msgspec.structs.replace(
        data.draw(interest_settings(constant_rate=True)),
        compounding=CompoundingPeriod.MONTHLY,
        posting=PostingPeriod.MONTHLY,
        overdraft_rate=RateTimeline.constant(data.draw(st.decimals(min_value=0, max_value=30, places=2))),
    )
    first = date(2026, month, 1)
    period = Period(first_day=first, last_day=(first + timedelta(days=31)).replace(day=1) - timedelta(days=1))
    assert is_single_window(chosen, period)
    places = PLACES[chosen.currency]
    amounts = st.integers(min_value=1, max_value=10**8).map(lambda units: Decimal(units).scaleb(-places))
    history = [
        AccountTransaction(
            kind=data.draw(st.sampled_from([K.DEPOSIT, K.WITHDRAWAL])),
            amount=data.draw(amounts),
            value_date=first + timedelta(days=data.draw(st.integers(-10, period.days - 1))),
        )
        for _ in range(data.draw(st.integers(1, 6)))
    ]
    unit = compile_rounding(chosen.rounding, chosen.currency).quantum
    carry = InterestCarry(
        earned=max(unit * carry_cents / 100, Decimal(0)), charged=max(-unit * carry_cents / 100, Decimal(0))
    )
    balances = daily_balances(history, period)
    net_carry = carry.earned - carry.charged
    bases = [
        (segment.balance + net_carry, (segment.last_day - segment.first_day).days + 1) for segment in balances
    ]
    credit = sum((base * days for base, days in bases if base > 0), Decimal(0))
    debit = sum((-base * days for base, days in bases if base < 0), Decimal(0))
    walked = interest_for_period(balances, chosen, period, carry)
    summed = interest_from_balance_days(
        credit_balance_days=credit, debit_balance_days=debit, settings=chosen, period=period, carry=carry
    )
    assert summed.earned_posted == walked.earned_posted
    assert summed.charged_posted == walked.charged_posted
    assert abs(summed.earned_exact - walked.earned_exact) <= Decimal("1e-18")
    assert abs(summed.charged_exact - walked.charged_exact) <= Decimal("1e-18")


@settings(max_examples=100, deadline=None)
@given(data=st.data(), month=st.integers(1, 12))
def test_many_accounts_at_once_give_each_account_its_own_figures(data: st.DataObject, month: int) -> None:
    """The batch form a posting run uses is, account by account and to the last digit, the
    single-account `interest_from_balance_days`: posted amounts and carries."""
    chosen = msgspec.structs.replace(
        data.draw(interest_settings(constant_rate=True)),
        compounding=CompoundingPeriod.MONTHLY,
        posting=PostingPeriod.MONTHLY,
        overdraft_rate=RateTimeline.constant(data.draw(st.decimals(min_value=0, max_value=30, places=2))),
    )
    first = date(2026, month, 1)
    period = Period(first_day=first + timedelta(days=data.draw(st.integers(0, 20))),
                    last_day=(first + timedelta(days=31)).replace(day=1) - timedelta(days=1))
    unit = compile_rounding(chosen.rounding, chosen.currency).quantum
    balance_days = st.integers(min_value=0, max_value=10**12).map(lambda n: Decimal(n) * unit)
    carries = st.integers(min_value=0, max_value=99).map(lambda n: unit * n / 100)
    accounts = data.draw(st.lists(st.tuples(balance_days, balance_days, carries, carries), min_size=1, max_size=8))
    rows = [(credit, debit, InterestCarry(earned=earned, charged=charged))
            for credit, debit, earned, charged in accounts]
    many = interest_from_balance_days_many(rows, settings=chosen, period=period)
    for (credit, debit, carry), batch in zip(rows, many, strict=True):
        one = interest_from_balance_days(credit_balance_days=credit, debit_balance_days=debit, settings=chosen,
                                         period=period, carry=carry)
        assert (batch.earned_posted, batch.charged_posted) == (one.earned_posted, one.charged_posted)
        assert batch.carry_out == one.carry_out


def test_single_window_needs_one_rate_one_window_and_no_minimum() -> None:
    january = Period(first_day=START, last_day=date(2026, 1, 31))
    monthly = InterestSettings(currency="XOF", rate=RateTimeline.constant(Decimal(5)))
    assert is_single_window(monthly, january)
    assert not is_single_window(
        msgspec.structs.replace(monthly, compounding=CompoundingPeriod.DAILY), january
    )
    assert not is_single_window(
        msgspec.structs.replace(monthly, balance_for_interest_min=Decimal(1)), january
    )
    changing = RateTimeline(
        changes=(
            RateChange(effective_from=date(2000, 1, 1), rate_annual_percent=Decimal(5)),
            RateChange(effective_from=date(2026, 1, 16), rate_annual_percent=Decimal(6)),
        )
    )
    assert not is_single_window(msgspec.structs.replace(monthly, rate=changing), january)
