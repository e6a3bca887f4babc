"""Posting journal entries.

Single postings go through a group commit: concurrent requests are queued, and a writer
books whatever is waiting in one transaction and one INSERT statement, then answers each
request on its own (TigerBeetle batches requests the same way). A request that fails its
checks is answered with its own error and does not hold back the others; if the database
refuses a whole group, each of its entries is retried alone so that only the faulty one
fails. Batch postings are atomic: all entries or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Final
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from chart_of_accounts import AccountType, AccountUsage, GLAccount, LoadedChart
from ledger.db import store as journal_store
from ledger.db.store import POSTING_LOCKS, AccountRef, PostingLocks, append_entries, posting_lock_parameters
from ledger.errors import AlreadyReversed, EntryNotFound, IdempotencyConflict, LedgerError, UnknownOffice
from ledger.idempotency import fingerprint
from ledger.invariants import check_entry
from ledger.limits import ENTRIES_PER_BATCH_MAX
from ledger.model import BookedEntry, JournalEntry
from ledger.money import KNOWN_QUANTA, normalize_amount
from ledger.posting import check_postable
from ledger.reversal import reverse
from servicing.commands import PostJournalEntry, ReverseJournalEntry
from servicing.errors import Conflict, InvalidInput, ServiceUnavailable, sqlstate_of, translate_database_error
from servicing.ids import uuid7, uuid7s
from servicing.queries import load_entry
from servicing.reports.closing_entry import SOURCE_TYPE as YEAR_END_CLOSE
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

_log = logging.getLogger(__name__)

GROUP_ENTRIES_MAX: Final = 1_000
RACE_RETRIES_MAX: Final = 3
QUEUE_ENTRIES_MAX: Final = 20_000
"""Postings waiting for a writer; past this the service answers 503 instead of queueing."""
WRITERS_DEFAULT: Final = 1
"""One writer: a group locks its offices' chain heads in its first statement, so a second writer
only waited on those locks holding a group half the size. Measured (HTTP posting, 16 clients,
one office): groups of about 8 entries instead of 5, server CPU 0.42 instead of 0.53 ms and
PostgreSQL CPU 0.21 instead of 0.32 ms per posting; the service layer no slower. The price:
while a group waits on an office's chain head (a large batch or the close of business holds it
until they commit), single postings of every office wait behind it. With two writers they
often did too, since a group mixes offices."""
LINGER_SECONDS_DEFAULT: Final = 0.0
"""How long a writer waits, after the first request of a group, for others to join it. Off
by default: measured on 2 cores, groups form on their own while the previous one commits,
and waiting only added latency."""
SCOPE_POSTING: Final = "journal-entry"
SCOPE_REVERSAL: Final = "journal-entry-reversal"
assert GROUP_ENTRIES_MAX <= ENTRIES_PER_BATCH_MAX


class _LostIdempotencyRace(Exception):
    """Another transaction recorded the same idempotency key first: retry, and replay it."""


class _Pending:
    __slots__ = ("command", "entry", "fingerprint", "future")

    def __init__(self, command: PostJournalEntry, entry: JournalEntry,
                 future: asyncio.Future[BookedEntry] | None = None) -> None:
        self.command = command
        self.entry = entry
        self.fingerprint = fingerprint(entry) if entry.idempotency_key is not None else ""
        self.future = future


def entry_from_command(command: PostJournalEntry, entry_id: UUID) -> JournalEntry:
    """The entry a command asks for, checked and with amounts in the currency's minor unit."""
    entry = JournalEntry(
        entry_id=entry_id, office_id=command.office_id, value_date=command.value_date,
        description=command.description, lines=command.lines, actor=command.actor,
        reference=command.reference, idempotency_key=command.idempotency_key,
    )
    check_entry(entry)
    return _normalized(entry)


def _checked(command: PostJournalEntry, entry_id: UUID, index: int) -> JournalEntry:
    """`entry_from_command` for the batch's entry at `index`, its error named by that index."""
    try:
        return entry_from_command(command, entry_id)
    except LedgerError as error:
        raise _prefixed(error, f"entries[{index}]") from error


