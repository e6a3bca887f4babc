"""Maturity ladder of term deposits: what falls due, week by week and month by month (M10.2).

Liquidity planning asks "how much must we be able to pay out, and when?". Each deposit
contributes its amount due at maturity (principal plus projected interest, as the caller
computes it with `term_deposit.project_term_deposit`) to the bucket its maturity date falls
in. Weekly buckets are rolling seven-day spans from the report date (so "this week" is the
next seven days, not a calendar week already half gone); monthly buckets are calendar
months, the first one running from the report date to the end of its month. Deposits past
their maturity date and not yet paid are reported apart as ``overdue``; those beyond the
horizon as ``later``. Amounts are summed per currency and never mixed.
"""

import bisect
import calendar as stdlib_calendar
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec

from products.deposits.periods import Period

WEEKS_MAX: Final = 104
MONTHS_MAX: Final = 120


class MaturingDeposit(msgspec.Struct, frozen=True, kw_only=True):
    """One deposit as the ladder sees it."""

    maturity_date: date
    amount_due: Decimal
    currency: str


class LadderBucket(msgspec.Struct, frozen=True, kw_only=True):
    """Deposits of one currency maturing within ``period``."""

    period: Period
    currency: str
    amount_due: Decimal
    deposit_count: int


class MaturityLadder(msgspec.Struct, frozen=True, kw_only=True):
    """Weekly and monthly buckets, plus what is overdue and what falls after the horizon."""

    as_of: date
    weekly: tuple[LadderBucket, ...]
    monthly: tuple[LadderBucket, ...]
    overdue: tuple[LadderBucket, ...]
    later: tuple[LadderBucket, ...]


def maturity_ladder(
    deposits: Iterable[MaturingDeposit], as_of: date, *, weeks: int, months: int
) -> MaturityLadder:
    """Bucket ``deposits`` from ``as_of``: ``weeks`` rolling weeks and ``months`` calendar months.

    Every bucket of the horizon is listed for every currency present, empty ones with 0, so a
    report shows the gaps. ``later`` starts after the longer of the two horizons.
    """
    assert 1 <= weeks <= WEEKS_MAX, weeks
    assert 1 <= months <= MONTHS_MAX, months
    deposits = list(deposits)
    weekly_periods = [
        Period(first_day=as_of + timedelta(days=7 * k), last_day=as_of + timedelta(days=7 * k + 6))
        for k in range(weeks)
    ]
    monthly_periods = []
    first = as_of
    for _ in range(months):
        last = date(first.year, first.month, stdlib_calendar.monthrange(first.year, first.month)[1])
        monthly_periods.append(Period(first_day=first, last_day=last))
        first = last + timedelta(days=1)
    horizon_end = max(weekly_periods[-1].last_day, monthly_periods[-1].last_day)
    currencies = sorted({deposit.currency for deposit in deposits})
    overdue_period = Period(first_day=date.min, last_day=as_of - timedelta(days=1))
    later_period = Period(first_day=horizon_end + timedelta(days=1), last_day=date.max)
    return MaturityLadder(
        as_of=as_of,
        weekly=_buckets(deposits, weekly_periods, currencies),
        monthly=_buckets(deposits, monthly_periods, currencies),
        overdue=_buckets(deposits, [overdue_period], currencies),
        later=_buckets(deposits, [later_period], currencies),
    )


def _buckets(
    deposits: list[MaturingDeposit], periods: list[Period], currencies: list[str]
) -> tuple[LadderBucket, ...]:
    totals: dict[tuple[int, str], tuple[Decimal, int]] = {}
    starts = [period.first_day for period in periods]
    for deposit in deposits:
        index = _bisect_period(starts, periods, deposit.maturity_date)
        if index is None:
            continue
        amount, count = totals.get((index, deposit.currency), (Decimal(0), 0))
        totals[(index, deposit.currency)] = (amount + deposit.amount_due, count + 1)
    buckets: list[LadderBucket] = []
    for index, period in enumerate(periods):
        for currency in currencies:
            amount, count = totals.get((index, currency), (Decimal(0), 0))
            buckets.append(
                LadderBucket(period=period, currency=currency, amount_due=amount, deposit_count=count)
            )
    return tuple(buckets)


def _bisect_period(starts: list[date], periods: list[Period], day: date) -> int | None:
    """Index of the period holding ``day`` (periods are contiguous and sorted), or None."""
    index = bisect.bisect_right(starts, day) - 1
    if index < 0 or not periods[index].contains(day):
        return None
    return index
