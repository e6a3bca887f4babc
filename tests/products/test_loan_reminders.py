"""Reminders: a notice within the product's days before a due date, overdue instalments past
the tolerated amount, a follow-up task past the threshold; each fact has one key whatever the
day it is computed on."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.loans.arrears import ArrearsPolicy, age_arrears
from products.loans.position import InstalmentPosition
from products.loans.reminders import ReminderKind, reminders_for

D = Decimal


def instalment(number: int, due: date, expected: str, paid: str = "0") -> InstalmentPosition:
    return InstalmentPosition(number=number, due_date=due, expected=D(expected), paid=D(paid),
                              outstanding=D(expected) - D(paid))


SCHEDULE = [instalment(1, date(2026, 9, 5), "10000", "10000"), instalment(2, date(2026, 10, 5), "10000", "4000"),
            instalment(3, date(2026, 11, 5), "10000"), instalment(4, date(2026, 12, 5), "10000")]


def run(on: date, policy: ArrearsPolicy = ArrearsPolicy(), **settings: int) -> list[tuple[str, int | None, str, int]]:
    arrears = age_arrears(SCHEDULE, on, policy)
    return [(r.kind.value, r.instalment, str(r.amount), r.days_overdue)
            for r in reminders_for(7, SCHEDULE, arrears, on, **settings)]


def test_hand_checked_day() -> None:
    # On 3 December: instalment 4 falls due in 2 days (notice), instalment 2 is 59 days late for
    # 6,000 and instalment 3 is 28 days late for 10,000; overdue 16,000 aged from instalment 2
    # (59 days) passes the 30-day follow-up threshold.
    assert run(date(2026, 12, 3), follow_up_after_days=30) == [
        ("instalment.due_soon", 4, "10000", 0),
        ("instalment.overdue", 2, "6000", 59), ("instalment.overdue", 3, "10000", 28),
        ("loan.follow_up", 2, "16000", 59)]


def test_the_tolerated_amount_silences_overdue_reminders() -> None:
    # 6,000 overdue on 20 October is within a 10,000 tolerance: no overdue reminder, no task.
    tolerant = ArrearsPolicy(tolerance_amount=D(10000))
    assert run(date(2026, 10, 20), tolerant, follow_up_after_days=1) == []
    assert [k for k, *_ in run(date(2026, 10, 20), follow_up_after_days=1)] == ["instalment.overdue", "loan.follow_up"]


def test_notice_window_is_the_products() -> None:
    def notices(on: date, **settings: int) -> list[int | None]:
        return [number for kind, number, *_ in run(on, **settings) if kind == "instalment.due_soon"]

    assert notices(date(2026, 11, 1), days_before_due=3) == []  # four days before: not yet
    assert notices(date(2026, 11, 2), days_before_due=3) == [3]
    assert notices(date(2026, 10, 27), days_before_due=10) == [3]
    assert notices(date(2026, 11, 5)) == []  # due today: overdue tomorrow, no longer "soon"


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=7))
def test_each_fact_has_one_key_across_the_days(start_offset: int, notice: int) -> None:
    """Computed every day over a month, a fact keeps its key and no two facts share one."""
    keys: dict[str, tuple[ReminderKind, int | None]] = {}
    first = date(2026, 8, 1) + timedelta(days=start_offset)
    for offset in range(31):
        on = first + timedelta(days=offset)
        arrears = age_arrears(SCHEDULE, on, ArrearsPolicy())
        for reminder in reminders_for(7, SCHEDULE, arrears, on, days_before_due=notice, follow_up_after_days=15):
            fact = (reminder.kind, reminder.instalment)
            assert keys.setdefault(reminder.dedup_key, fact) == fact
    assert len(set(keys.values())) == len(keys)
