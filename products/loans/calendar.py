"""Due dates, working days and day counts. Pure date arithmetic, no clock.

Due dates are anchored, never stepped from the previous one: a regular schedule on the
disbursement date (k-th due date = disbursement + k x every x unit), a schedule with an
explicit or pushed first date on that date; month ends are clamped, so a loan disbursed
on 31 January falls due on 28 February, 31 March, 30 April. Stepping from the previous
date would drift (31 Jan, 28 Feb, 28 Mar, ...).

A due date on a non-working weekday or a holiday moves to the next or previous working day,
or stays, as the product says. Moves are monotonic, so moved dates never cross; two dates
may land on the same day (daily loans over a weekend), which gives a zero-day period.

Day counts are actual days, or 30E/360 for the commercial month (seed 002's "mois
commercial"): every month counts 30 days and the 31st counts as the 30th.
"""

import calendar as stdlib_calendar
import itertools
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from products.loans.errors import TermsError
from products.loans.limits import HOLIDAY_SHIFT_DAYS_MAX, SCHEDULE_PERIODS_MAX
from products.loans.terms import DaysInMonth, DaysInYear, HolidayRule, LoanTerms, RepaymentFrequencyUnit

_ONE_DAY: Final = timedelta(days=1)


def add_months(start: date, months: int) -> date:
    """``start`` plus whole months, the day clamped to the target month's end."""
    month_index = start.year * 12 + (start.month - 1) + months
    year, month_zero_based = divmod(month_index, 12)
    month = month_zero_based + 1
    day = min(start.day, stdlib_calendar.monthrange(year, month)[1])
    return date(year, month, day)


def add_period(start: date, count: int, unit: RepaymentFrequencyUnit) -> date:
    """``start`` plus ``count`` units (days, weeks, months or years)."""
    if unit is RepaymentFrequencyUnit.MONTHS:
        return add_months(start, count)
    if unit is RepaymentFrequencyUnit.YEARS:
        return add_months(start, 12 * count)
    if unit is RepaymentFrequencyUnit.WEEKS:
        return start + timedelta(days=7 * count)
    assert unit is RepaymentFrequencyUnit.DAYS, unit
    return start + timedelta(days=count)


def first_due_date(terms: LoanTerms) -> date:
    """The first nominal due date.

    An explicit ``first_repayment_date`` wins (validation checks it respects the minimum
    days). Otherwise one period after disbursement, pushed to disbursement +
    ``first_repayment_days_min`` days when that is later: seed 001's weekly loan disbursed
    on 1 January with a 10-day minimum is first due on 11 January, not 8 January.
    """
    if terms.first_repayment_date is not None:
        return terms.first_repayment_date
    natural = add_period(terms.disbursement_date, terms.repayment_every, terms.repayment_frequency_unit)
    earliest = terms.disbursement_date + timedelta(days=terms.first_repayment_days_min)
    return max(natural, earliest)


def is_regular_first_period(terms: LoanTerms, first_due: date) -> bool:
    """True when the first period is exactly one repayment period long."""
    natural = add_period(terms.disbursement_date, terms.repayment_every, terms.repayment_frequency_unit)
    return first_due == natural


def nominal_due_dates(terms: LoanTerms) -> list[date]:
    """Due dates before any working-day move, one per instalment.

    A regular schedule is anchored on the disbursement date (31 Jan, 28 Feb, 31 Mar: the
    month-end is kept); an explicit or pushed first date anchors the following ones.
    """
    assert 1 <= terms.repayment_count <= SCHEDULE_PERIODS_MAX, terms.repayment_count
    first = first_due_date(terms)
    every = terms.repayment_every
    unit = terms.repayment_frequency_unit
    count = terms.repayment_count
    if unit is RepaymentFrequencyUnit.DAYS or unit is RepaymentFrequencyUnit.WEEKS:
        step = timedelta(days=every * (7 if unit is RepaymentFrequencyUnit.WEEKS else 1))
        return [first + step * index for index in range(count)]
    months_per_step = every * (12 if unit is RepaymentFrequencyUnit.YEARS else 1)
    if is_regular_first_period(terms, first):
        anchor = terms.disbursement_date
        return [add_months(anchor, months_per_step * index) for index in range(1, count + 1)]
    return [add_months(first, months_per_step * index) for index in range(count)]


def periods_elapsed(
    start: date, end: date, every: int, unit: RepaymentFrequencyUnit, days_in_month: DaysInMonth
) -> Decimal:
    """Repayment periods from ``start`` to ``end``, counting whole periods forward from ``start``.

    Used for the TEG's time axis: whole periods from the disbursement, then the leftover
    days as a share of the period they fall in (as the EU consumer-credit annex counts).
    """
    if end <= start:
        return Decimal(0)
    if unit is RepaymentFrequencyUnit.DAYS or unit is RepaymentFrequencyUnit.WEEKS:
        step_days = every * (7 if unit is RepaymentFrequencyUnit.WEEKS else 1)
        return Decimal((end - start).days) / step_days
    months_per_step = every * (12 if unit is RepaymentFrequencyUnit.YEARS else 1)
    months_apart = (end.year - start.year) * 12 + (end.month - start.month)
    whole_steps = months_apart // months_per_step
    boundary = add_months(start, whole_steps * months_per_step)
    while boundary > end:  # at most twice
        whole_steps -= 1
        boundary = add_months(start, whole_steps * months_per_step)
    if boundary == end:
        return Decimal(whole_steps)
    following = add_months(start, (whole_steps + 1) * months_per_step)
    return whole_steps + _share_of_step(
        day_count(boundary, end, days_in_month), day_count(boundary, following, days_in_month)
    )


