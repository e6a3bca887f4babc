"""Named limits of the reference data, checked where data enters."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

BUCKETS_PER_KIND_MAX: Final = 20
"""Delinquency buckets in one grid; BCEAO's grid has five."""

DAYS_OVERDUE_MAX: Final = 36_500
"""A hundred years late: the largest bound a bucket may name (the table checks it too)."""

HOLIDAY_DAYS_MAX: Final = 366
"""One holiday row spans at most a year."""

HOLIDAY_OFFICES_MAX: Final = 500

PERCENT_MAX: Final = Decimal(100)

AMOUNT_MAX: Final = Decimal("1000000000000000")
"""10^15 major units, like a loan's principal; fits numeric(22, 4)."""

RATE_DECIMALS_MAX: Final = 4
"""Rates are stored as numeric(9, 4) / numeric(7, 4) percentages."""

LOANS_PER_PERSON_MAX: Final = 100
DAYS_LATE_TOLERATED_MAX: Final = 365
VALIDATION_LEVELS_MAX: Final = 50
PAGE_SIZE_MAX: Final = 500

assert BUCKETS_PER_KIND_MAX >= 5, "the BCEAO grid must fit"
