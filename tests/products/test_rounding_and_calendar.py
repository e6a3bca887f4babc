"""Product rounding and calendar arithmetic, unit by unit."""

from datetime import date
from decimal import Decimal

import pytest

from products.loans.calendar import (
    add_months,
    broken_periods_between,
    day_count,
    periods_elapsed,
    year_fraction,
)
from products.loans.terms import DaysInMonth, DaysInYear, RepaymentFrequencyUnit
from products.rounding import Rounding, RoundingMode, compile_rounding, currency_decimals, round_amount

MONTHS = RepaymentFrequencyUnit.MONTHS


@pytest.mark.parametrize(("code", "decimals"), [("XOF", 0), ("XAF", 0), ("EUR", 2), ("USD", 2), ("KWD", 3)])
def test_currency_decimals_from_py_moneyed(code: str, decimals: int) -> None:
    assert currency_decimals(code) == decimals


def test_seed_001_multiples() -> None:
    """Seed 001: with multiples of 10, an amount of 1,234 becomes 1,230 and an instalment of 247, 250."""
    rounding = Rounding(mode=RoundingMode.HALF_UP, in_multiples_of=Decimal(10))
    assert round_amount(Decimal(1234), rounding, "XOF") == Decimal(1230)
    assert round_amount(Decimal(247), rounding, "XOF") == Decimal(250)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        (RoundingMode.HALF_UP, "2.345", "2.35"),
        (RoundingMode.HALF_EVEN, "2.345", "2.34"),
        (RoundingMode.HALF_DOWN, "2.345", "2.34"),
        (RoundingMode.DOWN, "2.349", "2.34"),
        (RoundingMode.UP, "2.341", "2.35"),
        (RoundingMode.HALF_EVEN, "2.355", "2.36"),
    ],
)
def test_rounding_modes_to_cents(mode: RoundingMode, value: str, expected: str) -> None:
    assert round_amount(Decimal(value), Rounding(mode=mode), "EUR") == Decimal(expected)


def test_multiples_keep_the_exponent_and_work_below_the_unit() -> None:
    """0.05 CHF-style cash rounding: 1.024 -> 1.02 -> 1.00 (half even: 20.4 fives -> 20 fives)."""
    rounder = compile_rounding(Rounding(in_multiples_of=Decimal("0.05")), "EUR")
    assert str(rounder.round(Decimal("1.024"))) == "1.00"
    assert str(rounder.round(Decimal("1.026"))) == "1.05"
    assert str(compile_rounding(Rounding(in_multiples_of=Decimal(100)), "XOF").round(Decimal(1250))) == "1200"


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 31), 2) == date(2025, 3, 31)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)
    assert add_months(date(2025, 3, 31), -1) == date(2025, 2, 28)


def test_day_counts() -> None:
    """Actual: 28 days in February 2025. 30E/360: every month is 30 days, the 31st is the 30th."""
    assert day_count(date(2025, 2, 1), date(2025, 3, 1), DaysInMonth.ACTUAL) == 28
    assert day_count(date(2025, 2, 1), date(2025, 3, 1), DaysInMonth.DAYS_30) == 30
    assert day_count(date(2025, 1, 31), date(2025, 3, 31), DaysInMonth.DAYS_30) == 60
    assert day_count(date(2025, 1, 1), date(2026, 1, 1), DaysInMonth.DAYS_30) == 360


def test_year_fraction_actual_splits_at_new_year() -> None:
    """30 Dec 2023 -> 2 Jan 2024: 2 days / 365 + 1 day / 366."""
    fraction = year_fraction(date(2023, 12, 30), date(2024, 1, 2), DaysInYear.ACTUAL, DaysInMonth.ACTUAL)
    assert fraction == Decimal(2) / 365 + Decimal(1) / 366
    assert (
        year_fraction(date(2025, 1, 1), date(2025, 2, 1), DaysInYear.DAYS_360, DaysInMonth.DAYS_30)
        == Decimal(30) / 360
    )


def test_broken_and_elapsed_periods() -> None:
    """1 Jan -> 15 Feb: back from 15 Feb, one month to 15 Jan, then 14 of the 31 days from 15 Dec.
    Forward from 1 Jan: one month to 1 Feb, then 14 of February's 28 days."""
    assert (
        broken_periods_between(date(2025, 1, 1), date(2025, 2, 15), 1, MONTHS, DaysInMonth.ACTUAL)
        == 1 + Decimal(14) / 31
    )
    assert (
        periods_elapsed(date(2025, 1, 1), date(2025, 2, 15), 1, MONTHS, DaysInMonth.ACTUAL)
        == 1 + Decimal(14) / 28
    )
    assert periods_elapsed(date(2025, 1, 31), date(2025, 3, 31), 1, MONTHS, DaysInMonth.ACTUAL) == 2
    assert (
        periods_elapsed(
            date(2025, 1, 1), date(2025, 1, 11), 1, RepaymentFrequencyUnit.WEEKS, DaysInMonth.ACTUAL
        )
        == Decimal(10) / 7
    )
