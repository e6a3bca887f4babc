"""Year-end close: move every income and expense balance into retained earnings by a
generated closing entry per office, posted through the journal like any other entry.

An office's books include its branches, but an entry belongs to one office: closing an
office (by default the head office) posts one closing entry for it and one for each branch
below it that has income or expense balances, atomically (all or none), each zeroing that
office's own accounts. Per-branch reports therefore stay right after the close. Each entry
is dated the year's last day, has source type `year_end_close` and source id
`<year>-office-<id>`, and an idempotency key that includes how many times that close was
reversed: two concurrent runs post once (the second replays the first), and a close that
was reversed can be run again. A close in force for any of the offices is refused;
reversing it (`reopen_year`, route `POST /api/v1/closures/year-end/reversal`) reopens the
year; the journal's generic reversal refuses a closing entry and points there."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Final
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from chart_of_accounts.model import AccountType
from ledger.db.totals import account_totals
from ledger.limits import LINES_PER_ENTRY_MAX
from ledger.model import BookedEntry, Reference
from servicing.commands import PostJournalEntry, ReverseJournalEntry
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.journal import JournalService
from servicing.reports.chart_tree import ChartTree, Totals
from servicing.reports.closing_entry import SOURCE_TYPE, closing_lines
from servicing.reports.service import load_chart, office_subtree
from servicing.unit_of_work import UnitOfWorkFactory

RETAINED_EARNINGS_TAG: Final = "year-end-result"
"""Tag an equity detail account with it to make it the default target of the close."""
RETAINED_EARNINGS_DEFAULT_CODES: Final = ("59", "3300")
"""The shipped charts' accounts for the year's result: SFD/UEMOA 59 "Résultat de l'exercice"
(the general assembly later assigns it, e.g. to 58 "Report à nouveau" or to reserves), and
generic-en 3300 "Retained earnings"."""
YEAR_MIN: Final = 1900
YEAR_MAX: Final = 2199


class CloseYear(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    office_id: int
    actor: str
    today: date
    """The caller's date: a year is closed only once it is over."""
    retained_earnings_account: str | None = None
    include_branches: bool = True


