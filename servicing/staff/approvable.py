"""The commands that ship with maker-checker: manual journal entries. Other features
register theirs the same way (see `maker_checker.ApprovableCommand`)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Final

import msgspec

from ledger.model import BookedEntry, Side
from servicing.commands import PostJournalEntry
from servicing.journal import JournalService
from servicing.staff.maker_checker import ApprovableCommand

JOURNAL_ENTRY_POST: Final = "journal-entry.post"


def entry_amounts(command: PostJournalEntry) -> dict[str, Decimal]:
    """Total debits per currency: what the entry moves."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in command.lines:
        if line.side is Side.DEBIT:
            totals[line.currency] += line.amount
    return dict(totals)


def journal_entry_posting(journal: JournalService) -> ApprovableCommand[PostJournalEntry]:
    async def run(command: PostJournalEntry, approval_key: str) -> BookedEntry:
        key = command.idempotency_key or approval_key
        return await journal.post(msgspec.structs.replace(command, idempotency_key=key))

    return ApprovableCommand(
        name=JOURNAL_ENTRY_POST, payload_type=PostJournalEntry, run=run, amounts=entry_amounts,
        office_of=lambda command: command.office_id,
        summary=lambda command: f"{command.value_date.isoformat()} {command.description}",
    )
