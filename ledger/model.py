"""The journal's value types. An entry is a fact: frozen, keyword-only, never edited;
a correction is a new entry that reverses it.

They are declared `gc=False`: frozen values holding only strings, numbers, dates, ids and
tuples of such values cannot form a reference cycle, so the cycle collector need not track
them. A batch holds tens of thousands of them alive; tracked, they made the collector take a
third of the batch's Python time."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import msgspec


class Side(enum.Enum):
    DEBIT = "debit"
    CREDIT = "credit"

    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


class Line(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One debit or one credit of a strictly positive amount on one detail account."""

    account_code: str
    side: Side
    amount: Decimal
    currency: str


class Reference(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the entry records: a source type (loan-transaction, manual, demo...) and its id."""

    source_type: str
    source_id: str


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A balanced set of lines on one value date for one office, not yet booked.

    `entry_id` arrives with the command (no uuid generation in the core); `reverses`
    links a reversal to the entry it cancels.
    """

    entry_id: UUID
    office_id: int
    value_date: date
    description: str
    lines: tuple[Line, ...]
    actor: str
    reference: Reference | None = None
    reverses: UUID | None = None
    idempotency_key: str | None = None


class AccountMovement(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An account's balance just before and just after one entry, per currency.

    Balances are signed on the account's normal side: positive means the account holds
    its normal balance (debit for assets and expenses, credit for the others).
    """

    account_code: str
    currency: str
    balance_before: Decimal
    balance_after: Decimal


class BookedEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An entry as the journal holds it: with its booking sequence and timestamp."""

    entry: JournalEntry
    sequence: int
    booked_at: datetime
    movements: tuple[AccountMovement, ...] = ()
    reversed_by: UUID | None = None
    chain_position: int | None = None
    """Position in its office's hash chain (ledger.chain)."""
    entry_hash: bytes | None = None
