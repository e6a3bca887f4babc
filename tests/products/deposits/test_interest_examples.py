"""Deposit interest, hand-checked: the working is in each docstring."""

import itertools
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import msgspec
import pytest

from products.deposits import (
    AccountTransaction,
    CalculationMethod,
    CompoundingPeriod,
    DaysInYear,
    DepositError,
    InterestSettings,
    Period,
    PostingPeriod,
    RateChange,
    RateTimeline,
    TransactionKind,
    daily_balances,
    interest_accrued_through,
    interest_for_period,
    interest_posting_key,
    posting_period_ending_on,
    project_interest,
    validate_interest_settings,
)
from products.deposits.interest import BalanceSegment
from products.rounding import Rounding, RoundingMode

K = TransactionKind
DAILY = CalculationMethod.DAILY_BALANCE
AVERAGE = CalculationMethod.AVERAGE_DAILY_BALANCE
JANUARY = Period(first_day=date(2026, 1, 1), last_day=date(2026, 1, 31))
YEAR_2026 = Period(first_day=date(2026, 1, 1), last_day=date(2026, 12, 31))


def tx(kind: TransactionKind, amount: str, day: date) -> AccountTransaction:
    return AccountTransaction(kind=kind, amount=Decimal(amount), value_date=day)


def jan(day: int) -> date:
    return date(2026, 1, day)


def xof(percent: str = "5", **changes: object) -> InterestSettings:
    settings = InterestSettings(currency="XOF", rate=RateTimeline.constant(Decimal(percent)))
    return msgspec.structs.replace(settings, **changes)


def eur(percent: str = "3", **changes: object) -> InterestSettings:
    settings = InterestSettings(currency="EUR", rate=RateTimeline.constant(Decimal(percent)))
    return msgspec.structs.replace(settings, **changes)


def one_period(
    history: Sequence[AccountTransaction], settings: InterestSettings, period: Period = JANUARY
) -> tuple[Decimal, Decimal]:
    result = interest_for_period(daily_balances(history, period), settings, period)
    return result.earned_posted, result.charged_posted


def test_xof_one_million_at_5_percent_12_months_monthly_compounding() -> None:
    """1,000,000 XOF at 5 %, 365 days, compounded and posted monthly in 2026, rounded half-even to 1 XOF.

    January: 1,000,000 x 0.05 x 31/365 = 4,246.5753 -> posted 4,247, carry -0.4247.
    February: base = 1,000,000 + 4,247 posted + (-0.4247) carry = 1,004,246.5753;
      x 0.05 x 28/365 = 3,851.9047; + carry -0.4247 = 3,851.48 -> posted 3,851, carry +0.4800.
    March: base 1,008,098.4800 x 0.05 x 31/365 = 4,280.9661 (+0.48 carry) = 4,281.45 -> 4,281.
    ... and so on; the exact total is 1,000,000 x prod(1 + 0.05 d_m / 365) - 1,000,000 over the
    month lengths d_m = 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31: 51,161.81 -> 51,162 posted.
    """
    history = [tx(K.DEPOSIT, "1000000", jan(1))]
    result = project_interest(history, xof(), YEAR_2026)
    posted = [p.earned_posted for p in result.periods]
    assert posted == [
        Decimal(n) for n in (4247, 3851, 4281, 4161, 4317, 4195, 4353, 4371, 4249, 4408, 4284, 4445)
    ]
    assert result.periods[0].earned_exact.quantize(Decimal("0.0001")) == Decimal("4246.5753")
    assert result.periods[1].earned_exact.quantize(Decimal("0.0001")) == Decimal("3851.9047")
    growth = Decimal(1)
    for days in (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31):
        growth *= 1 + Decimal("0.05") * days / 365
    exact = Decimal(1_000_000) * growth - Decimal(1_000_000)
    assert abs(result.earned_exact_total - exact) < Decimal("1e-15")
    assert result.earned_posted_total == Decimal(51162)
    assert result.earned_posted_total + result.carry_out.earned == result.earned_exact_total


