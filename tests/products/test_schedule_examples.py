"""Hand-checked schedules, one per setting, with the working in each docstring.

Every expected number below was worked out by hand (or on a pocket calculator) from the
formula in the docstring, not copied from the engine's output.
"""

from datetime import date
from decimal import Decimal

from products.loans.schedule import generate_schedule
from products.loans.terms import (
    AmortizationMethod,
    DaysInMonth,
    DaysInYear,
    InterestCalculationPeriod,
    InterestMethod,
    InterestRatePeriod,
    RepaymentFrequencyUnit,
)
from tests.products.factories import eur_terms, xof_terms


def column(schedule_terms_rows: object, name: str) -> list[Decimal]:
    return [getattr(row, name) for row in schedule_terms_rows]  # type: ignore[attr-defined]


def test_issue_example_equal_instalments_declining() -> None:
    """10,000 at 12 %/year, 12 monthly equal instalments.

    r = 12 % / 12 = 1 % a month; A = 10,000 x 0.01 / (1 - 1.01^-12) = 888.4879 -> 888.49.
    Month 1: interest 10,000 x 1 % = 100.00, principal 888.49 - 100.00 = 788.49.
    Month 12 takes the remaining principal 879.67, interest 879.67 x 1 % = 8.7967 -> 8.80,
    so it is 888.47. Total paid 11 x 888.49 + 888.47 = 10,661.86: interest 661.86.
    """
    schedule = generate_schedule(eur_terms())
    rows = schedule.instalments
    assert [row.total_amount for row in rows[:-1]] == [Decimal("888.49")] * 11
    assert (rows[0].interest_amount, rows[0].principal_amount) == (Decimal("100.00"), Decimal("788.49"))
    assert (rows[-1].principal_amount, rows[-1].interest_amount) == (Decimal("879.67"), Decimal("8.80"))
    assert rows[-1].total_amount == Decimal("888.47")
    assert schedule.totals.interest_amount == Decimal("661.86")
    assert schedule.totals.principal_amount == Decimal("10000.00")
    assert [row.due_date for row in rows[:2]] == [date(2025, 2, 15), date(2025, 3, 15)]


def test_issue_example_flat() -> None:
    """Flat 12 % over 12 months: 10,000 x 12 % / 12 = 100.00 interest every month.

    Principal 10,000 / 12 = 833.33 (rounded); the last takes 10,000 - 11 x 833.33 = 833.37.
    """
    schedule = generate_schedule(eur_terms(interest_method=InterestMethod.FLAT))
    rows = schedule.instalments
    assert {row.interest_amount for row in rows} == {Decimal("100.00")}
    assert [row.principal_amount for row in rows[:-1]] == [Decimal("833.33")] * 11
    assert rows[-1].principal_amount == Decimal("833.37")
    assert schedule.totals.interest_amount == Decimal("1200.00")


def test_equal_principal_declining() -> None:
    """1,200,000 XOF, 2 %/month, 6 months: principal 200,000 each.

    Interest is 2 % of the balance: 24,000, 20,000, 16,000, 12,000, 8,000, 4,000 = 84,000.
    """
    schedule = generate_schedule(xof_terms(amortization_method=AmortizationMethod.EQUAL_PRINCIPAL))
    rows = schedule.instalments
    assert {row.principal_amount for row in rows} == {Decimal(200_000)}
    assert [row.interest_amount for row in rows] == [
        Decimal(n) for n in (24_000, 20_000, 16_000, 12_000, 8_000, 4_000)
    ]
    assert [row.total_amount for row in rows] == [
        Decimal(n) for n in (224_000, 220_000, 216_000, 212_000, 208_000, 204_000)
    ]
    assert schedule.totals.interest_amount == Decimal(84_000)


def test_flat_equal_principal_pays_each_period_interest() -> None:
    """Flat with equal principal: 2 % of the initial 1,200,000 each month = 24,000, six times."""
    schedule = generate_schedule(
        xof_terms(interest_method=InterestMethod.FLAT, amortization_method=AmortizationMethod.EQUAL_PRINCIPAL)
    )
    assert {row.interest_amount for row in schedule.instalments} == {Decimal(24_000)}
    assert schedule.totals.interest_amount == Decimal(144_000)


