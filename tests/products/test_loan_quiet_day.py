"""The pure parts of the close of business's quiet-day fast paths (issue 9): an accrual window
gives the accrued-to-date figures of every day it covers exactly as the whole schedule does,
and carrying a late loan's arrears to a later day gives what ageing its instalments gives when
nothing fell due in between (with the same follow-up task)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.loans.accrual import (
    AccrualPeriod,
    FeeRecognition,
    accrual_periods,
    accrual_window,
    fees_falling_due,
    interest_accrued_to,
)
from products.loans.arrears import ArrearsPolicy, ArrearsStatus, age_arrears, carry_arrears
from products.loans.position import InstalmentPosition
from products.loans.product import AccrualFrequency
from products.loans.reminders import ReminderKind, follow_up_reminder, reminders_for
from products.loans.schedule import generate_schedule
from products.rounding import Rounding, RoundingMode, compile_rounding
from tests.products.factories import xof_terms

D = Decimal
START = date(2025, 1, 1)

ROUNDERS = st.sampled_from([
    compile_rounding(Rounding(), "XOF"), compile_rounding(Rounding(), "EUR"),
    compile_rounding(Rounding(mode=RoundingMode.DOWN, in_multiples_of=D(5)), "XOF"),
    compile_rounding(Rounding(mode=RoundingMode.UP), "EUR")])


@st.composite
def periods_and_fees(draw: st.DrawFn) -> tuple[list[AccrualPeriod], list[FeeRecognition]]:
    """Consecutive periods (the first possibly reaching back over earlier ones, as a deferred
    interest does), interest with any number of decimals, fees on some due dates."""
    periods: list[AccrualPeriod] = []
    day = START
    for number in range(1, draw(st.integers(1, 8)) + 1):
        due = day + timedelta(days=draw(st.integers(1, 40)))
        interest = draw(st.decimals(min_value=0, max_value=100_000, places=draw(st.integers(0, 3))))
        periods.append(AccrualPeriod(number=number, from_date=day, due_date=due, interest=interest))
        day = due
    if len(periods) > 2 and draw(st.booleans()):
        periods[2] = AccrualPeriod(number=3, from_date=START, due_date=periods[2].due_date,
                                   interest=periods[2].interest)
    fees = [FeeRecognition(name=f"fee{p.number}", instalment=p.number, due_date=p.due_date,
                           amount=draw(st.decimals(min_value=0, max_value=1_000, places=2)), vat_amount=D(0))
            for p in periods if draw(st.booleans())]
    return periods, fees


@given(periods_and_fees(), ROUNDERS, st.integers(0, 400), st.sampled_from(list(AccrualFrequency)))
def test_a_window_gives_every_day_it_covers_what_the_whole_schedule_gives(
        drawn: tuple[list[AccrualPeriod], list[FeeRecognition]], rounder, offset: int,  # type: ignore[no-untyped-def]
        frequency: AccrualFrequency) -> None:
    periods, fees = drawn
    made_on = START + timedelta(days=offset)
    window = accrual_window(periods, fees, made_on, rounder)
    dates = {p.from_date for p in periods} | {p.due_date for p in periods} | {f.due_date for f in fees}
    if window is None:
        running = [p for p in periods if p.from_date < made_on < p.due_date]
        assert made_on in dates or len(running) > 1
        return
    assert window.covers(made_on)
    assert not any(window.after < d < window.before for d in dates), "no schedule date inside a window"
    day = window.after + timedelta(days=1)
    while day < window.before and day <= made_on + timedelta(days=60):
        full = interest_accrued_to(periods, day, rounder, frequency)
        fast = window.interest_on(day, rounder, frequency)
        assert (fast, str(fast)) == (full, str(full)), (day, window)  # same figure, same representation
        assert window.fee == sum((f.amount for f in fees if f.due_date <= day), D(0))
        day += timedelta(days=1)


def test_a_window_of_a_real_schedule_and_per_period_recognition() -> None:
    # 1,200,000 XOF at 24 %: instalment 1 runs 1 Jan -> 1 Feb 2025 with 24,000 of interest.
    schedule = generate_schedule(xof_terms())
    rounder = compile_rounding(Rounding(), "XOF")
    periods = accrual_periods(schedule)
    fees = fees_falling_due(schedule, after=date.min, through=date.max)
    window = accrual_window(periods, fees, date(2025, 1, 10), rounder)
    assert window is not None and (window.after, window.before) == (date(2025, 1, 1), date(2025, 2, 1))
    assert window.interest_on(date(2025, 1, 4), rounder) == 2323  # 24,000 x 3 / 31 = 2,322.58
    assert window.interest_on(date(2025, 1, 31), rounder, AccrualFrequency.PER_PERIOD) == 0, "not before its due date"
    assert interest_accrued_to(periods, date(2025, 2, 1), rounder, AccrualFrequency.PER_PERIOD) == 24_000
    assert accrual_window(periods, fees, date(2025, 2, 1), rounder) is None, "a due date takes the full path"


@st.composite
def instalments_and_days(draw: st.DrawFn) -> tuple[list[InstalmentPosition], date, date]:
    """Instalments, some unpaid, and two closing days with no unpaid instalment falling due from
    the first to the day before the second."""
    rows: list[InstalmentPosition] = []
    due = START
    for number in range(1, draw(st.integers(1, 8)) + 1):
        due += timedelta(days=draw(st.integers(1, 45)))
        expected = D(draw(st.integers(1, 50_000)))
        outstanding = draw(st.sampled_from([D(0), expected, D(draw(st.integers(0, int(expected))))]))
        rows.append(InstalmentPosition(number=number, due_date=due, expected=expected, paid=expected - outstanding,
                                       outstanding=outstanding))
    first = START + timedelta(days=draw(st.integers(0, 400)))
    unpaid_after = [r.due_date for r in rows if r.outstanding > 0 and r.due_date >= first]
    last = min(unpaid_after, default=first + timedelta(days=500))
    later = first + timedelta(days=draw(st.integers(1, max(1, (last - first).days))))
    return rows, first, min(later, last) if last > first else later


POLICIES = st.builds(ArrearsPolicy, tolerance_amount=st.sampled_from([D(0), D(100), D(5_000)]),
                     tolerance_days=st.integers(0, 10), days_to_arrears=st.none() | st.integers(0, 30),
                     days_to_npa=st.none() | st.integers(31, 200), npa_exit_requires_arrears_paid=st.booleans())


@given(instalments_and_days(), POLICIES, st.sampled_from(list(ArrearsStatus)), st.none() | st.integers(1, 90))
def test_carrying_arrears_is_ageing_the_unchanged_instalments(  # type: ignore[no-untyped-def]
        drawn, policy: ArrearsPolicy, before: ArrearsStatus, follow_up: int | None) -> None:
    rows, first, later = drawn
    if any(r.outstanding > 0 and first <= r.due_date < later for r in rows):
        return  # an instalment fell due in between: not a quiet loan
    aged = age_arrears(rows, first, policy, previous_status=before)
    carried = carry_arrears(aged, later, policy)
    assert carried == age_arrears(rows, later, policy, previous_status=aged.status)
    tasks = [r for r in reminders_for(7, rows, carried, later, follow_up_after_days=follow_up)
             if r.kind is ReminderKind.FOLLOW_UP]
    assert tasks == [task for task in [follow_up_reminder(7, carried, follow_up)] if task is not None]