class ReopenYear(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    office_id: int
    actor: str
    include_branches: bool = True
    value_date: date | None = None
    """Date of the reversals; the closing entries' own date (31 December) by default."""


class YearEndClose(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    office_id: int
    retained_earnings_account: str
    entries: list[BookedEntry]


def source_id(year: int, office_id: int) -> str:
    return f"{year}-office-{office_id}"


def _check_year(year: int) -> None:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput(f"year must be between {YEAR_MIN} and {YEAR_MAX}", field="year")


async def close_year(uow_factory: UnitOfWorkFactory, journal: JournalService, command: CloseYear) -> YearEndClose:
    """Post the closing entries of a year for an office (and its branches)."""
    _check_year(command.year)
    year_end = date(command.year, 12, 31)
    if command.today <= year_end:
        raise InvalidInput(f"the financial year {command.year} is not over until {year_end}", field="year")
    async with uow_factory() as uow:
        session = uow.session
        offices = await _offices(session, command.office_id, command.include_branches)
        tree = await load_chart(session)
        result_ids = [a.account_id for a in tree.by_id.values()
                      if a.type in (AccountType.INCOME, AccountType.EXPENSE) and not a.is_header]
        rows = await account_totals(session, through=year_end, office_ids=offices, account_ids=result_ids,
                                    by_office=True)
        # The closes are read after the balances: a close committed in between is then seen
        # (a conflict), never balances already zeroed by it (a false "nothing to close").
        closes = await _closes(session, command.year, offices)
        in_force = _in_force(closes)
        if in_force:
            office_id = next(iter(sorted(in_force)))
            raise Conflict(f"the year {command.year} is already closed for office {office_id} "
                           f"(entry {in_force[office_id]}); reverse that close to run it again", field="year")
        target = _retained_earnings(tree, command.retained_earnings_account)
    per_office: dict[int, list[Totals]] = defaultdict(list)
    for row in rows:
        assert row.office_id is not None
        per_office[row.office_id].append(Totals(row.account_id, row.currency, row.debit_total, row.credit_total))
    codes = {account_id: tree.by_id[account_id].code for account_id in result_ids}
    commands = []
    for office_id in sorted(per_office):
        lines = closing_lines(per_office[office_id], codes, target)
        if not lines:
            continue
        if len(lines) > LINES_PER_ENTRY_MAX:
            raise InvalidInput(f"office {office_id} has more income and expense balances than an entry holds "
                               f"({LINES_PER_ENTRY_MAX} lines)", field="office_id")
        generation = sum(1 for close in closes if close.office_id == office_id)
        commands.append(PostJournalEntry(
            office_id=office_id, value_date=year_end, description=f"Clôture de l'exercice {command.year}",
            lines=lines, actor=command.actor,
            reference=Reference(source_type=SOURCE_TYPE, source_id=source_id(command.year, office_id)),
            idempotency_key=f"year-end-close:{command.year}:{office_id}:{generation}", manual=False,
        ))
    if not commands:
        raise InvalidInput(f"no income or expense balance to close at {year_end}", field="year")
    booked = await journal.post_batch(commands)
    return YearEndClose(year=command.year, office_id=command.office_id, retained_earnings_account=target,
                        entries=booked)


async def reopen_year(uow_factory: UnitOfWorkFactory, journal: JournalService, command: ReopenYear) -> list[BookedEntry]:
    """Reverse the closing entries in force of a year for an office (and its branches).
    Reversals are system postings, so accounts closed to manual entries accept them."""
    _check_year(command.year)
    async with uow_factory() as uow:
        offices = await _offices(uow.session, command.office_id, command.include_branches)
        in_force = _in_force(await _closes(uow.session, command.year, offices))
    if not in_force:
        raise NotFound(f"no year-end close of {command.year} in force for office {command.office_id}", field="year")
    reversals = []
    for _office_id, entry_id in sorted(in_force.items()):
        reversals.append(await journal.reverse(ReverseJournalEntry(
            entry_id=entry_id, actor=command.actor, value_date=command.value_date,
            description=f"Réouverture de l'exercice {command.year}", manual=False,
            idempotency_key=f"year-end-reopen:{entry_id}",
        )))
    return reversals


async def _offices(session: AsyncSession, office_id: int, include_branches: bool) -> list[int]:
    subtree = await office_subtree(session, office_id)
    return subtree if include_branches else [office_id]


def _retained_earnings(tree: ChartTree, asked: str | None) -> str:
    """The account asked for, else the equity account tagged for it, else a shipped default."""
    equity = [a for a in tree.by_id.values() if a.type is AccountType.EQUITY and not a.is_header]
    if asked is not None:
        if not any(a.code == asked for a in equity):
            raise InvalidInput(f"{asked} is not an equity detail account", field="retained_earnings_account")
        return asked
    tagged = sorted(a.code for a in equity if RETAINED_EARNINGS_TAG in a.tags)
    defaults = [code for code in RETAINED_EARNINGS_DEFAULT_CODES if any(a.code == code for a in equity)]
    found = tagged + defaults
    if not found:
        raise InvalidInput(f"no retained-earnings account: name one, or tag an equity account "
                           f"'{RETAINED_EARNINGS_TAG}'", field="retained_earnings_account")
    return found[0]


class _Close(msgspec.Struct, frozen=True):
    office_id: int
    entry_id: UUID
    reversed: bool


async def _closes(session: AsyncSession, year: int, offices: list[int]) -> list[_Close]:
    """The closing entries (not their reversals) of a year for the offices."""
    rows = (await session.execute(text(
        """
        SELECT e.office_id, e.id, r.id IS NOT NULL AS reversed
          FROM journal_entry e LEFT JOIN journal_entry r ON r.reverses_id = e.id
         WHERE e.source_type = :source_type AND e.source_id = ANY(CAST(:source_ids AS text[]))
           AND e.reverses_id IS NULL
        """), {"source_type": SOURCE_TYPE, "source_ids": [source_id(year, o) for o in offices]})).all()
    return [_Close(row.office_id, row.id, row.reversed) for row in rows]


def _in_force(closes: list[_Close]) -> dict[int, UUID]:
    return {close.office_id: close.entry_id for close in closes if not close.reversed}
