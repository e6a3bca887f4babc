"""Interest periods of deposit accounts: day counts, compounding and posting boundaries.

Pure date arithmetic, no clock. A `Period` is a closed range of days, ``first_day`` to
``last_day`` inclusive, because that is how a statement reads ("interest from 1 to 31
January") and how an accountant counts the days: 31 for January.

Two ways to cut time into periods:

* **calendar** (``anchor=None``): monthly periods end on the last day of each month,
  quarterly ones on 31 March, 30 June, 30 September and 31 December, semi-annual ones on
  30 June and 31 December, annual ones on 31 December. This is what savings accounts use:
  every account of a product posts on the same month end.
* **anniversary** (``anchor=<a date>``): periods start on the anchor and every whole number
  of months after it, the day clamped to the month's end and always counted from the anchor
  (opened 31 January: boundaries 28 February, 31 March, 30 April, never drifting to the
  28th). Term deposits use their activation date.

Compounding periods are never longer than posting periods (checked by
`interest.validate_interest_settings`), and both are cut from the same anchor, so every
posting period end is also a compounding period end.
"""

import calendar as stdlib_calendar
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from products.deposits.limits import CALCULATION_DAYS_MAX
from products.loans.calendar import add_months

_ONE_DAY: Final = timedelta(days=1)


class DaysInYear(StrEnum):
    """Denominator of daily interest: 360, 365, or ``actual`` (366 for days of a leap year)."""

    ACTUAL = "actual"
    DAYS_360 = "360"
    DAYS_365 = "365"


class CompoundingPeriod(StrEnum):
    """When accrued interest joins the interest base (seed 004 "période de capitalisation")."""

    DAILY = "daily"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    ANNUAL = "annual"


class PostingPeriod(StrEnum):
    """When interest is credited to the account (seed 004 "fréquence de validation")."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    ANNUAL = "annual"
    AT_MATURITY = "at_maturity"


COMPOUNDING_MONTHS: Final[dict[CompoundingPeriod, int]] = {
    CompoundingPeriod.DAILY: 0,
    CompoundingPeriod.MONTHLY: 1,
    CompoundingPeriod.QUARTERLY: 3,
    CompoundingPeriod.SEMI_ANNUAL: 6,
    CompoundingPeriod.ANNUAL: 12,
}
"""Months per compounding period; 0 means every day."""

POSTING_MONTHS: Final[dict[PostingPeriod, int | None]] = {
    PostingPeriod.MONTHLY: 1,
    PostingPeriod.QUARTERLY: 3,
    PostingPeriod.SEMI_ANNUAL: 6,
    PostingPeriod.ANNUAL: 12,
    PostingPeriod.AT_MATURITY: None,
}
"""Months per posting period; ``None`` means one period up to the end of the calculation."""

assert set(COMPOUNDING_MONTHS) == set(CompoundingPeriod)
assert set(POSTING_MONTHS) == set(PostingPeriod)
assert all(12 % months == 0 for months in COMPOUNDING_MONTHS.values() if months), (
    "calendar cut needs divisors of 12"
)


class Period(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """Days ``first_day`` to ``last_day``, both included."""

    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"period ends ({self.last_day}) before it starts ({self.first_day})")

    @property
    def days(self) -> int:
        """Number of days in the period (31 for 1-31 January)."""
        return (self.last_day - self.first_day).days + 1

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def days_in_year_on(day: date, days_in_year: DaysInYear) -> int:
    """The year length that divides one day's interest: 360, 365, or 365/366 by calendar year."""
    if days_in_year is DaysInYear.DAYS_360:
        return 360
    if days_in_year is DaysInYear.DAYS_365:
        return 365
    assert days_in_year is DaysInYear.ACTUAL, days_in_year
    return 366 if stdlib_calendar.isleap(day.year) else 365


def year_fraction(period: Period, days_in_year: DaysInYear) -> Decimal:
    """Share of a year the period's days make: sum over its days of 1 / days-in-year of that day."""
    if days_in_year is not DaysInYear.ACTUAL:
        return Decimal(period.days) / days_in_year_on(period.first_day, days_in_year)
    fraction = Decimal(0)
    for year in range(period.first_day.year, period.last_day.year + 1):
        first = max(period.first_day, date(year, 1, 1))
        last = min(period.last_day, date(year, 12, 31))
        fraction += Decimal((last - first).days + 1) / (366 if stdlib_calendar.isleap(year) else 365)
    return fraction


def period_containing(day: date, months: int, anchor: date | None) -> Period:
    """The ``months``-long period that contains ``day``.

    Calendar periods (``anchor=None``) end at the end of a month whose number is a multiple
    of ``months``; anniversary periods run from ``anchor`` + k x ``months`` to the day before
    ``anchor`` + (k + 1) x ``months``, each boundary counted from the anchor.
    """
    assert months in (1, 3, 6, 12), months
    if anchor is None:
        end_month = -(-day.month // months) * months
        last_day = date(day.year, end_month, stdlib_calendar.monthrange(day.year, end_month)[1])
        return Period(first_day=date(day.year, end_month - months + 1, 1), last_day=last_day)
    months_apart = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    step = months_apart // months
    while add_months(anchor, step * months) <= day:  # at most twice
        step += 1
    while add_months(anchor, (step - 1) * months) > day:  # a clamped month end can overshoot
        step -= 1
    return Period(
        first_day=add_months(anchor, (step - 1) * months),
        last_day=add_months(anchor, step * months) - _ONE_DAY,
    )


def split_period(period: Period, months: int | None, anchor: date | None) -> list[Period]:
    """Cut ``period`` at the ends of ``months``-long periods (0: every day; None: not at all).

    The first and last pieces may be partial: an account opened on 15 January has a first
    monthly piece 15-31 January, and a calculation up to 10 March a last piece 1-10 March.
    """
    assert period.days <= CALCULATION_DAYS_MAX, period
    if months is None:
        return [period]
    if months == 0:
        return [Period(first_day=day, last_day=day) for day in _days(period)]
    pieces: list[Period] = []
    first = period.first_day
    while first <= period.last_day:
        last = min(period_containing(first, months, anchor).last_day, period.last_day)
        pieces.append(Period(first_day=first, last_day=last))
        first = last + _ONE_DAY
    return pieces


def posting_periods(period: Period, posting: PostingPeriod, anchor: date | None) -> list[Period]:
    """The posting periods that make up ``period`` (``at_maturity``: the whole of it)."""
    return split_period(period, POSTING_MONTHS[posting], anchor)


def compounding_periods(period: Period, compounding: CompoundingPeriod, anchor: date | None) -> list[Period]:
    """The compounding periods that make up ``period`` (``daily``: one per day)."""
    return split_period(period, COMPOUNDING_MONTHS[compounding], anchor)


def posting_period_containing(day: date, posting: PostingPeriod, anchor: date | None) -> Period:
    """The whole posting period ``day`` falls in; the job uses it to name "this month's interest".

    ``at_maturity`` has no period of its own: the caller knows the maturity date.
    """
    months = POSTING_MONTHS[posting]
    assert months is not None, "at-maturity posting has no calendar period"
    return period_containing(day, months, anchor)


def _days(period: Period) -> list[date]:
    return [period.first_day + timedelta(days=offset) for offset in range(period.days)]