def test_rate_per_month_equals_twelve_times_per_year() -> None:
    """2 % a month is 24 % a year: the same schedule."""
    per_month = generate_schedule(
        xof_terms(interest_rate_percent=Decimal(2), interest_rate_period=InterestRatePeriod.PER_MONTH)
    )
    assert per_month == generate_schedule(xof_terms())


def test_same_as_repayment_period_ignores_month_length() -> None:
    """Per-period interest: February (28 days) and March (31 days) both earn 2 %.

    EMI = 1,200,000 x 0.02 / (1 - 1.02^-6) = 214,231.0 -> 214,231. Month 1: 24,000 interest;
    month 2: balance 1,200,000 - 190,231 = 1,009,769, interest 20,195.38 -> 20,195.
    """
    rows = generate_schedule(xof_terms()).instalments
    assert rows[0].total_amount == Decimal(214_231)
    assert rows[0].interest_amount == Decimal(24_000)
    assert rows[1].interest_amount == Decimal(20_195)


def test_daily_interest_actual_days_over_365() -> None:
    """Daily interest, 365-day year: January has 31 days, February 28.

    Month 1: 1,200,000 x 24 % x 31 / 365 = 24,460.27 -> 24,460.
    The instalment amortises the loan on these real rates (see `interest.level_payment`);
    with it, month 1's principal is 189,617 and the balance 1,010,383.
    Month 2: 1,010,383 x 24 % x 28 / 365 = 18,601.88 -> 18,602.
    """
    terms = xof_terms(
        interest_calculation_period=InterestCalculationPeriod.DAILY, days_in_year=DaysInYear.DAYS_365
    )
    rows = generate_schedule(terms).instalments
    assert [row.days for row in rows] == [31, 28, 31, 30, 31, 30]
    assert rows[0].interest_amount == Decimal(24_460)
    assert rows[0].balance_amount == Decimal(1_010_383)
    assert rows[1].interest_amount == Decimal(18_602)
    # equal instalments: every one but the last is the same, the last differs by rounding only
    assert len({row.total_amount for row in rows[:-1]}) == 1
    assert abs(rows[-1].total_amount - rows[0].total_amount) <= 6


def test_days_in_year_conventions_on_a_31_day_month() -> None:
    """1,200,000 x 24 % = 288,000 a year; January's 31 days earn 288,000 x 31 / year.

    360: 24,800 exactly; 364: 24,527.47 -> 24,527; 365: 24,460.27 -> 24,460;
    actual in 2024 (leap year): 288,000 x 31 / 366 = 24,393.44 -> 24,393.
    """
    expected = {
        DaysInYear.DAYS_360: 24_800,
        DaysInYear.DAYS_364: 24_527,
        DaysInYear.DAYS_365: 24_460,
        DaysInYear.ACTUAL: 24_393,
    }
    for days_in_year, interest in expected.items():
        terms = xof_terms(
            disbursement_date=date(2024, 1, 1),
            interest_calculation_period=InterestCalculationPeriod.DAILY,
            days_in_year=days_in_year,
        )
        assert generate_schedule(terms).instalments[0].interest_amount == Decimal(interest), days_in_year


def test_actual_year_splits_a_period_across_new_year() -> None:
    """15 Dec 2023 -> 15 Jan 2024: 17 days in 2023 (/365) and 14 days in 2024 (/366).

    288,000 x 17 / 365 = 13,413.70 and 288,000 x 14 / 366 = 11,016.39: 24,430.09 -> 24,430.
    """
    terms = xof_terms(
        disbursement_date=date(2023, 12, 15),
        interest_calculation_period=InterestCalculationPeriod.DAILY,
        days_in_year=DaysInYear.ACTUAL,
    )
    assert generate_schedule(terms).instalments[0].interest_amount == Decimal(24_430)