def test_posting_at_maturity_with_monthly_compounding_gives_the_same_exact_interest() -> None:
    """Posting does not change the base (posted + carry = compounded): at maturity, one posting of
    round(51,161.81) = 51,162."""
    history = [tx(K.DEPOSIT, "1000000", jan(1))]
    result = project_interest(history, xof(posting=PostingPeriod.AT_MATURITY), YEAR_2026)
    assert len(result.periods) == 1
    assert result.earned_posted_total == Decimal(51162)
    assert [s.period.last_day.month for s in result.periods[0].steps] == list(range(1, 13))


def test_annual_compounding_is_simple_interest_over_one_year() -> None:
    """1,000,000 x 5 % x 365/365 = 50,000 exactly."""
    settings = xof(compounding=CompoundingPeriod.ANNUAL, posting=PostingPeriod.ANNUAL)
    result = project_interest([tx(K.DEPOSIT, "1000000", jan(1))], settings, YEAR_2026)
    assert result.earned_posted_total == Decimal(50000)
    assert result.carry_out.earned == 0


def test_daily_compounding() -> None:
    """1,000,000 x ((1 + 0.05/365)^365 - 1) = 51,267.4965 -> 51,267."""
    settings = xof(compounding=CompoundingPeriod.DAILY, posting=PostingPeriod.ANNUAL)
    result = project_interest([tx(K.DEPOSIT, "1000000", jan(1))], settings, YEAR_2026)
    expected = Decimal(1_000_000) * ((1 + Decimal("0.05") / 365) ** 365 - 1)
    assert abs(result.earned_exact_total - expected) < Decimal("1e-12")
    assert result.earned_posted_total == Decimal(51267)


def test_eur_quarterly_compounding_360_days() -> None:
    """10,000.00 EUR at 3 %, 360 days, compounded quarterly, posted annually (2026: 90, 91, 92, 92 days).
    Q1 10,000 x 0.03 x 90/360 = 75.00; Q2 10,075 x 0.03 x 91/360 = 76.402083;
    Q3 10,151.402083 x 0.03 x 92/360 = 77.827416; Q4 10,229.229499 x 0.03 x 92/360 = 78.424093.
    Total 307.653592 -> 307.65."""
    settings = eur(
        days_in_year=DaysInYear.DAYS_360,
        compounding=CompoundingPeriod.QUARTERLY,
        posting=PostingPeriod.ANNUAL,
    )
    result = project_interest([tx(K.DEPOSIT, "10000.00", jan(1))], settings, YEAR_2026)
    steps = result.periods[0].steps
    assert [s.earned.quantize(Decimal("0.000001")) for s in steps] == [
        Decimal("75.000000"),
        Decimal("76.402083"),
        Decimal("77.827416"),
        Decimal("78.424093"),
    ]
    assert result.earned_posted_total == Decimal("307.65")


def test_daily_balance_with_movements_inside_the_month() -> None:
    """EUR at 3 %, 365: 1,000 on 1 Jan, +500 on 11 Jan, -200 on 21 Jan.
    Balance-days: 1,000 x 10 + 1,500 x 10 + 1,300 x 11 = 39,300; x 0.03 / 365 = 3.230137 -> 3.23.
    Average daily balance: 39,300 / 31 = 1,267.74; x 0.03 x 31/365 = the same 3.23."""
    history = [
        tx(K.DEPOSIT, "1000.00", jan(1)),
        tx(K.DEPOSIT, "500.00", jan(11)),
        tx(K.WITHDRAWAL, "200.00", jan(21)),
    ]
    assert daily_balances(history, JANUARY) == (
        BalanceSegment(first_day=jan(1), last_day=jan(10), balance=Decimal("1000.00")),
        BalanceSegment(first_day=jan(11), last_day=jan(20), balance=Decimal("1500.00")),
        BalanceSegment(first_day=jan(21), last_day=jan(31), balance=Decimal("1300.00")),
    )
    assert one_period(history, eur()) == (Decimal("3.23"), Decimal("0.00"))
    assert one_period(history, eur(method=AVERAGE)) == (Decimal("3.23"), Decimal("0.00"))


