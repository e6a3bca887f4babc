"""Period boundaries, day counts and terms: pure date arithmetic, hand-checked."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from products.deposits import (
    CompoundingPeriod,
    DaysInYear,
    DepositError,
    MonthEndRule,
    Period,
    PostingPeriod,
    Term,
    TermUnit,
    add_term,
    compounding_periods,
    maturity_date,
    period_containing,
    posting_period_containing,
    posting_periods,
)
from products.deposits.periods import year_fraction
from products.deposits.term import whole_units_between
from products.loans.calendar import add_months


def p(first: str, last: str) -> Period:
    return Period(first_day=date.fromisoformat(first), last_day=date.fromisoformat(last))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-02-14", 1, p("2026-02-01", "2026-02-28")),
        ("2028-02-14", 1, p("2028-02-01", "2028-02-29")),
        ("2026-05-31", 3, p("2026-04-01", "2026-06-30")),
        ("2026-01-01", 3, p("2026-01-01", "2026-03-31")),
        ("2026-07-01", 6, p("2026-07-01", "2026-12-31")),
        ("2026-06-30", 6, p("2026-01-01", "2026-06-30")),
        ("2026-09-09", 12, p("2026-01-01", "2026-12-31")),
    ],
)
def test_calendar_periods(day: str, months: int, expected: Period) -> None:
    assert period_containing(date.fromisoformat(day), months, None) == expected


def test_anniversary_periods_from_a_month_end_do_not_drift() -> None:
    """Opened 31 January: boundaries 28 February, 31 March, 30 April (each from the anchor)."""
    anchor = date(2026, 1, 31)
    got = posting_periods(p("2026-01-31", "2026-05-30"), PostingPeriod.MONTHLY, anchor)
    assert got == [
        p("2026-01-31", "2026-02-27"),
        p("2026-02-28", "2026-03-30"),
        p("2026-03-31", "2026-04-29"),
        p("2026-04-30", "2026-05-30"),
    ]


def test_anniversary_quarter_of_a_deposit_opened_mid_month() -> None:
    anchor = date(2026, 3, 15)
    assert period_containing(date(2026, 6, 14), 3, anchor) == p("2026-03-15", "2026-06-14")
    assert period_containing(date(2026, 6, 15), 3, anchor) == p("2026-06-15", "2026-09-14")
    assert period_containing(date(2026, 3, 14), 3, anchor) == p("2025-12-15", "2026-03-14")


def test_partial_first_and_last_pieces() -> None:
    """Opened 15 January, calculated to 10 March: 15-31 Jan, February, 1-10 March."""
    got = posting_periods(p("2026-01-15", "2026-03-10"), PostingPeriod.MONTHLY, None)
    assert got == [
        p("2026-01-15", "2026-01-31"),
        p("2026-02-01", "2026-02-28"),
        p("2026-03-01", "2026-03-10"),
    ]


def test_at_maturity_is_one_period_and_daily_is_one_per_day() -> None:
    whole = p("2026-01-01", "2026-12-31")
    assert posting_periods(whole, PostingPeriod.AT_MATURITY, None) == [whole]
    days = compounding_periods(p("2026-02-27", "2026-03-02"), CompoundingPeriod.DAILY, None)
    assert [d.first_day.day for d in days] == [27, 28, 1, 2]


def test_posting_period_containing() -> None:
    assert posting_period_containing(date(2026, 8, 20), PostingPeriod.QUARTERLY, None) == p(
        "2026-07-01", "2026-09-30"
    )


@given(
    first=st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    length=st.integers(0, 1000),
    posting=st.sampled_from([pp for pp in PostingPeriod if pp is not PostingPeriod.AT_MATURITY]),
    anchored=st.booleans(),
)
def test_posting_periods_tile_the_range(
    first: date, length: int, posting: PostingPeriod, anchored: bool
) -> None:
    whole = Period(first_day=first, last_day=first + timedelta(days=length))
    pieces = posting_periods(whole, posting, first if anchored else None)
    assert pieces[0].first_day == whole.first_day
    assert pieces[-1].last_day == whole.last_day
    for earlier, later in itertools.pairwise(pieces):
        assert later.first_day == earlier.last_day + timedelta(days=1)
    assert sum(piece.days for piece in pieces) == whole.days


def test_year_fraction_actual_splits_at_new_year() -> None:
    """1 Dec 2027 - 31 Jan 2028: 31 days of 2027 / 365 + 31 days of leap 2028 / 366."""
    got = year_fraction(p("2027-12-01", "2028-01-31"), DaysInYear.ACTUAL)
    assert got == Decimal(31) / 365 + Decimal(31) / 366
    assert year_fraction(p("2027-12-01", "2028-01-31"), DaysInYear.DAYS_360) == Decimal(62) / 360


@pytest.mark.parametrize(
    ("opened", "term", "rule", "expected"),
    [
        ("2026-01-01", Term(count=12, unit=TermUnit.MONTHS), MonthEndRule.SAME_DAY, "2027-01-01"),
        ("2026-01-31", Term(count=1, unit=TermUnit.MONTHS), MonthEndRule.SAME_DAY, "2026-02-28"),
        ("2028-01-31", Term(count=1, unit=TermUnit.MONTHS), MonthEndRule.SAME_DAY, "2028-02-29"),
        ("2026-04-30", Term(count=1, unit=TermUnit.MONTHS), MonthEndRule.SAME_DAY, "2026-05-30"),
        ("2026-04-30", Term(count=1, unit=TermUnit.MONTHS), MonthEndRule.MONTH_END, "2026-05-31"),
        ("2026-02-28", Term(count=1, unit=TermUnit.YEARS), MonthEndRule.SAME_DAY, "2027-02-28"),
        ("2028-02-29", Term(count=1, unit=TermUnit.YEARS), MonthEndRule.SAME_DAY, "2029-02-28"),
        ("2026-03-01", Term(count=90, unit=TermUnit.DAYS), MonthEndRule.SAME_DAY, "2026-05-30"),
        ("2026-03-01", Term(count=13, unit=TermUnit.WEEKS), MonthEndRule.SAME_DAY, "2026-05-31"),
    ],
)
def test_maturity_dates(opened: str, term: Term, rule: MonthEndRule, expected: str) -> None:
    assert maturity_date(date.fromisoformat(opened), term, rule) == date.fromisoformat(expected)


def test_maturity_refuses_empty_and_endless_terms() -> None:
    with pytest.raises(DepositError):
        maturity_date(date(2026, 1, 1), Term(count=0, unit=TermUnit.MONTHS))
    with pytest.raises(DepositError):
        add_term(date(2026, 1, 1), Term(count=31, unit=TermUnit.YEARS))


def test_term_counted_in_other_units() -> None:
    """90 days from 1 March end 30 May: 12 whole weeks, 2 whole months (1 May <= 30 May < 1 June)."""
    term = Term(count=90, unit=TermUnit.DAYS)
    opened = date(2026, 3, 1)
    assert whole_units_between(opened, term, TermUnit.WEEKS) == 12
    assert whole_units_between(opened, term, TermUnit.MONTHS) == 2
    assert whole_units_between(opened, Term(count=18, unit=TermUnit.MONTHS), TermUnit.YEARS) == 1
    assert whole_units_between(opened, Term(count=1, unit=TermUnit.YEARS), TermUnit.DAYS) == 365


@given(
    anchor=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 12, 31))),
    day=st.dates(date(2015, 1, 1), date(2035, 12, 31)),
    months=st.sampled_from([1, 3, 6, 12]),
)
def test_period_containing_is_consistent(anchor: date | None, day: date, months: int) -> None:
    """The period holds the day, is one period long (within a clamped month end), and the next one
    starts the day after it ends; anniversary periods start on anchor + k x months."""
    period = period_containing(day, months, anchor)
    assert period.contains(day)
    assert 28 * months - 3 <= period.days <= 31 * months + 3
    following = period_containing(period.last_day + timedelta(days=1), months, anchor)
    assert following.first_day == period.last_day + timedelta(days=1)
    assert period_containing(period.first_day, months, anchor) == period
    if anchor is not None:
        months_apart = (period.first_day.year - anchor.year) * 12 + period.first_day.month - anchor.month
        assert months_apart % months == 0
        assert add_months(anchor, months_apart) == period.first_day
