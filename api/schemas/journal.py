"""Journal entries on the wire. Amounts are decimal strings in the currency's minor unit
("150000" XOF, "12.50" EUR)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from api.schemas.common import (
    Code,
    CurrencyCode,
    Description,
    Id,
    IdempotencyKey,
    check_date,
)
from ledger.limits import ENTRIES_PER_BATCH_MAX, LINES_PER_ENTRY_MAX, REFERENCE_LENGTH_MAX
from ledger.model import BookedEntry, Line, Reference, Side
from servicing.commands import PostJournalEntry, ReverseJournalEntry

Amount = Annotated[str, msgspec.Meta(
    pattern=r"^-?[0-9]{1,18}(\.[0-9]{1,4})?$",
    description="Decimal string, exact in the currency's minor unit, > 0 (e.g. '150000' XOF, '12.50' EUR)",
)]


class LineIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    account_code: Code
    side: Literal["debit", "credit"]
    amount: Amount
    currency: CurrencyCode


class ReferenceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    source_type: Annotated[str, msgspec.Meta(min_length=1, max_length=REFERENCE_LENGTH_MAX, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    source_id: Annotated[str, msgspec.Meta(min_length=1, max_length=REFERENCE_LENGTH_MAX, pattern=r"^[\x21-\x7e]+$")]


class JournalEntryIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    office_id: Id
    value_date: date
    description: Description
    lines: Annotated[list[LineIn], msgspec.Meta(min_length=2, max_length=LINES_PER_ENTRY_MAX)]
    reference: ReferenceIn | None = None
    idempotency_key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        check_date(self.value_date, "value_date")

    def to_command(self, actor: str, idempotency_key: str | None = None) -> PostJournalEntry:
        return PostJournalEntry(
            office_id=self.office_id,
            value_date=self.value_date,
            description=self.description,
            lines=tuple(
                Line(account_code=line.account_code, side=Side(line.side), amount=Decimal(line.amount),
                     currency=line.currency)
                for line in self.lines
            ),
            actor=actor,
            reference=Reference(source_type=self.reference.source_type, source_id=self.reference.source_id)
            if self.reference
            else None,
            idempotency_key=self.idempotency_key or idempotency_key,
        )


class JournalBatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    entries: Annotated[list[JournalEntryIn], msgspec.Meta(min_length=1, max_length=ENTRIES_PER_BATCH_MAX)]


class ReversalIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    value_date: date | None = None
    description: Description | None = None
    idempotency_key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        check_date(self.value_date, "value_date")

    def to_command(self, entry_id: UUID, actor: str, idempotency_key: str | None = None) -> ReverseJournalEntry:
        return ReverseJournalEntry(
            entry_id=entry_id, actor=actor, value_date=self.value_date, description=self.description,
            idempotency_key=self.idempotency_key or idempotency_key,
        )


class LineOut(msgspec.Struct, kw_only=True):
    line_no: int
    account_code: str
    side: str
    amount: Decimal
    currency: str


class BalanceMovementOut(msgspec.Struct, kw_only=True):
    """Balance of a touched account just before and after the entry, on its normal side."""

    account_code: str
    currency: str
    balance_before: Decimal
    balance_after: Decimal


class ReferenceOut(msgspec.Struct, kw_only=True):
    source_type: str
    source_id: str


class JournalEntryOut(msgspec.Struct, kw_only=True):
    id: UUID
    sequence: int
    office_id: int
    value_date: date
    booked_at: datetime
    description: str
    actor: str
    reference: ReferenceOut | None
    idempotency_key: str | None
    reverses: UUID | None
    reversed_by: UUID | None
    lines: list[LineOut]
    balances: list[BalanceMovementOut] | None = None
    chain_position: int | None = None
    """Position in the office's hash chain (see docs/verification.md)."""
    entry_hash: str | None = None
    """SHA-256 (hex) over the previous entry's hash and this entry's content."""

    @classmethod
    def from_booked(cls, booked: BookedEntry, *, with_balances: bool) -> JournalEntryOut:
        entry = booked.entry
        return cls(
            id=entry.entry_id,
            sequence=booked.sequence,
            office_id=entry.office_id,
            value_date=entry.value_date,
            booked_at=booked.booked_at,
            chain_position=booked.chain_position,
            entry_hash=booked.entry_hash.hex() if booked.entry_hash is not None else None,
            description=entry.description,
            actor=entry.actor,
            reference=ReferenceOut(source_type=entry.reference.source_type, source_id=entry.reference.source_id)
            if entry.reference
            else None,
            idempotency_key=entry.idempotency_key,
            reverses=entry.reverses,
            reversed_by=booked.reversed_by,
            lines=[
                LineOut(line_no=number, account_code=line.account_code, side=line.side.value, amount=line.amount,
                        currency=line.currency)
                for number, line in enumerate(entry.lines, start=1)
            ],
            balances=[
                BalanceMovementOut(account_code=m.account_code, currency=m.currency,
                                   balance_before=m.balance_before, balance_after=m.balance_after)
                for m in booked.movements
            ]
            if with_balances
            else None,
        )


class JournalBatchOut(msgspec.Struct, kw_only=True):
    entries: list[JournalEntryOut]
    line_count: int


class JournalEntryPageOut(msgspec.Struct, kw_only=True):
    items: list[JournalEntryOut]
    next_cursor: str | None

