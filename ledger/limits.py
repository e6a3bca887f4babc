"""Named limits of the journal. Every input is checked against them where it enters,
and asserted where it is used (TIGER_STYLE: put a limit on everything)."""

from decimal import Decimal
from typing import Final

LINES_PER_ENTRY_MAX: Final = 250
"""A payroll or a batch settlement fits; a runaway generator does not."""

ENTRIES_PER_BATCH_MAX: Final = 5_000
"""One batch request or one group commit posts at most this many entries."""

AMOUNT_MAX: Final = Decimal("1e18")
"""Strictly above any real amount, even in currencies with no minor unit (XOF)."""

AMOUNT_DECIMALS_MAX: Final = 4
"""No ISO 4217 currency has more than four minor-unit digits (CLF, UYW)."""

DESCRIPTION_LENGTH_MAX: Final = 500
REFERENCE_LENGTH_MAX: Final = 100
ACTOR_LENGTH_MAX: Final = 100
IDEMPOTENCY_KEY_LENGTH_MAX: Final = 200
ACCOUNT_CODE_LENGTH_MAX: Final = 30
ACCOUNT_NAME_LENGTH_MAX: Final = 200
OFFICE_DEPTH_MAX: Final = 10
PAGE_SIZE_MAX: Final = 500
IDEMPOTENCY_RETENTION_DAYS_MIN: Final = 30

assert LINES_PER_ENTRY_MAX >= 2, "an entry has a debit and a credit"
assert ENTRIES_PER_BATCH_MAX * 2 <= 100_000, "a batch stays far below PostgreSQL's parameter limits"
assert AMOUNT_DECIMALS_MAX >= 3, "KWD, BHD and TND have three decimals"