def test_rate_change_mid_month_daily_vs_average() -> None:
    """1,000,000 XOF from 1 Jan, +2,000,000 on 16 Jan; 4 % to 15 Jan, 6 % from 16 Jan; 365 days.
    Daily: 1,000,000 x 4 x 15/36,500 + 3,000,000 x 6 x 16/36,500 = 1,643.84 + 7,890.41 = 9,534.25 -> 9,534.
    Average: (1,000,000 x 15 + 3,000,000 x 16)/31 = 2,032,258.06 average,
      x (4 x 15 + 6 x 16)/36,500 = 2,032,258.06 x 156/36,500 = 8,685.82 -> 8,686.
    The average method pays less: the big balance arrives with the higher rate but is averaged
    over days that had the lower one."""
    rate = RateTimeline(
        changes=(
            RateChange(effective_from=date(2000, 1, 1), rate_annual_percent=Decimal(4)),
            RateChange(effective_from=jan(16), rate_annual_percent=Decimal(6)),
        )
    )
    history = [tx(K.DEPOSIT, "1000000", jan(1)), tx(K.DEPOSIT, "2000000", jan(16))]
    assert one_period(history, xof(rate=rate))[0] == Decimal(9534)
    assert one_period(history, xof(rate=rate, method=AVERAGE))[0] == Decimal(8686)


def test_overdraft_days_are_charged_at_the_overdraft_rate() -> None:
    """EUR, 2 % on credit balances, 18 % on overdrafts, 365 days.
    +1,000 for 10 days, then -500 (withdrawal of 1,500 on 11 Jan) for 21 days.
    Daily: earned 1,000 x 2 x 10/36,500 = 0.547945 -> 0.55; charged 500 x 18 x 21/36,500 = 5.178082 -> 5.18.
    Average: (10,000 - 10,500)/31 = -16.13 average: nothing earned, charged 16.13 x 18 x 31/36,500 = 0.25."""
    settings = eur("2", overdraft_rate=RateTimeline.constant(Decimal(18)))
    history = [tx(K.DEPOSIT, "1000.00", jan(1)), tx(K.WITHDRAWAL, "1500.00", jan(11))]
    assert one_period(history, settings) == (Decimal("0.55"), Decimal("5.18"))
    assert one_period(history, msgspec.structs.replace(settings, method=AVERAGE)) == (
        Decimal("0.00"),
        Decimal("0.25"),
    )


def test_negative_balance_without_overdraft_rate_costs_nothing() -> None:
    history = [tx(K.WITHDRAWAL, "1000", jan(1))]
    assert one_period(history, xof()) == (Decimal(0), Decimal(0))


def test_posted_interest_counts_from_the_next_day() -> None:
    """Interest posted on 31 January is in the ledger that day but earns from 1 February."""
    history = [tx(K.DEPOSIT, "1000", jan(1)), tx(K.INTEREST, "4", jan(31))]
    assert daily_balances(history, JANUARY)[-1].balance == Decimal(1000)
    february = Period(first_day=date(2026, 2, 1), last_day=date(2026, 2, 28))
    assert daily_balances(history, february)[0].balance == Decimal(1004)


def test_minimum_balance_for_interest() -> None:
    """Minimum 5,000 XOF to earn, 5 %, 365: 4,000 for 15 days, then 6,000 for 16 days.
    Daily: only the 16 days at 6,000 earn: 6,000 x 5 x 16/36,500 = 13.15 -> 13.
    Average: (60,000 + 96,000)/31 = 5,032.26 >= 5,000, so 5,032.26 x 5 x 31/36,500 = 21.37 -> 21."""
    history = [tx(K.DEPOSIT, "4000", jan(1)), tx(K.DEPOSIT, "2000", jan(16))]
    settings = xof(balance_for_interest_min=Decimal(5000))
    assert one_period(history, settings)[0] == Decimal(13)
    assert one_period(history, msgspec.structs.replace(settings, method=AVERAGE))[0] == Decimal(21)


