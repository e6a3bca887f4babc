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
    `first_start` None means from the first period there is."""

    grain: Grain
    first_start: date | None
    last_start: date


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