def _normalized(entry: JournalEntry) -> JournalEntry:
    """The entry with every amount written in its currency's minor unit (most already are:
    then the entry itself, without copying it)."""
    lines = None
    for index, line in enumerate(entry.lines):
        quantum = KNOWN_QUANTA.get(line.currency)
        if quantum is not None and line.amount.same_quantum(quantum):
            continue
        amount = normalize_amount(line.amount, line.currency)
        if amount is not line.amount:
            if lines is None:
                lines = list(entry.lines)
            lines[index] = msgspec.structs.replace(line, amount=amount)
    return entry if lines is None else msgspec.structs.replace(entry, lines=tuple(lines))


async def book_entries(uow: UnitOfWork, entries: Sequence[JournalEntry], *, manual: bool = False) -> list[BookedEntry]:
    """Book entries inside the caller's unit of work, so that a business change (a deposit, a
    disbursement) and its journal entries commit together or not at all. The entries are
    checked as any posting is (balanced, postable accounts, open period, known office) and
    written by the same single statement; the caller commits. Entries come from the
    product's posting rules (`products.accounting.build_entry`), never hand-made lines."""
    if not entries:
        return []
    normalised = []
    for entry in entries:
        check_entry(entry)
        normalised.append(_normalized(entry))
    context = await _posting_context(uow.session, normalised)
    for entry in normalised:
        _check_postable(entry, context, manual=manual)
    try:
        return await append_entries(await uow.connection(), normalised, context.refs, context.locks)
    except DBAPIError as error:
        raise translate_database_error(error) or error from error