@pytest.mark.parametrize(
    ("days_in_year", "expected"),
    [(DaysInYear.ACTUAL, "300.00"), (DaysInYear.DAYS_365, "300.82"), (DaysInYear.DAYS_360, "305.00")],
)
def test_days_in_year_in_a_leap_year(days_in_year: DaysInYear, expected: str) -> None:
    """10,000 EUR at 3 % over 2028 (366 days), simple: x 366/366 = 300.00; x 366/365 = 300.82; x 366/360 = 305.00."""
    settings = eur(
        days_in_year=days_in_year, compounding=CompoundingPeriod.ANNUAL, posting=PostingPeriod.ANNUAL
    )
    year_2028 = Period(first_day=date(2028, 1, 1), last_day=date(2028, 12, 31))
    result = project_interest([tx(K.DEPOSIT, "10000.00", date(2028, 1, 1))], settings, year_2028)
    assert result.earned_posted_total == Decimal(expected)


def test_rounding_carry_pays_what_rounding_down_held_back() -> None:
    """1,000 XOF at 5 %, rounded down, posted monthly. Each month earns about 4.2 XOF: without a carry
    the client would get 4 x 12 = 48; with it, the fractions add up and pay out.
    January 4.2466 -> 4 (carry 0.2466); February 1,004.2466 x 0.05 x 28/365 = 3.8520 + 0.2466 = 4.0986
    -> 4 (carry 0.0986); ... total exact 51.16 -> 51 posted, carry 0.16 kept for the next year."""
    settings = xof(rounding=Rounding(mode=RoundingMode.DOWN))
    result = project_interest([tx(K.DEPOSIT, "1000", jan(1))], settings, YEAR_2026)
    assert result.earned_posted_total == Decimal(51)
    assert result.earned_posted_total + result.carry_out.earned == result.earned_exact_total
    assert Decimal(0) <= result.carry_out.earned < 1
    assert [p.earned_posted for p in result.periods[:2]] == [Decimal(4), Decimal(4)]


def test_in_multiples_of_rounding() -> None:
    """Seed 004 "multiple monétaire" 5 XOF: 4,246.58 -> 4,245 (half even to a multiple of 5)."""
    settings = xof(rounding=Rounding(in_multiples_of=Decimal(5)))
    assert one_period([tx(K.DEPOSIT, "1000000", jan(1))], settings)[0] == Decimal(4245)


def test_compounding_less_frequent_than_posting_is_refused() -> None:
    with pytest.raises(DepositError) as raised:
        validate_interest_settings(
            xof(compounding=CompoundingPeriod.QUARTERLY, posting=PostingPeriod.MONTHLY)
        )
    assert raised.value.field == "interest.compounding"
    validate_interest_settings(xof(compounding=CompoundingPeriod.ANNUAL, posting=PostingPeriod.AT_MATURITY))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (xof("-1"), "interest.rate[0].rate_annual_percent"),
        (xof("101"), "interest.rate[0].rate_annual_percent"),
        (InterestSettings(currency="ZZZ", rate=RateTimeline()), "currency"),
        (xof(balance_for_interest_min=Decimal(-1)), "interest.balance_for_interest_min"),
        (
            xof(
                rate=RateTimeline(
                    changes=(
                        RateChange(effective_from=jan(2), rate_annual_percent=Decimal(1)),
                        RateChange(effective_from=jan(2), rate_annual_percent=Decimal(2)),
                    )
                )
            ),
            "interest.rate[1].effective_from",
        ),
    ],
)
def test_bad_settings_name_the_field(settings: InterestSettings, field: str) -> None:
    with pytest.raises(DepositError) as raised:
        validate_interest_settings(settings)
    assert raised.value.field == field


def test_idempotency_key_is_deterministic() -> None:
    key = interest_posting_key("acc-42", JANUARY)
    assert key == "deposit-interest:acc-42:2026-01-01:2026-01-31"
    assert key == interest_posting_key("acc-42", Period(first_day=jan(1), last_day=jan(31)))
    assert key != interest_posting_key("acc-42", Period(first_day=jan(1), last_day=jan(30)))
    assert interest_posting_key("acc-42", JANUARY, "overdraft_interest").startswith(
        "deposit-overdraft_interest:"
    )


