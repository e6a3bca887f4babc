"""Which accounts a loan's postings are booked on: its classification and its term bucket.

Seed 002 ("attributs durée") maps a loan product's portfolio, interest and provision accounts
per nature of the loan (healthy, doubtful, immobilised) and per duration (short, medium, long
term); the chart of the SFD has 202 "crédits à court terme", 203 "à moyen terme", 204 "à long
terme". The duration is the loan's contractual term, from its disbursement to its last due
date, in months; the product says where short term ends and long term begins (by default the
banking chart's convention: up to 2 years short, up to 10 years medium, beyond long).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import msgspec

from products.events import TermBucket

TERM_MONTHS_MAX: Final = 1200
"""100 years: far beyond any loan (the schedule engine stops at 50 years of monthly instalments)."""


class TermBuckets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a loan product's short and medium terms end, in months (inclusive)."""

    short_term_months_max: int = 24
    medium_term_months_max: int = 120

    def __post_init__(self) -> None:
        if not 1 <= self.short_term_months_max < self.medium_term_months_max <= TERM_MONTHS_MAX:
            raise ValueError(f"term buckets need 1 <= short_term_months_max < medium_term_months_max <= "
                             f"{TERM_MONTHS_MAX}")


def term_months(disbursed_on: date, last_due_date: date) -> int:
    """Whole months from disbursement to the last due date, a started month counting as one."""
    assert last_due_date >= disbursed_on, (disbursed_on, last_due_date)
    months = (last_due_date.year - disbursed_on.year) * 12 + last_due_date.month - disbursed_on.month
    if last_due_date.day > disbursed_on.day:
        months += 1
    return max(months, 0)


def term_bucket(months: int, buckets: TermBuckets) -> TermBucket:
    """The bucket of a loan of ``months``: short up to the short limit, medium up to the medium one."""
    assert months >= 0, months
    if months <= buckets.short_term_months_max:
        return TermBucket.SHORT
    if months <= buckets.medium_term_months_max:
        return TermBucket.MEDIUM
    return TermBucket.LONG