def _share_of_step(leftover_days: int, step_days: int) -> Decimal:
    """Leftover days as a share of one period, clamped to [0, 1].

    Actual days give a share strictly inside (0, 1); 30E/360 near month ends can count 0
    leftover days (30th to 31st) or as many as the period, hence the clamp.
    """
    assert step_days >= 0, step_days
    if leftover_days <= 0 or step_days == 0:
        return Decimal(0)
    return Decimal(min(leftover_days, step_days)) / step_days


class WorkingDays:
    """The institution's non-working weekdays and holidays, compiled for fast lookup."""

    __slots__ = ("holidays", "non_working_iso_weekdays", "rule")

    def __init__(self, terms: LoanTerms) -> None:
        self.non_working_iso_weekdays = frozenset(day.iso_number for day in terms.non_working_weekdays)
        self.holidays = frozenset(terms.holidays)
        self.rule = terms.holiday_rule
        assert len(self.non_working_iso_weekdays) < 7, "validation leaves at least one working weekday"

    @property
    def moves_dates(self) -> bool:
        """Whether any date can move at all."""
        has_closed_days = bool(self.non_working_iso_weekdays) or bool(self.holidays)
        return has_closed_days and self.rule is not HolidayRule.SAME_DAY

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() not in self.non_working_iso_weekdays and day not in self.holidays

    def adjust(self, day: date) -> date:
        """Move ``day`` to a working day per the rule; bounded by HOLIDAY_SHIFT_DAYS_MAX."""
        if not self.moves_dates or self.is_working_day(day):
            return day
        step = _ONE_DAY if self.rule is HolidayRule.NEXT_WORKING_DAY else -_ONE_DAY
        candidate = day
        for _ in range(HOLIDAY_SHIFT_DAYS_MAX):
            candidate = candidate + step
            if self.is_working_day(candidate):
                return candidate
        raise TermsError(
            "holidays", f"no working day within {HOLIDAY_SHIFT_DAYS_MAX} days of {day.isoformat()}"
        )


def adjusted_due_dates(terms: LoanTerms, nominal: Sequence[date]) -> list[date]:
    """Due dates after the working-day rule; checked to stay after the disbursement."""
    working_days = WorkingDays(terms)
    if not working_days.moves_dates:
        return list(nominal)
    moved = [working_days.adjust(day) for day in nominal]
    if moved[0] <= terms.disbursement_date:
        raise TermsError("holiday_rule", "the first due date would move onto or before the disbursement date")
    for earlier, later in itertools.pairwise(moved):
        assert earlier <= later, (earlier, later)  # both rules are monotonic
    return moved


def day_count(start: date, end: date, days_in_month: DaysInMonth) -> int:
    """Days from ``start`` to ``end``: actual, or 30E/360 for the commercial month."""
    if days_in_month is DaysInMonth.ACTUAL:
        return (end - start).days
    start_day = min(start.day, 30)
    end_day = min(end.day, 30)
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (end_day - start_day)


_DAYS_IN_YEAR_FIXED: Final = {DaysInYear.DAYS_360: 360, DaysInYear.DAYS_364: 364, DaysInYear.DAYS_365: 365}


def year_fraction(start: date, end: date, days_in_year: DaysInYear, days_in_month: DaysInMonth) -> Decimal:
    """Share of a year from ``start`` to ``end`` for daily interest.

    With a fixed year (360, 364, 365) it is days / that number. With the actual year a period
    that spans 1 January is split: days in a leap year count 1/366, the others 1/365.
    """
    if start >= end:
        return Decimal(0)
    fixed = _DAYS_IN_YEAR_FIXED.get(days_in_year)
    if fixed is not None:
        return Decimal(day_count(start, end, days_in_month)) / fixed
    if start.year == end.year:
        return Decimal(day_count(start, end, days_in_month)) / _year_length(start.year)
    fraction = Decimal(0)
    segment_start = start
    for year in range(start.year, end.year + 1):
        segment_end = min(end, date(year + 1, 1, 1))
        if segment_start < segment_end:
            fraction += Decimal(day_count(segment_start, segment_end, days_in_month)) / _year_length(year)
        segment_start = segment_end
    return fraction


def _year_length(year: int) -> int:
    return 366 if stdlib_calendar.isleap(year) else 365


def broken_periods_between(
    start: date, end: date, every: int, unit: RepaymentFrequencyUnit, days_in_month: DaysInMonth
) -> Decimal:
    """Repayment periods from ``start`` to ``end``, counting whole periods back from ``end``.

    The broken part at the front counts as leftover days over the days of the whole period
    just before it: 1 January to 15 February, monthly, is 1 + 14/31 periods (15 Jan-15 Feb
    is one period; 1-15 January is 14 of the 31 days from 15 December to 15 January).
    """
    assert start < end, (start, end)
    if unit is RepaymentFrequencyUnit.DAYS or unit is RepaymentFrequencyUnit.WEEKS:
        step_days = every * (7 if unit is RepaymentFrequencyUnit.WEEKS else 1)
        return Decimal((end - start).days) / step_days
    months_per_step = every * (12 if unit is RepaymentFrequencyUnit.YEARS else 1)
    months_apart = (end.year - start.year) * 12 + (end.month - start.month)
    whole_steps = months_apart // months_per_step
    boundary = add_months(end, -whole_steps * months_per_step)
    while boundary < start:  # at most twice: the month count overshoots by less than a step
        whole_steps -= 1
        boundary = add_months(end, -whole_steps * months_per_step)
    if boundary == start:
        return Decimal(whole_steps)
    previous = add_months(end, -(whole_steps + 1) * months_per_step)
    return whole_steps + _share_of_step(
        day_count(start, boundary, days_in_month), day_count(previous, boundary, days_in_month)
    )