class JournalService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, *, idempotency_retention_days: int, writers: int = WRITERS_DEFAULT,
        linger_seconds: float = LINGER_SECONDS_DEFAULT,
    ) -> None:
        assert 1 <= writers <= 8, writers
        assert 0 <= linger_seconds <= 0.01, linger_seconds
        self._linger_seconds = linger_seconds
        self._uow_factory = uow_factory
        self._retention = timedelta(days=idempotency_retention_days)
        self._writer_count = writers
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self._writers:
            self._writers = [asyncio.create_task(self._writer_loop()) for _ in range(self._writer_count)]

    async def aclose(self) -> None:
        for task in self._writers:
            task.cancel()
        for task in self._writers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._writers = []
        while not self._queue.empty():
            _answer(self._queue.get_nowait(), ServiceUnavailable("the journal is shutting down; send it again"))

    async def post(self, command: PostJournalEntry) -> BookedEntry:
        """Book one entry through the group commit; answers with its own result."""
        await self.start()
        if self._queue.qsize() >= QUEUE_ENTRIES_MAX:
            raise ServiceUnavailable("the journal is saturated; send the request again shortly")
        entry = entry_from_command(command, uuid7())
        future: asyncio.Future[BookedEntry] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(command, entry, future))
        return await future

    async def post_batch(self, commands: Sequence[PostJournalEntry]) -> list[BookedEntry]:
        """Book many entries atomically, in one transaction. The first entry, in batch order,
        that fails a check is named (`entries[i]...`) and nothing is written. A large batch
        whose balances can all be locked is checked chunk by chunk while PostgreSQL inserts the
        previous chunk (`_book_batch`)."""
        if not 1 <= len(commands) <= ENTRIES_PER_BATCH_MAX:
            raise InvalidInput(f"a batch holds 1 to {ENTRIES_PER_BATCH_MAX} entries", field="entries")
        keys = [command.idempotency_key for command in commands if command.idempotency_key]
        if len(keys) != len(set(keys)):
            raise InvalidInput("idempotency keys repeat within the batch", field="entries")
        for _attempt in range(RACE_RETRIES_MAX):
            try:
                return await self._book_batch(
                    commands, remembers=any(command.idempotency_key is not None for command in commands))
            except _LostIdempotencyRace:
                continue
            except DBAPIError as error:
                raise translate_database_error(error) or error from error
        raise InvalidInput("the batch kept racing with concurrent replays; send it again", field="entries")

    async def _book_batch(self, commands: Sequence[PostJournalEntry], *, remembers: bool) -> list[BookedEntry]:
        """Lock and read the checks' context (the commands name the same accounts, currencies,
        offices and keys as their entries), then check and book the entries in pipelined chunks
        (`append_chunks`): each chunk is checked while the previous one is inserted, the first
        chunk's own checks run while the context is read, and the commit is sent while the last
        chunk's answer is built. A batch that replays recorded keys, touches a balance with no
        row yet, names an account the chart does not know, or is small, is checked whole first
        and booked as a group (`_book_checked`)."""
        async with self._uow_factory() as uow:
            session = uow.session
            if len(commands) < journal_store.PIPELINE_BATCH_ENTRIES_MIN:
                context = await _posting_context(session, commands, idempotency_scope=SCOPE_POSTING)
                return await self._book_whole(uow, commands, context)
            sizes = journal_store.pipeline_chunk_sizes(len(commands))
            pairs = {(line.account_code, line.currency) for command in commands for line in command.lines}
            reading = asyncio.ensure_future(
                _posting_context(session, commands, idempotency_scope=SCOPE_POSTING, touched=pairs))
            try:
                first, refusal = await _checked_meanwhile(commands[:sizes[0]], reading)
                context = await reading
            finally:
                if not reading.done():  # a Python error before the context came: let its query end
                    with contextlib.suppress(Exception):
                        await reading
            refs = context.refs
            balances = context.locks.balances
            if context.recorded or not all(code in refs and (refs[code].account_id, currency) in balances
                                           for code, currency in pairs):
                return await self._book_whole(uow, commands, context)
            entries: list[JournalEntry] = []

            def postable(entry: JournalEntry, index: int) -> JournalEntry:
                try:
                    _check_postable(entry, context, manual=commands[index].manual)
                except LedgerError as error:
                    raise _prefixed(error, f"entries[{index}]") from error
                return entry

            def checked_chunks() -> Iterator[list[JournalEntry]]:
                chunk = [postable(entry, index) for index, entry in enumerate(first)]
                if refusal is not None:  # the entries before it pass: it is the batch's first fault
                    raise refusal
                start = len(chunk)
                for size in sizes[1:]:
                    entries.extend(chunk)
                    yield chunk
                    chunk = [postable(_checked(commands[index], entry_id, index), index)
                             for index, entry_id in zip(range(start, start + size), uuid7s(size), strict=True)]
                    start += size
                entries.extend(chunk)
                yield chunk

            booked = await journal_store.append_chunks(await uow.connection(), checked_chunks(), refs, context.locks,
                                                       finishing=None if remembers else uow.commit)
            assert len(booked) == len(commands)
            if remembers:
                await self._remember(session, SCOPE_POSTING, [
                    (entry.idempotency_key, fingerprint(entry), booked_entry)
                    for entry, booked_entry in zip(entries, booked, strict=True) if entry.idempotency_key is not None])
                await uow.commit()
        return booked

    async def _book_whole(self, uow: UnitOfWork, commands: Sequence[PostJournalEntry],
                          context: _PostingContext) -> list[BookedEntry]:
        """The batch checked whole, then booked as one group (`_book_checked`), which commits.
        An entry its own checks refuse is named only once the entries before it have passed
        their replay and context checks: the batch's first fault, in batch order, is named."""
        group: list[_Pending] = []
        for index, (command, entry_id) in enumerate(zip(commands, uuid7s(len(commands)), strict=True)):
            try:
                group.append(_Pending(command, _checked(command, entry_id, index)))
            except LedgerError:
                _raise_first_fault(_against_context(group, context))
                raise
        outcomes = await self._book_checked(uow, group, context, atomic=True)
        booked = [outcome for outcome in outcomes if isinstance(outcome, BookedEntry)]
        assert len(booked) == len(group)
        return booked

    async def reverse(self, command: ReverseJournalEntry) -> BookedEntry:
        """Post the mirror of an entry, linked to it; an entry is reversed once only."""
        for _attempt in range(RACE_RETRIES_MAX):
            try:
                return await self._reverse_once(command)
            except _LostIdempotencyRace:
                continue
        raise InvalidInput("the reversal kept racing with a concurrent replay; send it again", field="entry_id")

    async def _reverse_once(self, command: ReverseJournalEntry) -> BookedEntry:
        request_fingerprint = _reversal_fingerprint(command)
        async with self._uow_factory() as uow:
            session = uow.session
            if command.idempotency_key:
                replayed = await self._replay(session, SCOPE_REVERSAL, command.idempotency_key, request_fingerprint)
                if replayed is not None:
                    return replayed
            original = await load_entry(session, command.entry_id)
            if original is None:
                raise EntryNotFound(f"no journal entry {command.entry_id}", field="entry_id")
            if original.entry.reverses is not None:
                raise InvalidInput("this entry is a reversal; post a new entry to correct it", field="entry_id")
            if command.manual:
                await _refuse_subledger_entry(session, original.entry)
            if original.reversed_by is not None:
                raise AlreadyReversed(f"entry {command.entry_id} is already reversed by {original.reversed_by}",
                                      field="entry_id")
            description = command.description or f"Annulation : {original.entry.description}"
            entry = reverse(
                original.entry, reversal_id=uuid7(), value_date=command.value_date or original.entry.value_date,
                description=description[:500], actor=command.actor, idempotency_key=command.idempotency_key,
            )
            check_entry(entry)
            context = await _posting_context(session, [entry])
            check_postable(entry, context.chart, closed_through=context.closed_through.get(entry.office_id),
                           manual=command.manual)
            try:
                (booked,) = await append_entries(await uow.connection(), [entry], context.refs, context.locks)
                if command.idempotency_key:
                    await self._remember(session, SCOPE_REVERSAL, [(command.idempotency_key, request_fingerprint, booked)])
            except DBAPIError as error:
                if sqlstate_of(error) == "23505" and "reversed_once" in str(error):
                    if command.idempotency_key:
                        raise _LostIdempotencyRace() from error
                    raise AlreadyReversed(f"entry {command.entry_id} is already reversed", field="entry_id") from error
                raise translate_database_error(error) or error from error
            await uow.commit()
        return booked

    async def _writer_loop(self) -> None:
        while True:
            group = [await self._queue.get()]
            if self._linger_seconds and self._queue.qsize() < GROUP_ENTRIES_MAX:
                await asyncio.sleep(self._linger_seconds)
            while len(group) < GROUP_ENTRIES_MAX and not self._queue.empty():
                group.append(self._queue.get_nowait())
            try:
                await self._commit_group(group)
            except Exception as error:  # the writer must survive anything a group throws
                _log.exception("journal writer failed a group")
                for pending in group:
                    if pending.future is not None and not pending.future.done():
                        pending.future.set_exception(error)

    async def _commit_group(self, group: list[_Pending]) -> None:
        """Book a group and answer each request. When the database refuses the group (a rule
        only it caught, a deadlock), the group is split in halves and each half retried, so
        only the faulty entry fails; a lone entry gets its translated error."""
        group, later = _first_of_each_key(group)
        try:
            await self._commit_group_once(group)
        finally:
            for pending in later:
                self._queue.put_nowait(pending)

    async def _commit_group_once(self, group: list[_Pending]) -> None:
        for _attempt in range(RACE_RETRIES_MAX):
            try:
                outcomes = await self._book_group(group, atomic=False)
            except _LostIdempotencyRace:
                continue
            except DBAPIError as error:
                if len(group) > 1:
                    middle = len(group) // 2
                    await self._commit_group_once(group[:middle])
                    await self._commit_group_once(group[middle:])
                    return
                translated = translate_database_error(error)
                if translated is None:
                    _log.warning("journal writer: database refused an entry: %s", error)
                _answer(group[0], translated or Conflict(
                    "the database could not book this entry now; send it again", field=None))
                return
            for pending, outcome in zip(group, outcomes, strict=True):
                _answer(pending, outcome)
            return
        for pending in group:
            _answer(pending, InvalidInput("concurrent replays kept racing; send the request again"))

    async def _book_group(self, group: list[_Pending], *, atomic: bool) -> list[BookedEntry | Exception]:
        """Check and book a group in one transaction. Non-atomic groups answer each entry's
        own error; atomic ones raise the first error, named by its index in the batch."""
        async with self._uow_factory() as uow:
            # One round trip: the keys already recorded, the checks' context and the locks (for
            # every entry of the group: a replay's are taken for nothing, replays are rare).
            context = await _posting_context(uow.session, [p.entry for p in group], idempotency_scope=SCOPE_POSTING)
            return await self._book_checked(uow, group, context, atomic=atomic)

    async def _book_checked(self, uow: UnitOfWork, group: list[_Pending], context: _PostingContext, *,
                            atomic: bool) -> list[BookedEntry | Exception]:
        """`_book_group` once the context is read and locked, in the same unit of work."""
        session = uow.session
        outcomes = _against_context(group, context)
        valid = [index for index, outcome in enumerate(outcomes) if outcome is None]
        if atomic:
            _raise_first_fault(outcomes)
        if valid:
            booked = await append_entries(await uow.connection(), [group[i].entry for i in valid], context.refs,
                                          context.locks)
            remembered = []
            for index, booked_entry in zip(valid, booked, strict=True):
                outcomes[index] = booked_entry
                key = group[index].entry.idempotency_key
                if key is not None:
                    remembered.append((key, group[index].fingerprint, booked_entry))
            if remembered:
                await self._remember(session, SCOPE_POSTING, remembered)
            await uow.commit()
        assert all(outcome is not None for outcome in outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    async def _replay(self, session: AsyncSession, scope: str, key: str, request_fingerprint: str) -> BookedEntry | None:
        recorded = await self._recorded(session, scope, [key])
        if key not in recorded:
            return None
        outcome = _replayed(recorded[key], request_fingerprint)
        if isinstance(outcome, IdempotencyConflict):
            raise outcome
        return outcome

    async def _recorded(self, session: AsyncSession, scope: str, keys: Sequence[str | None]) -> dict[str, tuple[str, str]]:
        """(fingerprint, response) of every unexpired record among the keys, in one query."""
        wanted = sorted({key for key in keys if key is not None})
        if not wanted:
            return {}
        rows = (await session.execute(
            text("SELECT key, fingerprint, response FROM idempotency_record "
                 "WHERE scope = :scope AND key = ANY(CAST(:keys AS text[])) AND expires_at >= now()"),
            {"scope": scope, "keys": wanted},
        )).all()
        return {row.key: (row.fingerprint, row.response) for row in rows}

    async def _remember(self, session: AsyncSession, scope: str, records: list[tuple[str, str, BookedEntry]]) -> None:
        records = sorted(records, key=lambda record: record[0])
        keys = [key for key, _fp, _booked in records]
        stored = (await session.execute(
            text(
                """
                INSERT INTO idempotency_record AS r (scope, key, fingerprint, entry_id, response, expires_at)
                SELECT :scope, k, f, e, resp, now() + :retention
                  FROM unnest(CAST(:keys AS text[]), CAST(:fingerprints AS text[]), CAST(:entry_ids AS uuid[]),
                              CAST(:responses AS text[])) AS t(k, f, e, resp)
                ON CONFLICT (scope, key) DO UPDATE
                   SET fingerprint = EXCLUDED.fingerprint, entry_id = EXCLUDED.entry_id,
                       response = EXCLUDED.response, created_at = now(), expires_at = EXCLUDED.expires_at
                 WHERE r.expires_at < now()
                RETURNING key
                """
            ),
            {
                "scope": scope,
                "retention": self._retention,
                "keys": keys,
                "fingerprints": [fp for _key, fp, _booked in records],
                "entry_ids": [booked.entry.entry_id for _key, _fp, booked in records],
                "responses": [msgspec.json.encode(booked).decode() for _key, _fp, booked in records],
            },
        )).scalars().all()
        if len(stored) != len(keys):
            raise _LostIdempotencyRace()


YEAR_END_REOPEN_ROUTE: Final = "/api/v1/closures/year-end/reversal"
_SUBLEDGER_ROW = text(
    """
    SELECT 'deposit account transaction' AS movement FROM deposit_transaction WHERE journal_entry_id = :entry_id
    UNION ALL
    SELECT 'loan transaction' FROM loan_transaction WHERE journal_entry_id = :entry_id
    UNION ALL
    SELECT 'term deposit transaction' FROM term_deposit_transaction WHERE entry_id = :entry_id
    LIMIT 1
    """
)


async def _refuse_subledger_entry(session: AsyncSession, entry: JournalEntry) -> None:
    """A product movement's entry is reversed through the product's own route (a deposit's or
    a loan's transaction reversal), which reverses the sub-ledger row with it: reversed here,
    the ledger would move without the sub-ledger and the reconciliation would break. A year-end
    closing entry is reversed by reopening its year, which reverses every office's closing
    entry of that close together and lets the year be closed again."""
    if entry.reference is not None and entry.reference.source_type == YEAR_END_CLOSE:
        raise Conflict(f"journal entry {entry.entry_id} is the year-end closing entry "
                       f"{entry.reference.source_id}: reopen the year through POST "
                       f"{YEAR_END_REOPEN_ROUTE} instead", field="entry_id")
    movement = await session.scalar(_SUBLEDGER_ROW, {"entry_id": entry.entry_id})
    if movement is None:
        return
    source = f" ({entry.reference.source_type} {entry.reference.source_id})" if entry.reference else ""
    raise Conflict(f"journal entry {entry.entry_id} was posted by a {movement}{source}: reverse that movement "
                   "through its own account's or loan's reversal route, so that its sub-ledger follows",
                   field="entry_id")


_POSTING_CONTEXT = text(
    f"""
    SELECT 'account' AS kind, a.code, a.id AS account_id, a.type, a.is_header, a.active, a.currency,
           a.manual_entries_allowed, NULL::int AS office_id, NULL::date AS closed_through,
           NULL::bigint AS chain_position, NULL::bytea AS entry_hash, NULL::timestamptz AS booked_at,
           NULL::numeric AS debit_balance, NULL::text AS fingerprint, NULL::text AS response
      FROM gl_account a WHERE a.code = ANY(CAST(:codes AS text[]))
    UNION ALL
    SELECT 'office', NULL, NULL, NULL, NULL, NULL, NULL, NULL, o.id,
           (SELECT max(c.closing_date) FROM accounting_closure c
             WHERE c.office_id = ANY(o.lineage) AND c.undone_at IS NULL), NULL, NULL, NULL, NULL, NULL, NULL
      FROM office o WHERE o.id = ANY(CAST(:offices AS int[]))
    UNION ALL
    SELECT 'recorded', r.key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           r.fingerprint, r.response
      FROM idempotency_record r
     WHERE r.scope = :scope AND r.key = ANY(CAST(:keys AS text[])) AND r.expires_at >= now()
    UNION ALL
    SELECT 'lock', NULL, l.account_id, NULL, NULL, NULL, l.currency, NULL, l.office_id, NULL, l.chain_position,
           l.entry_hash, l.booked_at, l.debit_balance, NULL, NULL
      FROM {POSTING_LOCKS} AS l
    """
)


class _PostingContext(msgspec.Struct, frozen=True, kw_only=True):
    """What checking and booking a group of entries needs from the database, read in one
    round trip: the accounts the entries touch, the closed-through date of each known office,
    the (fingerprint, response) of their idempotency keys already recorded, and the chain
    heads and balances now locked for the append (`ledger.db.store.PostingLocks`)."""

    chart: LoadedChart
    refs: dict[str, AccountRef]
    closed_through: dict[int, date | None]
    recorded: dict[str, tuple[str, str]]
    locks: PostingLocks


async def _posting_context(session: AsyncSession, entries: Sequence[JournalEntry] | Sequence[PostJournalEntry], *,
                           idempotency_scope: str = "", touched: set[tuple[str, str]] | None = None) -> _PostingContext:
    """Read the checks' context and lock what the append will move. Call it only right
    before booking the entries: the locks are held until the transaction ends. With an
    `idempotency_scope`, the entries' keys already recorded in it come too. Commands do as
    well as their entries: they name the same accounts, currencies, offices and keys.
    `touched`: the entries' (account code, currency) pairs, if the caller has them."""
    if touched is None:
        touched = {(line.account_code, line.currency) for entry in entries for line in entry.lines}
    codes = sorted({code for code, _currency in touched})
    office_ids = sorted({entry.office_id for entry in entries})
    keys = sorted({entry.idempotency_key for entry in entries if entry.idempotency_key is not None}
                  if idempotency_scope else ())
    rows = (await session.execute(_POSTING_CONTEXT, {
        "codes": codes, "offices": office_ids, "scope": idempotency_scope, "keys": keys,
        **posting_lock_parameters(entries, touched)})).all()
    accounts: list[GLAccount] = []
    refs: dict[str, AccountRef] = {}
    closed: dict[int, date | None] = {}
    recorded: dict[str, tuple[str, str]] = {}
    locks = PostingLocks()
    for row in rows:
        if row.kind == "lock":
            locks.add(row)
            continue
        if row.kind == "office":
            closed[row.office_id] = row.closed_through
            continue
        if row.kind == "recorded":
            recorded[row.code] = (row.fingerprint, row.response)
            continue
        account_type = AccountType(row.type)
        accounts.append(GLAccount(
            code=row.code, name=row.code, type=account_type,
            usage=AccountUsage.HEADER if row.is_header else AccountUsage.DETAIL,
            currency=row.currency.strip() if row.currency else None,
            manual_entries_allowed=row.manual_entries_allowed, active=row.active,
        ))
        refs[row.code] = AccountRef(row.account_id, account_type.normal_side)
    return _PostingContext(chart=LoadedChart(accounts), refs=refs, closed_through=closed, recorded=recorded,
                           locks=locks)


def _check_postable(entry: JournalEntry, context: _PostingContext, *, manual: bool) -> None:
    """The entry against the context: a known office, postable accounts, an open period."""
    if entry.office_id not in context.closed_through:
        raise UnknownOffice(f"unknown office {entry.office_id}", field="office_id")
    check_postable(entry, context.chart, closed_through=context.closed_through[entry.office_id], manual=manual)


async def _checked_meanwhile(commands: Sequence[PostJournalEntry],
                            reading: asyncio.Future[_PostingContext]) -> tuple[list[JournalEntry], LedgerError | None]:
    """The entries of a batch's first chunk through their own checks (`_checked`), made while
    the context they will be checked against next is read: the work yields now and then so
    that the reading task sends its statements. Returns the entries up to the first refused
    one and that refusal, raised once the entries before it have passed their context checks
    (the batch's first fault is named)."""
    entries: list[JournalEntry] = []
    for start in range(0, len(commands), _CHECKED_BETWEEN_YIELDS):
        if not reading.done():
            await asyncio.sleep(0)
        stop = min(start + _CHECKED_BETWEEN_YIELDS, len(commands))
        for index, entry_id in zip(range(start, stop), uuid7s(stop - start), strict=True):
            try:
                entries.append(_checked(commands[index], entry_id, index))
            except LedgerError as error:
                return entries, error
    return entries, None


_CHECKED_BETWEEN_YIELDS: Final = 40
"""About a tenth of a millisecond of checks: a loopback round trip."""


def _against_context(group: list[_Pending], context: _PostingContext) -> list[BookedEntry | Exception | None]:
    """Each pending entry's outcome before booking: the original answer of a recorded key (or
    its conflict), a context check's refusal, or None for an entry to book."""
    outcomes: list[BookedEntry | Exception | None] = [None] * len(group)
    recorded = context.recorded
    for index, pending in enumerate(group):
        key = pending.entry.idempotency_key
        if key is not None and key in recorded:
            outcomes[index] = _replayed(recorded[key], pending.fingerprint)
            continue
        try:
            _check_postable(pending.entry, context, manual=pending.command.manual)
        except LedgerError as error:
            outcomes[index] = error
    return outcomes


def _raise_first_fault(outcomes: Sequence[BookedEntry | Exception | None]) -> None:
    """Raise the first refusal among a batch's outcomes, named by its index in the batch."""
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, Exception):
            raise _prefixed(outcome, f"entries[{index}]") if isinstance(outcome, LedgerError) else outcome


