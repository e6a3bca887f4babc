"""Dormancy by hand: the day it starts, what counts as activity."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from products.deposits.dormancy import is_dormant, last_activity


def test_thirty_days_after_the_first_of_march() -> None:
    moved = date(2026, 3, 1)
    assert not is_dormant(moved, date(2026, 3, 31), 30)
    assert is_dormant(moved, date(2026, 4, 1), 30)
    assert not is_dormant(moved, date(2030, 1, 1), None)  # the product never makes accounts dormant
    assert not is_dormant(None, date(2030, 1, 1), 30)  # never activated


def test_activity_counts_from_the_last_movement_or_the_activation() -> None:
    assert last_activity(None, date(2026, 1, 5)) == date(2026, 1, 5)
    assert last_activity(date(2026, 2, 1), date(2026, 1, 5)) == date(2026, 2, 1)
    assert last_activity(date(2026, 1, 1), date(2026, 1, 5)) == date(2026, 1, 5)  # a movement value-dated before
    assert last_activity(None, None) is None


@given(days=st.integers(min_value=1, max_value=3650), gap=st.integers(min_value=0, max_value=8000))
def test_dormant_exactly_when_the_gap_passes_the_days(days: int, gap: int) -> None:
    moved = date(2020, 1, 1)
    assert is_dormant(moved, moved + timedelta(days=gap), days) == (gap > days)
