"""Named limits for loan terms and schedules.

Every input that drives a loop, a date or a Decimal exponent has a maximum here, checked
where terms enter (`validation.py`) and asserted where they are used. The relationships
between limits are asserted at import, so a careless edit fails loudly.
"""

from datetime import date
from decimal import Decimal
from typing import Final

from products.rounding import CURRENCY_DECIMALS_MAX

SCHEDULE_PERIODS_MAX: Final = 600
"""Instalments in one schedule: 50 years of monthly, or 600 daily instalments."""

LOAN_TERM_YEARS_MAX: Final = 50
"""The last due date may be at most this many years after the disbursement."""

REPAYMENT_EVERY_MAX: Final = 366
"""'Repay every N units': N days, weeks, months or years, before the term limit bites."""

FIRST_REPAYMENT_DAYS_MIN_MAX: Final = 366
"""Largest 'minimum days between disbursement and first repayment'."""

GRACE_PERIODS_MAX: Final = SCHEDULE_PERIODS_MAX
INTEREST_FREE_DAYS_MAX: Final = 366 * LOAN_TERM_YEARS_MAX

TRANCHES_MAX: Final = 20
FEES_MAX: Final = 20
HOLIDAYS_MAX: Final = 1000
HOLIDAY_SHIFT_DAYS_MAX: Final = 31
"""A due date never moves further than this to find a working day."""

FEE_NAME_LENGTH_MAX: Final = 80

PRINCIPAL_AMOUNT_MAX: Final = Decimal("1000000000000000")
"""10^15 major units: more than any single loan in XOF, and exact in 34 digits with decimals."""

INTEREST_RATE_ANNUAL_PERCENT_MAX: Final = Decimal(1000)
"""Annual nominal rate ceiling (a monthly rate is multiplied by 12 before this check)."""

FEE_PERCENT_MAX: Final = Decimal(100)
VAT_PERCENT_MAX: Final = Decimal(100)
THRESHOLD_PERCENT_MAX: Final = Decimal(100)

DECIMAL_PLACES_MAX: Final = 10
"""Inputs with more decimal places than this are rejected (guards against 1E-999999 inputs)."""

DATE_MIN: Final = date(1950, 1, 1)
DATE_MAX: Final = date(2199, 12, 31)
"""Dates outside this window are operator errors; the window keeps date arithmetic finite."""

WEEKS_IN_YEAR_MIN: Final = 52
WEEKS_IN_YEAR_MAX: Final = 53

DECIMAL_PRECISION_DIGITS: Final = 34
"""Working precision of every schedule computation (IEEE 754 decimal128)."""

APR_ITERATIONS_MAX: Final = 200
APR_PERIOD_RATE_MAX: Final = Decimal(100)
"""The TEG solver searches period rates in (-1, 100]: 10,000 % a period is beyond any loan."""

assert SCHEDULE_PERIODS_MAX >= 12 * 30, "30-year housing loans must fit"
assert SCHEDULE_PERIODS_MAX >= 365, "one year of daily instalments must fit"
assert (DATE_MAX - DATE_MIN).days > LOAN_TERM_YEARS_MAX * 366
assert DATE_MAX.year + LOAN_TERM_YEARS_MAX < 9999, "date arithmetic must never overflow"
assert len(str(PRINCIPAL_AMOUNT_MAX)) + CURRENCY_DECIMALS_MAX < DECIMAL_PRECISION_DIGITS
assert HOLIDAY_SHIFT_DAYS_MAX >= 7, "a full week of holidays must be skippable"
