"""The accrual step's quiet-night fast path (`loan_accrual.window_row_target`) is the full
derivation (issue 9, benchmark): for random schedules, rounding rules, frequencies, days and
amounts already accrued, the target it reads from a window's columns is the one the whole
schedule gives (`capped_target` of `interest_accrued_to` and the fees fallen due: same figure,
same representation), and it declines exactly the nights the full path must handle (fees
moving, a target below what was accrued)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from products.loans.accrual import AccrualPeriod, FeeRecognition, accrual_window, interest_accrued_to
from products.loans.product import AccrualFrequency
from servicing.close_of_business.loan_accrual import capped_target, window_row_target
from tests.products.test_loan_quiet_day import ROUNDERS, START, periods_and_fees

D = Decimal


@given(periods_and_fees(), ROUNDERS, st.integers(0, 400), st.sampled_from(list(AccrualFrequency)), st.booleans(),
       st.integers(0, 3), st.sampled_from([D(0), D(1), D("0.01"), D(-5)]), st.booleans())
def test_the_window_columns_give_the_full_derivations_target(  # type: ignore[no-untyped-def]
        drawn: tuple[list[AccrualPeriod], list[FeeRecognition]], rounder, offset: int, frequency: AccrualFrequency,
        accrues_interest: bool, days_behind: int, interest_off: Decimal, fee_moves: bool) -> None:
    periods, fees = drawn
    made_on = START + timedelta(days=offset)
    window = accrual_window(periods, fees, made_on, rounder)
    if window is None:
        return
    day = made_on
    while day < window.before and day <= made_on + timedelta(days=10):
        # What the loan holds: its accruals to a few days before (a missed night or two), off by a little.
        interest_accrued = interest_accrued_to(periods, day - timedelta(days=days_behind), rounder, frequency)
        interest_accrued = max(interest_accrued + interest_off, D(0))
        fee_accrued = window.fee - D(1) if fee_moves and window.fee > 0 else window.fee
        row = SimpleNamespace(
            interest_accrued=interest_accrued, fee_accrued=fee_accrued, window_interest_done=window.interest_done,
            window_period=window.running.number if window.running else None,
            window_period_from=window.running.from_date if window.running else None,
            window_period_due=window.running.due_date if window.running else None,
            window_period_interest=window.running.interest if window.running else None, window_fee=window.fee)
        earned = interest_accrued_to(periods, day, rounder, frequency) if accrues_interest else interest_accrued
        fees_due = sum((f.amount for f in fees if f.due_date <= day), D(0))
        full = capped_target(earned, fees_due, accrues_interest=accrues_interest, non_performing=False,
                             accrued=(interest_accrued, fee_accrued))
        fast = window_row_target(row, day, rounder, accrues_interest=accrues_interest, frequency=frequency)
        needs_full_path = full.fee != fee_accrued or full.interest < interest_accrued
        assert (fast is None) == needs_full_path, (day, fast, full)
        if fast is not None:
            assert (fast, str(fast.interest), str(fast.fee)) == (full, str(full.interest), str(full.fee)), day
        day += timedelta(days=1)
