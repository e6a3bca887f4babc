"""Maturity ladder: weekly and monthly buckets, overdue and later, per currency."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from products.deposits.ladder import MaturingDeposit, maturity_ladder


def due(day: str, amount: str, currency: str = "XOF") -> MaturingDeposit:
    return MaturingDeposit(
        maturity_date=date.fromisoformat(day), amount_due=Decimal(amount), currency=currency
    )


def test_ladder_from_wednesday_15_april_2026() -> None:
    """Week 1 is 15-21 April, week 2 22-28 April; month 1 is 15-30 April, month 2 May.
    XOF: 1,000,000 on the 15th and 500,000 on the 21st (week 1), 2,000,000 on the 22nd (week 2),
    300,000 on 10 May (month 2), 9,000,000 in August (later), 700,000 on 1 April (overdue).
    EUR: 5,000 on 30 April."""
    deposits = [
        due("2026-04-15", "1000000"),
        due("2026-04-21", "500000"),
        due("2026-04-22", "2000000"),
        due("2026-05-10", "300000"),
        due("2026-08-01", "9000000"),
        due("2026-04-01", "700000"),
        due("2026-04-30", "5000.00", "EUR"),
    ]
    ladder = maturity_ladder(deposits, date(2026, 4, 15), weeks=2, months=2)
    xof_weeks = [
        (b.period.first_day.day, b.amount_due, b.deposit_count) for b in ladder.weekly if b.currency == "XOF"
    ]
    assert xof_weeks == [(15, Decimal(1_500_000), 2), (22, Decimal(2_000_000), 1)]
    xof_months = [(b.period.last_day, b.amount_due) for b in ladder.monthly if b.currency == "XOF"]
    assert xof_months == [(date(2026, 4, 30), Decimal(3_500_000)), (date(2026, 5, 31), Decimal(300_000))]
    eur_months = [b.amount_due for b in ladder.monthly if b.currency == "EUR"]
    assert eur_months == [Decimal("5000.00"), Decimal(0)]
    assert [(b.currency, b.amount_due) for b in ladder.overdue] == [("EUR", 0), ("XOF", Decimal(700_000))]
    assert [(b.currency, b.amount_due) for b in ladder.later] == [("EUR", 0), ("XOF", Decimal(9_000_000))]


@settings(max_examples=100, deadline=None)
@given(
    offsets=st.lists(st.integers(-100, 1000), max_size=30),
    weeks=st.integers(1, 20),
    months=st.integers(1, 24),
)
def test_every_deposit_is_counted_once_in_each_view(offsets: list[int], weeks: int, months: int) -> None:
    as_of = date(2026, 4, 15)
    deposits = [
        MaturingDeposit(maturity_date=as_of + timedelta(days=o), amount_due=Decimal(1), currency="XOF")
        for o in offsets
    ]
    ladder = maturity_ladder(deposits, as_of, weeks=weeks, months=months)
    outside = sum(b.deposit_count for b in (*ladder.overdue, *ladder.later))
    following_month = date(2026 + (3 + months) // 12, (3 + months) % 12 + 1, 1)  # April is month index 3
    monthly_horizon_end = following_month - timedelta(days=1)
    weekly_horizon_end = as_of + timedelta(days=7 * weeks - 1)
    in_months = sum(b.deposit_count for b in ladder.monthly)
    in_weeks = sum(b.deposit_count for b in ladder.weekly)
    assert in_months == sum(1 for o in offsets if o >= 0 and as_of + timedelta(days=o) <= monthly_horizon_end)
    assert in_weeks == sum(1 for o in offsets if o >= 0 and as_of + timedelta(days=o) <= weekly_horizon_end)
    assert outside + max(in_months, in_weeks) == len(offsets)
