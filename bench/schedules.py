"""Schedule benchmark: prints ``name: value unit`` lines (not a timed test).

* ``schedules_12_per_s``: 12 monthly instalments, declining balance, equal instalments;
* ``schedules_360_per_s``: 30 years of monthly instalments, same settings;
* ``schedule_daily_365_ms``: 365 daily instalments with daily interest.

Targets (issue 4): at least 5,000 twelve-instalment schedules a second, and a
360-instalment schedule in under 5 ms, on one core. Each figure is the best of several
timed rounds, so a noisy neighbour slows a round, not the result. Run it with
``python bench/schedules.py`` from anywhere.
"""

import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from products.loans.schedule import generate_schedule
from products.loans.terms import (
    DaysInYear,
    InterestCalculationPeriod,
    LoanTerms,
    RepaymentFrequencyUnit,
)

ROUNDS = 5
ROUND_SECONDS = 0.4


def seconds_per_call(function: Callable[[], object]) -> float:
    """Best per-call time over ROUNDS rounds of about ROUND_SECONDS each."""
    function()  # warm caches (enum lookups, decimal contexts)
    started = time.perf_counter()
    function()
    single = max(time.perf_counter() - started, 1e-6)
    calls_per_round = max(1, int(ROUND_SECONDS / single))
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls_per_round):
            function()
        best = min(best, (time.perf_counter() - started) / calls_per_round)
    return best


def main() -> None:
    monthly_12 = LoanTerms(
        currency_code="EUR",
        principal_amount=Decimal(10_000),
        disbursement_date=date(2025, 1, 15),
        repayment_count=12,
        interest_rate_percent=Decimal(12),
    )
    monthly_360 = LoanTerms(
        currency_code="EUR",
        principal_amount=Decimal(250_000),
        disbursement_date=date(2025, 1, 15),
        repayment_count=360,
        interest_rate_percent=Decimal("4.5"),
    )
    daily_365 = LoanTerms(
        currency_code="XOF",
        principal_amount=Decimal(5_000_000),
        disbursement_date=date(2025, 1, 15),
        repayment_count=365,
        repayment_frequency_unit=RepaymentFrequencyUnit.DAYS,
        interest_rate_percent=Decimal(24),
        interest_calculation_period=InterestCalculationPeriod.DAILY,
        days_in_year=DaysInYear.ACTUAL,
    )
    per_12 = seconds_per_call(lambda: generate_schedule(monthly_12))
    per_360 = seconds_per_call(lambda: generate_schedule(monthly_360))
    per_daily = seconds_per_call(lambda: generate_schedule(daily_365))
    print(f"schedules_12_per_s: {1 / per_12:.0f} schedules/s")
    print(f"schedules_360_per_s: {1 / per_360:.0f} schedules/s")
    print(f"schedule_daily_365_ms: {per_daily * 1000:.2f} ms")


if __name__ == "__main__":
    main()