def test_recomputing_a_posted_period_gives_the_same_interest() -> None:
    """The job re-run for January, with January's posting (31 Jan) now in the history, finds the same
    interest: the posting earns from 1 February, not on 31 January."""
    history = [tx(K.DEPOSIT, "1000000", jan(1))]
    first = interest_for_period(daily_balances(history, JANUARY), xof(), JANUARY)
    assert first.earned_posted == Decimal(4247)
    with_posting = [*history, tx(K.INTEREST, "4247", jan(31))]
    again = interest_for_period(daily_balances(with_posting, JANUARY), xof(), JANUARY)
    assert again == first


def test_a_balance_exactly_at_the_minimum_earns() -> None:
    """5,000 XOF all January with a 5,000 minimum: 5,000 x 5 x 31/36,500 = 21.23 -> 21."""
    settings = xof(balance_for_interest_min=Decimal(5000))
    assert one_period([tx(K.DEPOSIT, "5000", jan(1))], settings)[0] == Decimal(21)
    assert one_period([tx(K.DEPOSIT, "4999", jan(1))], settings)[0] == Decimal(0)


def test_daily_accruals_add_up_to_the_posting() -> None:
    """Accrual products book each day the accrual through that day less the accrual through the day
    before. 1,000,000 XOF at 5 %: 1,000,000 x 0.05 / 365 = 136.9863 a day; through day k the accrual is
    round(k x 136.9863): 137, 274, 411, ..., 959 (day 7), ..., 4,247 (day 31) - every day books 137,
    and 31 x 137 = 4,247, January's posting. With 100,000 XOF (13.6986 a day) the cumulative
    rounding books 14 on most days and 13 on some, still summing to the posting, 425."""
    history = [tx(K.DEPOSIT, "1000000", jan(1))]
    balances = daily_balances(history, JANUARY)
    through = [
        interest_accrued_through(balances, xof(), JANUARY, jan(day)).earned_posted for day in range(1, 32)
    ]
    daily = [through[0]] + [later - earlier for earlier, later in itertools.pairwise(through)]
    assert daily == [Decimal(137)] * 31
    assert sum(daily) == interest_for_period(balances, xof(), JANUARY).earned_posted == Decimal(4247)
    small = daily_balances([tx(K.DEPOSIT, "100000", jan(1))], JANUARY)
    through = [
        interest_accrued_through(small, xof(), JANUARY, jan(day)).earned_posted for day in range(1, 32)
    ]
    daily = [through[0]] + [later - earlier for earlier, later in itertools.pairwise(through)]
    assert set(daily) == {Decimal(13), Decimal(14)}
    assert sum(daily) == interest_for_period(small, xof(), JANUARY).earned_posted == Decimal(425)


def test_posting_period_ending_on_a_run_date() -> None:
    """Monthly posting, account activated 15 January: the run of 31 January posts 15-31 January,
    the run of 28 February posts February, a run on 20 February posts nothing."""
    settings = xof()
    assert posting_period_ending_on(jan(31), settings, jan(15)) == Period(first_day=jan(15), last_day=jan(31))
    assert posting_period_ending_on(date(2026, 2, 28), settings, jan(15)) == Period(
        first_day=date(2026, 2, 1), last_day=date(2026, 2, 28)
    )
    assert posting_period_ending_on(date(2026, 2, 20), settings, jan(15)) is None
    assert posting_period_ending_on(jan(31), settings, date(2026, 2, 1)) is None
    quarterly = xof(posting=PostingPeriod.QUARTERLY)
    assert posting_period_ending_on(jan(31), quarterly, jan(1)) is None
    assert posting_period_ending_on(date(2026, 3, 31), quarterly, jan(1)) == Period(
        first_day=jan(1), last_day=date(2026, 3, 31)
    )
    assert posting_period_ending_on(jan(31), xof(posting=PostingPeriod.AT_MATURITY), jan(1)) is None
