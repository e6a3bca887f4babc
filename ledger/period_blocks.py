"""Cutting a span of value dates into whole years, whole months and single days, pure.

The journal keeps totals per account for every year, month and day that has lines (migration
0003). Any span `[since, through]` is the union of at most five runs of such periods — days up
to a month end, months up to a year end, whole years, then months and days again — so a balance
at any date reads a handful of rows per account instead of every line.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import NamedTuple


class Grain(StrEnum):
    YEAR = "Y"
    MONTH = "M"
    DAY = "D"


class Block(NamedTuple):
    """Periods of one grain whose first day lies in `[first_start, last_start]`;
    `first_start` None means from the first period there is. A block with `sign` -1 is
    subtracted: a balance at 28 March may read the whole of March minus its last three days."""

    grain: Grain
    first_start: date | None
    last_start: date
    sign: int = 1


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def period_blocks(since: date | None, through: date) -> list[Block]:
    """The runs of whole years, months and days that exactly cover `since..through` (both
    included; from the beginning of time when `since` is None). Empty when since > through."""
    assert through.year < date.max.year, "value dates stay far from the calendar's end"
    blocks: list[Block] = []
    if since is None:
        if through >= date(through.year, 12, 31):
            return [Block(Grain.YEAR, None, date(through.year, 1, 1))]
        if through.year > 1:
            blocks.append(Block(Grain.YEAR, None, date(through.year - 1, 1, 1)))
        cursor = date(through.year, 1, 1)
    else:
        cursor = since
    while cursor <= through:
        if cursor.month == 1 and cursor.day == 1 and date(cursor.year, 12, 31) <= through:
            last_year = through.year if through >= date(through.year, 12, 31) else through.year - 1
            blocks.append(Block(Grain.YEAR, cursor, date(last_year, 1, 1)))
            cursor = date(last_year + 1, 1, 1)
        elif cursor.day == 1 and _month_end(cursor) <= through:
            last_month = cursor
            while last_month.month < 12 and _month_end(_next_month(last_month)) <= through:
                last_month = _next_month(last_month)
            blocks.append(Block(Grain.MONTH, cursor, last_month))
            cursor = _next_month(last_month)
        else:
            last_day = min(_month_end(cursor), through)
            blocks.append(Block(Grain.DAY, cursor, last_day))
            cursor = last_day + timedelta(days=1)
    return blocks


def prefix_blocks(through: date) -> list[Block]:
    """Signed runs of whole years, months and days whose sum is every day up to `through`
    (included), reading as few periods as possible: the months of the year before its month,
    or the whole year minus the months after; the days of the month up to the date, or the whole
    month minus the days after. Each grain keeps one sign, so a total is
    `sum(sign(grain) * amount)`. Twice as few rows as `period_blocks(None, through)` on average."""
    assert through.year < date.max.year, "value dates stay far from the calendar's end"
    year_start = date(through.year, 1, 1)
    month_start = date(through.year, through.month, 1)
    month_end = _month_end(through)
    months_before, months_after = through.month - 1, 12 - through.month
    days_to_date, days_after = through.day, (month_end - through).days
    # Four ways to read the date's year: months forward or backward, days forward or backward.
    options = {
        ("forward", "forward"): months_before + days_to_date,
        ("forward", "backward"): months_before + 1 + days_after,
        ("backward", "forward"): months_after + 1 + days_to_date,
        ("backward", "backward"): months_after + days_after,
    }
    months_way, days_way = min(options, key=lambda way: (options[way], way))
    blocks: list[Block] = []
    last_year = through.year if months_way == "backward" else through.year - 1
    if last_year >= 1:
        blocks.append(Block(Grain.YEAR, None, date(last_year, 1, 1)))
    month_first, month_last = (
        (year_start, month_start) if months_way == "forward" else (month_start, date(through.year, 12, 1)))
    if months_way == "forward":
        # whole months before the date's month, and that month itself when its days are read backward
        if days_way == "forward":
            month_last = _previous_month(month_start)
        if month_last >= month_first:
            blocks.append(Block(Grain.MONTH, month_first, month_last))
    else:
        # the year minus the months after the date's month, and minus that month too when its days
        # are read forward
        if days_way == "backward":
            month_first = _next_month(month_start)
        if month_first <= month_last:
            blocks.append(Block(Grain.MONTH, month_first, month_last, sign=-1))
    if days_way == "forward":
        blocks.append(Block(Grain.DAY, month_start, through))
    elif days_after:
        blocks.append(Block(Grain.DAY, through + timedelta(days=1), month_end, sign=-1))
    return blocks


def _previous_month(day: date) -> date:
    return date(day.year - 1, 12, 1) if day.month == 1 else date(day.year, day.month - 1, 1)
