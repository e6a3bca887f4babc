"""Corrections are new facts: the reversal of an entry swaps every line's side."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import msgspec

from ledger.model import JournalEntry, Reference


def reverse(
    entry: JournalEntry,
    *,
    reversal_id: UUID,
    value_date: date,
    description: str,
    actor: str,
    idempotency_key: str | None = None,
) -> JournalEntry:
    """The mirror entry: same accounts and amounts, opposite sides, linked to the original."""
    assert entry.reverses is None, "a reversal is not reversed again; post a new entry instead"
    flipped = tuple(msgspec.structs.replace(line, side=line.side.opposite()) for line in entry.lines)
    return JournalEntry(
        entry_id=reversal_id,
        office_id=entry.office_id,
        value_date=value_date,
        description=description,
        lines=flipped,
        actor=actor,
        reference=entry.reference or Reference(source_type="journal-entry", source_id=str(entry.entry_id)),
        reverses=entry.entry_id,
        idempotency_key=idempotency_key,
    )
