"""An office's calendar: which days it works, and the next or previous working day.

Pure. The service builds an `OfficeCalendar` from the office's working week (its own, its
nearest ancestor's, or the institution's default) and the holidays of that office or of all
offices. `loan_terms_days` hands the same facts to the loan schedule engine
(`products.loans.calendar.WorkingDays` reads them from `LoanTerms`), so due dates and
"next working day" answers agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final

import msgspec

from products.loans.limits import HOLIDAY_SHIFT_DAYS_MAX
from products.loans.terms import HolidayRule, Weekday
from products.reference.errors import ReferenceDataError

_ONE_DAY: Final = timedelta(days=1)
DEFAULT_WORKING_WEEKDAYS: Final = (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY,
                                   Weekday.FRIDAY)
"""The week of an institution that has set none."""


class OfficeCalendar(msgspec.Struct, frozen=True, kw_only=True):
    working_weekdays: frozenset[Weekday]
    holidays: frozenset[date]

    def __post_init__(self) -> None:
        assert self.working_weekdays, "an office works at least one weekday"

    @classmethod
    def build(cls, working_weekdays: Iterable[Weekday], holiday_ranges: Iterable[tuple[date, date]]) -> OfficeCalendar:
        days: set[date] = set()
        for first, last in holiday_ranges:
            assert first <= last, (first, last)
            day = first
            while day <= last:
                days.add(day)
                day += _ONE_DAY
        return cls(working_weekdays=frozenset(working_weekdays), holidays=frozenset(days))

    def is_working_day(self, day: date) -> bool:
        return self.weekday_of(day) in self.working_weekdays and day not in self.holidays

    @staticmethod
    def weekday_of(day: date) -> Weekday:
        return list(Weekday)[day.isoweekday() - 1]

    def loan_terms_days(self) -> tuple[tuple[Weekday, ...], tuple[date, ...]]:
        """(non-working weekdays, holidays) in the shape `LoanTerms` takes them."""
        closed = tuple(day for day in Weekday if day not in self.working_weekdays)
        return closed, tuple(sorted(self.holidays))


def next_working_day(calendar: OfficeCalendar, day: date) -> date:
    """`day` itself when the office works that day, else the first working day after it."""
    return _walk(calendar, day, _ONE_DAY)


def previous_working_day(calendar: OfficeCalendar, day: date) -> date:
    """`day` itself when the office works that day, else the last working day before it."""
    return _walk(calendar, day, -_ONE_DAY)


def move_to_working_day(calendar: OfficeCalendar, day: date, rule: HolidayRule) -> date:
    """Where a due date on `day` goes under seed 002's « tableau d'amortissement » rule."""
    if rule is HolidayRule.SAME_DAY:
        return day
    if rule is HolidayRule.NEXT_WORKING_DAY:
        return next_working_day(calendar, day)
    assert rule is HolidayRule.PREVIOUS_WORKING_DAY, rule
    return previous_working_day(calendar, day)


def _walk(calendar: OfficeCalendar, day: date, step: timedelta) -> date:
    candidate = day
    for _ in range(HOLIDAY_SHIFT_DAYS_MAX + 1):
        if calendar.is_working_day(candidate):
            return candidate
        candidate += step
    raise ReferenceDataError("date", f"no working day within {HOLIDAY_SHIFT_DAYS_MAX} days of {day.isoformat()}")
