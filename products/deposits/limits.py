"""Named maxima of the deposit calculators (TIGER_STYLE: a limit on everything)."""

from typing import Final

CALCULATION_DAYS_MAX: Final = 366 * 50
"""Longest span one interest calculation covers: 50 years of daily balances."""

TERM_DAYS_MAX: Final = 366 * 30
"""Longest term deposit: 30 years."""

TRANSACTIONS_PER_CALCULATION_MAX: Final = 1_000_000
"""Account transactions folded in one call; a larger history is folded from a checkpoint."""

RATE_CHANGES_MAX: Final = 1_000
"""Rate changes in one rate timeline."""

RATE_PERCENT_MAX: Final = 100
"""Annual rate ceiling accepted for deposits and overdrafts (percent)."""

assert TERM_DAYS_MAX <= CALCULATION_DAYS_MAX, "a whole term must fit in one calculation"