def _replayed(record: tuple[str, str], request_fingerprint: str) -> BookedEntry | IdempotencyConflict:
    """The original answer for a replay, or the conflict when the body differs."""
    recorded_fingerprint, response = record
    if recorded_fingerprint != request_fingerprint:
        return IdempotencyConflict("this idempotency key was used with another request body", field="idempotency_key")
    return msgspec.json.decode(response, type=BookedEntry)


def _first_of_each_key(group: list[_Pending]) -> tuple[list[_Pending], list[_Pending]]:
    """Requests repeating a key already in the group wait for the next group, and replay."""
    seen: set[str] = set()
    first: list[_Pending] = []
    later: list[_Pending] = []
    for pending in group:
        key = pending.entry.idempotency_key
        if key is not None and key in seen:
            later.append(pending)
            continue
        if key is not None:
            seen.add(key)
        first.append(pending)
    return first, later


def _answer(pending: _Pending, outcome: BookedEntry | BaseException) -> None:
    if pending.future is None or pending.future.done():
        return
    if isinstance(outcome, BaseException):
        pending.future.set_exception(outcome)
    else:
        pending.future.set_result(outcome)


def _prefixed(error: LedgerError, prefix: str) -> LedgerError:
    return type(error)(error.message, field=f"{prefix}.{error.field}" if error.field else prefix)


def _reversal_fingerprint(command: ReverseJournalEntry) -> str:
    import hashlib

    content = msgspec.structs.replace(command, idempotency_key=None)
    return hashlib.sha256(msgspec.json.encode(content)).hexdigest()


__all__ = ("JournalService", "entry_from_command")
