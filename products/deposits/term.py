"""Terms of a term deposit: "12 months", "90 days", and the date they end on.

A term is added to the activation date the way a loan officer counts: days and weeks as
calendar days, months and years as calendar months with the day kept, clamped to the end
of a shorter month (opened 31 January for 1 month: matures 28 February, or 29 in a leap
year). With `MonthEndRule.MONTH_END`, a deposit opened on the last day of a month matures
on the last day of the target month (30 April for 1 month: 31 May instead of 30 May), the
Mambu/Fineract "month-end" option. The maturity date is the first day the deposit no longer
earns: opened 1 January 2026 for 12 months, it earns 365 days and matures 1 January 2027.
"""

import calendar as stdlib_calendar
from datetime import date, timedelta
from enum import StrEnum

import msgspec

from products.deposits.errors import DepositError
from products.deposits.limits import TERM_DAYS_MAX
from products.loans.calendar import add_months


class TermUnit(StrEnum):
    """Seed 004's units of duration: jours, semaines, mois, années."""

    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


class MonthEndRule(StrEnum):
    """What a month-based term does when opened on the last day of a month."""

    SAME_DAY = "same_day"  # keep the day, clamped to a shorter month's end
    MONTH_END = "month_end"  # a month-end opening matures on a month end


class Term(msgspec.Struct, frozen=True, kw_only=True):
    """A duration: ``count`` ``unit`` (12 months)."""

    count: int
    unit: TermUnit

    def __str__(self) -> str:
        return f"{self.count} {self.unit.value}"


def add_term(start: date, term: Term, month_end_rule: MonthEndRule = MonthEndRule.SAME_DAY) -> date:
    """``start`` plus ``term``; see the module docstring for month ends."""
    if term.count < 0:
        raise DepositError("term.count", "must not be negative")
    if term.unit is TermUnit.DAYS:
        end = start + timedelta(days=term.count)
    elif term.unit is TermUnit.WEEKS:
        end = start + timedelta(days=7 * term.count)
    else:
        months = term.count * (12 if term.unit is TermUnit.YEARS else 1)
        end = add_months(start, months)
        if month_end_rule is MonthEndRule.MONTH_END and _is_month_end(start):
            end = date(end.year, end.month, stdlib_calendar.monthrange(end.year, end.month)[1])
    if (end - start).days > TERM_DAYS_MAX:
        raise DepositError("term.count", f"a term must not exceed {TERM_DAYS_MAX} days")
    return end


def maturity_date(
    activated_on: date, term: Term, month_end_rule: MonthEndRule = MonthEndRule.SAME_DAY
) -> date:
    """The day the deposit matures: activation + term. It earns interest up to the day before."""
    if term.count <= 0:
        raise DepositError("term.count", "a term deposit needs a term of at least one unit")
    return add_term(activated_on, term, month_end_rule)


def whole_units_between(start: date, term: Term, unit: TermUnit) -> int:
    """The length of ``term`` from ``start`` counted in whole ``unit`` (for rate-chart rows)."""
    if unit is term.unit:
        return term.count
    end = add_term(start, term)
    days = (end - start).days
    if unit is TermUnit.DAYS:
        return days
    if unit is TermUnit.WEEKS:
        return days // 7
    months = (end.year - start.year) * 12 + (end.month - start.month)
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return months if unit is TermUnit.MONTHS else months // 12


def _is_month_end(day: date) -> bool:
    return day.day == stdlib_calendar.monthrange(day.year, day.month)[1]