def test_commercial_month_counts_thirty_days() -> None:
    """Days in month 30 with a 360-day year: every month is 30/360, so 2 % a month exactly.

    February (28 actual days) earns the same 2 % as January: daily interest then equals the
    per-period schedule to the franc.
    """
    daily_30_360 = xof_terms(
        interest_calculation_period=InterestCalculationPeriod.DAILY,
        days_in_year=DaysInYear.DAYS_360,
        days_in_month=DaysInMonth.DAYS_30,
    )
    rows = generate_schedule(daily_30_360).instalments
    assert [row.interest_amount for row in rows] == [
        row.interest_amount for row in generate_schedule(xof_terms()).instalments
    ]
    assert rows[1].days == 28  # the row still shows actual days


def test_weekly_repayments_with_minimum_days_to_first_repayment() -> None:
    """Seed 001: disbursed 1 January, weekly, 10 days minimum -> first due 11 January, not 8.

    Per-period rate 24 % / 52 weeks; the 10-day first period is 10/7 of a week:
    1,200,000 x 0.24 / 52 x 10 / 7 = 7,912.09 -> 7,912. The next dates step from 11 January.
    """
    terms = xof_terms(
        repayment_frequency_unit=RepaymentFrequencyUnit.WEEKS, repayment_count=4, first_repayment_days_min=10
    )
    rows = generate_schedule(terms).instalments
    assert [row.due_date for row in rows] == [
        date(2025, 1, 11),
        date(2025, 1, 18),
        date(2025, 1, 25),
        date(2025, 2, 1),
    ]
    assert rows[0].interest_amount == Decimal(7_912)


def test_every_two_weeks_and_every_ten_days() -> None:
    """Every 2 weeks: 24 % x 2 / 52 = 0.923 % -> 11,076.92 -> 11,077 on 1,200,000.
    Every 10 days on a 365-day basis: 24 % x 10 / 365 -> 7,890.41 -> 7,890.
    """
    fortnightly = xof_terms(repayment_frequency_unit=RepaymentFrequencyUnit.WEEKS, repayment_every=2)
    rows = generate_schedule(fortnightly).instalments
    assert rows[0].due_date == date(2025, 1, 15)
    assert rows[0].interest_amount == Decimal(11_077)
    ten_days = xof_terms(
        repayment_frequency_unit=RepaymentFrequencyUnit.DAYS,
        repayment_every=10,
        days_in_year=DaysInYear.DAYS_365,
    )
    rows = generate_schedule(ten_days).instalments
    assert rows[0].due_date == date(2025, 1, 11)
    assert rows[0].interest_amount == Decimal(7_890)


def test_yearly_repayments() -> None:
    """Every year at 24 %: interest in year 1 = 288,000.

    EMI = 288,000 / (1 - 1.24^-2); 1.24^2 = 1.5376, 1 / 1.5376 = 0.650364, so
    288,000 / 0.349636 = 823,714.29 -> 823,714.
    """
    rows = generate_schedule(
        xof_terms(repayment_frequency_unit=RepaymentFrequencyUnit.YEARS, repayment_count=2)
    ).instalments
    assert rows[0].due_date == date(2026, 1, 1)
    assert rows[0].interest_amount == Decimal(288_000)
    assert rows[0].total_amount == Decimal(823_714)


def test_first_repayment_date_gives_a_broken_first_period() -> None:
    """First due 15 February from 1 January: 15 Jan-15 Feb is one period, 1-15 Jan is 14 of
    the 31 days from 15 December: 1 + 14/31 = 45/31 periods.

    Interest: 24,000 x 45 / 31 = 34,838.71 -> 34,839. Later dates step from 15 February.
    """
    terms = xof_terms(first_repayment_date=date(2025, 2, 15))
    rows = generate_schedule(terms).instalments
    assert rows[0].interest_amount == Decimal(34_839)
    assert [row.due_date for row in rows[:3]] == [date(2025, 2, 15), date(2025, 3, 15), date(2025, 4, 15)]


def test_month_end_disbursement_keeps_month_end_due_dates() -> None:
    """Disbursed 31 January: due 28 February, 31 March, 30 April (anchored, no drift to the 28th)."""
    rows = generate_schedule(xof_terms(disbursement_date=date(2025, 1, 31), repayment_count=3)).instalments
    assert [row.due_date for row in rows] == [date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]
    assert rows[0].interest_amount == Decimal(24_000)  # a regular (short) month is still one period
