"""Appending entries to the journal. Entries and their lines go in one statement (the function
`journal_append`, which inserts both from unnest'ed arrays), because PostgreSQL's
statement-level checks see an entry and its lines together; the same statement's trigger
updates the cached balances, which are then read back to give each touched account's balance
before and after each entry.
Before it, the writer locks its offices' chain heads and chains each entry's hash onto them
(`ledger.chain`). Never commits: the caller's unit of work does.

A caller that has already locked the heads and the touched balances (`journal_posting_lock`,
read with its other checks in one round trip, see `PostingLocks`) saves both the lock and the
read-back: with the balance rows locked until the commit, the balances after the entries are
the ones read plus their lines."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.chain import GENESIS, CanonicalEncoder
from ledger.limits import ENTRIES_PER_BATCH_MAX
from ledger.model import AccountMovement, BookedEntry, JournalEntry, Side
from ledger.money import normalize_amount

_APPEND_SQL = """
    SELECT first_booked_at, last_booked_at, entries, first_sequence, sequences
      FROM journal_append(CAST(:hashes AS bytea), CAST(:ids AS uuid[]), CAST(CAST(:office_ids AS text) AS int[]),
                          CAST(CAST(:value_days AS text) AS int[]), CAST(CAST(:descriptions AS text) AS text[]),
                          CAST(CAST(:source_types AS text) AS text[]), CAST(CAST(:source_ids AS text) AS text[]),
                          CAST(CAST(:actors AS text) AS text[]), CAST(CAST(:keys AS text) AS text[]),
                          CAST(CAST(:reverses AS text) AS uuid[]), CAST(CAST(:line_counts AS text) AS smallint[]),
                          CAST(CAST(:positions AS text) AS bigint[]), CAST(CAST(:line_firsts AS text) AS int[]),
                          CAST(CAST(:line_accounts AS text) AS int[]), CAST(CAST(:line_sides AS text) AS text[]),
                          CAST(CAST(:line_amounts AS text) AS numeric[]), CAST(CAST(:line_currencies AS text) AS text[]))
    """
_APPEND = text(_APPEND_SQL)
"""Entries and their lines in one statement, by the SECURITY DEFINER function `journal_append`
(revision 0047): it builds each line from its entry (id, office, date, numbers 1..line_count),
so the posting triggers skip the checks that compared lines with their entries; all other checks
run. The arrays travel as PostgreSQL array literals (one text parameter each; dates as day
numbers; a column of NULLs as an empty array, which the many-argument unnest pads with NULLs)
and the hashes as one bytea of 32-byte digests: asyncpg's per-element binary encoding cost more
than everything else in the statement. Entry i's lines are the line arrays' elements from
line_firsts[i], line_counts[i] of them. Sequence numbers come back as the first one when they
have no gap (the usual case: entry i has first + i), else as a list in the entries' order."""


def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """The statement with asyncpg's $n instead of SQLAlchemy's :name, and the names in $n order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"(?<![:\w]):([a-z_]+)", number, sql), tuple(names)


_APPEND_POSITIONAL, _APPEND_NAMES = _positional(_APPEND_SQL)

_LOCK_CHAINS = text(
    "SELECT office_id, chain_position, entry_hash, booked_at FROM journal_chain_lock(CAST(:offices AS int[]))"
)

_BALANCES = text(
    """
    SELECT b.account_id, b.currency, b.debit_total - b.credit_total AS debit_balance
      FROM account_balance b
      JOIN unnest(CAST(:accounts AS int[]), CAST(:currencies AS text[])) AS k(account_id, currency)
        ON b.account_id = k.account_id AND b.currency = k.currency
    """
)

BalanceKey = tuple[int, str]

POSTING_LOCKS = (
    "journal_posting_lock(CAST(:lock_offices AS int[]), CAST(:lock_codes AS text[]), CAST(:lock_currencies AS text[]))"
)
"""The set-returning call that locks the chain heads of the entries' offices, then the balance
rows of the (account, currency) pairs their lines touch, in that order, and returns them
(office_id, chain_position, entry_hash, booked_at | account_id, currency, debit_balance). A
caller selects from it in the statement that reads its other checks, with
`posting_lock_parameters`, and gives each row to `PostingLocks.add`."""


def posting_lock_parameters(entries: Sequence[JournalEntry],
                            touched: Iterable[tuple[str, str]] | None = None) -> dict[str, object]:
    """`touched`: the entries' (account code, currency) pairs, when the caller has them already."""
    if touched is None:
        touched = {(line.account_code, line.currency) for entry in entries for line in entry.lines}
    pairs = sorted(touched)
    return {"lock_offices": sorted({entry.office_id for entry in entries}),
            "lock_codes": [code for code, _currency in pairs], "lock_currencies": [currency for _code, currency in pairs]}


class PostingLocks:
    """What `journal_posting_lock` locked, held until the transaction ends: each office's chain
    head (position, hash) with the transaction's time, and the balance (debit minus credit) of
    every touched (account, currency) pair that already has a balance row."""

    __slots__ = ("balances", "booked_at", "heads")

    def __init__(self) -> None:
        self.heads: dict[int, tuple[int, bytes]] = {}
        self.balances: dict[BalanceKey, Decimal] = {}
        self.booked_at: datetime | None = None

    def add(self, row: object) -> None:
        """One row of POSTING_LOCKS: a head (office_id set) or a balance (account_id set)."""
        if row.office_id is not None:  # type: ignore[attr-defined]
            self.heads[row.office_id] = (row.chain_position, row.entry_hash)  # type: ignore[attr-defined]
            self.booked_at = row.booked_at  # type: ignore[attr-defined]
        else:
            self.balances[(row.account_id, row.currency)] = row.debit_balance  # type: ignore[attr-defined]


class AccountRef:
    """What the store needs of an account: its row id and its normal side."""

    __slots__ = ("account_id", "normal_side")

    def __init__(self, account_id: int, normal_side: Side) -> None:
        self.account_id = account_id
        self.normal_side = normal_side


async def append_entries(
    connection: AsyncConnection, entries: Sequence[JournalEntry], accounts: Mapping[str, AccountRef],
    locks: PostingLocks | None = None,
) -> list[BookedEntry]:
    """Write already-checked entries; returns them booked, in order, with the balance of every
    touched account just before and after each entry. `locks`: what the caller locked for
    these entries in this transaction (`journal_posting_lock`), if it did.

    Fewer than PIPELINE_BATCH_ENTRIES_MIN entries go in one statement. A larger batch whose balance
    rows are all locked goes in chunks of one transaction, pipelined (`_append_pipelined`)."""
    assert 1 <= len(entries) <= ENTRIES_PER_BATCH_MAX, len(entries)
    if locks is not None and len(entries) >= PIPELINE_BATCH_ENTRIES_MIN:
        touched = {(accounts[line.account_code].account_id, line.currency) for entry in entries for line in entry.lines}
        if touched <= locks.balances.keys():
            return await _append_pipelined(connection, entries, accounts, locks)
    prepared = _Prepared(entries, accounts)
    if locks is None:
        rows = (await connection.execute(_LOCK_CHAINS, {"offices": sorted(prepared.offices)})).all()
        heads = {row.office_id: (row.chain_position, row.entry_hash) for row in rows}
        locked_at = rows[0].booked_at if rows else None
    else:
        heads, locked_at = locks.heads, locks.booked_at
    # An unknown office has no head: its entry is refused by the posting trigger (GL012).
    booked_at = locked_at or datetime.now(UTC)
    positions, hashes = prepared.chain(dict(heads), booked_at)
    result = (await connection.execute(_APPEND, prepared.parameters(positions, hashes))).one()._mapping
    sequences = prepared.sequences(result, heads=bool(heads), booked_at=booked_at)
    if locks is not None and prepared.touched <= locks.balances.keys():
        # Locked since before the insert: nobody but these lines moved them.
        after_batch = prepared.moved(locks.balances)
    else:  # not locked, or an account's first line in a currency (no row to lock before it)
        keys = sorted(prepared.touched)
        balance_rows = (
            await connection.execute(
                _BALANCES, {"accounts": [k[0] for k in keys], "currencies": [k[1] for k in keys]}
            )
        ).all()
        after_batch = {(r.account_id, r.currency.strip()): r.debit_balance for r in balance_rows}
    assert set(after_batch) == prepared.touched, "the posting trigger keeps a balance for every touched account"
    totals = prepared.totals()
    # Start from the balances just before the batch, in the currency's minor unit: adding
    # amounts exact in that unit keeps every running balance in it.
    running = {key: normalize_amount(after_batch[key] - totals[key], key[1]) for key in totals}
    booked = prepared.booked(prepared.movements(running), sequences, positions, hashes, result["first_booked_at"])
    assert all(running[key] == after_batch[key] for key in running), \
        "replaying the batch's deltas lands on the stored balances"
    return booked


PIPELINE_BATCH_ENTRIES_MIN: Final = 1_250
"""The smallest batch that goes in pipelined chunks; a smaller one is one statement."""
PIPELINE_FIRST_CHUNK_ENTRIES: Final = 160
"""The first statement's entries: PostgreSQL waits while Python checks and encodes the first
chunk, so it is small."""
PIPELINE_CHUNK_ENTRIES: Final = 1_250
"""The size chunks grow to (the last one takes a remainder under half of it, so up to about 1.5
times). Each statement costs PostgreSQL about 0.8-1 ms besides its rows, so fewer, larger
statements cost less."""


def pipeline_chunk_sizes(total: int) -> list[int]:
    """The sizes of a pipelined batch's chunks. Each is 1.6 times the one before, from
    PIPELINE_FIRST_CHUNK_ENTRIES up to PIPELINE_CHUNK_ENTRIES: Python makes chunk k+1 while
    PostgreSQL writes chunk k, and on this machine it makes an entry in about 0.6 of the time
    PostgreSQL writes one, so a chunk may grow by that much and PostgreSQL does not wait. A
    remainder under half a chunk joins the last one (a 2,500-entry batch goes in 160, 256,
    409, 654 and 1,021)."""
    sizes: list[int] = []
    size = min(PIPELINE_FIRST_CHUNK_ENTRIES, PIPELINE_CHUNK_ENTRIES)
    left = total
    while left > 0:
        take = min(size, left)
        if 0 < left - take < size // 2:
            take = left
        sizes.append(take)
        left -= take
        size = min(size * 8 // 5, PIPELINE_CHUNK_ENTRIES)
    return sizes


async def _append_pipelined(
    connection: AsyncConnection, entries: Sequence[JournalEntry], accounts: Mapping[str, AccountRef],
    locks: PostingLocks,
) -> list[BookedEntry]:
    """A large batch of already-checked entries in chunks (`pipeline_chunk_sizes`, `append_chunks`)."""
    starts = list(itertools.accumulate(pipeline_chunk_sizes(len(entries)), initial=0))
    chunks = (entries[start:stop] for start, stop in itertools.pairwise(starts))
    booked = await append_chunks(connection, chunks, accounts, locks)
    assert len(booked) == len(entries)
    return booked


async def append_chunks(
    connection: AsyncConnection, chunks: Iterable[Sequence[JournalEntry]], accounts: Mapping[str, AccountRef],
    locks: PostingLocks, *, finishing: Callable[[], Awaitable[None]] | None = None,
) -> list[BookedEntry]:
    """Entries in chunks of one transaction, so that Python and PostgreSQL work at the same
    time: chunk k's statement is sent, then its movements (balances before and after each entry)
    are made, chunk k-1's answer built, and chunk k+1 taken from `chunks`, hashed and encoded,
    while PostgreSQL inserts and checks chunk k; one statement at a
    time runs on the connection. `chunks` is read lazily, one chunk once the previous one is sent:
    a generator that checks its entries (`JournalService.post_batch`) checks chunk k+1 during
    chunk k's statement, and an error it raises ends the batch (the statement in flight ends
    first, then the caller's transaction rolls back).

    Every chunk is a whole set of entries with their lines, so the statement-level triggers
    check each chunk as they check any posting; each chunk continues its offices' chains from
    where the previous one left them, and the chain trigger refuses anything else. All or
    nothing: a refused chunk raises and the caller's transaction rolls back. Needs every touched
    balance locked (`locks`), so the balances after each entry are the locked ones plus the
    lines, without reading them back.

    `finishing`: the caller's commit, when nothing is left to write after the entries. It is
    sent once the last chunk is answered and its sequence numbers checked, and awaited after
    the last chunk's entries are built, so PostgreSQL flushes the transaction meanwhile."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    heads, booked_at = locks.heads, locks.booked_at or datetime.now(UTC)
    tips = dict(heads)
    running = {key: normalize_amount(balance, key[1]) for key, balance in locks.balances.items()}
    booked: list[BookedEntry] = []
    in_flight: asyncio.Task[asyncpg.Record] | None = None
    answered: tuple[_Prepared, list[int], list[bytes], list[tuple[AccountMovement, ...]]] | None = None

    def sequences_of(result: Any) -> list[int]:
        """The answered chunk's sequence numbers, from its statement's ``result`` (checked)."""
        assert answered is not None
        return answered[0].sequences(result, heads=True, booked_at=booked_at)

    def built(sequences: list[int]) -> list[BookedEntry]:
        """The answered chunk's entries as booked."""
        assert answered is not None
        chunk, positions, hashes, movements = answered
        return chunk.booked(movements, sequences, positions, hashes, booked_at)

    try:
        for entries in chunks:
            assert 1 <= len(entries) <= ENTRIES_PER_BATCH_MAX, len(entries)
            chunk = _Prepared(entries, accounts)
            assert chunk.touched <= running.keys(), "every balance the chunk moves is locked"
            positions, hashes = chunk.chain(tips, booked_at)
            arguments = chunk.arguments(positions, hashes)
            result = None
            if in_flight is not None:
                result = await in_flight
                in_flight = None
            in_flight = asyncio.create_task(driver.fetchrow(_APPEND_POSITIONAL, *arguments))
            await _sent(driver)
            movements = chunk.movements(running)  # known before the answer: made while the chunk runs
            if answered is not None:  # the previous chunk's answer, built while this one runs
                booked.extend(built(sequences_of(result)))
            answered = (chunk, positions, hashes, movements)
        if in_flight is not None:
            result = await in_flight
            in_flight = None
            sequences = sequences_of(result)  # checked before the commit leaves
            assert answered is not None and len(answered[3]) == len(sequences)
            if finishing is None:
                booked.extend(built(sequences))
            else:
                committing = asyncio.ensure_future(finishing())
                try:
                    await asyncio.sleep(0)  # the commit leaves before the entries are built
                    booked.extend(built(sequences))
                finally:
                    await committing  # whatever happens meanwhile, the commit ends before the unit of work
        elif finishing is not None:  # no chunk at all: nothing to wait for
            await finishing()
    except asyncpg.PostgresError as error:
        raise DBAPIError(_APPEND_SQL, None, error) from error
    finally:
        if in_flight is not None:  # a Python error while a chunk runs: let it end before the rollback
            with contextlib.suppress(Exception):
                await in_flight
    return booked


async def _sent(driver: asyncpg.Connection) -> None:
    """Yield to the event loop until the statement just started has left for the server (the
    task writes it on its first step; a large one may need the socket to drain)."""
    await asyncio.sleep(0)
    transport = getattr(driver, "_transport", None)
    for _ in range(100):
        if transport is None or not transport.get_write_buffer_size():
            return
        await asyncio.sleep(0)


class _Prepared:
    """One pass over the entries: what the statement, the chain and the movements need, as
    flat columns over all lines (a container per entry or per line would be thousands of
    objects for the cycle collector to walk)."""

    __slots__ = ("account_ids", "accounts", "amounts", "codes", "counts", "currencies", "entries", "entry_days",
                 "line_days", "line_numbers", "line_offices", "offices", "sides", "touched")

    def __init__(self, entries: Sequence[JournalEntry], accounts: Mapping[str, AccountRef]) -> None:
        self.entries = entries
        self.accounts = accounts
        lines = [line for entry in entries for line in entry.lines]
        self.counts = [len(entry.lines) for entry in entries]
        ids = {code: ref.account_id for code, ref in accounts.items()}
        self.codes = [line.account_code for line in lines]
        self.account_ids = [ids[code] for code in self.codes]
        debit = Side.DEBIT
        self.sides = ["D" if line.side is debit else "C" for line in lines]
        self.amounts = [line.amount for line in lines]
        self.currencies = [line.currency for line in lines]
        self.offices = {entry.office_id for entry in entries}
        self.touched: set[BalanceKey] = set(zip(self.account_ids, self.currencies, strict=True))
        days = _Days()
        self.entry_days = [days(entry.value_date) for entry in entries]
        # Column by column: each comprehension runs at C speed, unlike one loop of appends.
        counts = self.counts
        self.line_numbers = [number for count in counts for number in range(1, count + 1)]
        self.line_offices = [entry.office_id for entry, count in zip(entries, counts, strict=True) for _ in range(count)]
        self.line_days = [day for day, count in zip(self.entry_days, counts, strict=True) for _ in range(count)]

    def moved(self, before: Mapping[BalanceKey, Decimal]) -> dict[BalanceKey, Decimal]:
        """The touched balances (debit minus credit) once the lines are added to `before`."""
        after = {key: before[key] for key in self.touched}
        for account_id, currency, side, amount in zip(self.account_ids, self.currencies, self.sides, self.amounts,
                                                      strict=True):
            key = (account_id, currency)
            after[key] += amount if side == "D" else -amount
        return after

    def chain(self, heads: dict[int, tuple[int, bytes]], booked_at: datetime) -> tuple[list[int], list[bytes]]:
        """Each entry's position and hash in its office's chain, continuing from `heads` (the
        locked heads, or where the previous chunk left them), which it moves on."""
        tips = heads
        positions: list[int] = []
        hashes: list[bytes] = []
        encoder = CanonicalEncoder(booked_at)
        lines = encoder.lines(self.line_numbers, self.account_ids, self.line_offices, self.line_days, self.sides,
                              self.amounts, self.currencies)
        header_start, header_rest = encoder.header_start, encoder.header_rest
        rests: dict[tuple[object, ...], bytes] = {}  # most entries of a batch share their header's rest
        sha256 = hashlib.sha256
        join = b"".join
        start = 0
        for entry, count, days in zip(self.entries, self.counts, self.entry_days, strict=True):
            office_id = entry.office_id
            position, previous = tips.get(office_id, (0, GENESIS))
            position += 1
            reference = entry.reference
            shared = (entry.description, reference, entry.actor, entry.idempotency_key, entry.reverses, count)
            rest = rests.get(shared)
            if rest is None:
                rest = rests[shared] = header_rest(
                    entry.description, reference.source_type if reference else None,
                    reference.source_id if reference else None, entry.actor, entry.idempotency_key, entry.reverses,
                    count)
            stop = start + count
            digest = sha256(join((previous, header_start(entry.entry_id, office_id, position, days), rest,
                                  *lines[start:stop]))).digest()
            start = stop
            tips[office_id] = (position, digest)
            positions.append(position)
            hashes.append(digest)
        return positions, hashes

    def arguments(self, positions: list[int], hashes: list[bytes]) -> list[object]:
        """`parameters` in the order of `_APPEND_POSITIONAL`'s $n."""
        parameters = self.parameters(positions, hashes)
        return [parameters[name] for name in _APPEND_NAMES]

    def parameters(self, positions: list[int], hashes: list[bytes]) -> dict[str, object]:
        entries = self.entries
        counts = self.counts
        text_array = _TextArray()
        entry_days = self.entry_days
        return {
            "ids": [entry.entry_id for entry in entries],
            "office_ids": _repeated_numbers([entry.office_id for entry in entries]),
            "value_days": _repeated_numbers(entry_days),
            "descriptions": text_array.texts([entry.description for entry in entries]),
            "source_types": text_array.texts([e.reference.source_type if e.reference else None for e in entries]),
            "source_ids": text_array.texts([e.reference.source_id if e.reference else None for e in entries]),
            "actors": text_array.texts([entry.actor for entry in entries]),
            "keys": text_array.texts([entry.idempotency_key for entry in entries]),
            "reverses": text_array.texts([str(e.reverses) if e.reverses else None for e in entries]),
            "line_counts": _repeated_numbers(counts),
            "positions": _numbers(positions),
            "hashes": b"".join(hashes),
            "line_firsts": _numbers(itertools.accumulate(counts[:-1], initial=1)),
            "line_accounts": _repeated_numbers(self.account_ids),
            "line_sides": "{" + ",".join(self.sides) + "}",
            "line_amounts": _numbers(self.amounts),
            "line_currencies": text_array.texts(self.currencies),
        }

    def totals(self) -> dict[BalanceKey, Decimal]:
        """What the lines move on each touched balance (debit minus credit)."""
        total: dict[BalanceKey, Decimal] = defaultdict(Decimal)
        for account_id, currency, side, amount in zip(self.account_ids, self.currencies, self.sides, self.amounts,
                                                      strict=True):
            key = (account_id, currency)
            total[key] += amount if side == "D" else -amount
        return total

    def sequences(self, result: Any, *, heads: bool, booked_at: datetime) -> list[int]:
        """Each entry's sequence number, from the statement's answer: the first one when they
        run without a gap, else each one in the entries' order."""
        count = len(self.entries)
        assert result["entries"] == count, "every entry row is returned"
        assert not heads or result["first_booked_at"] == result["last_booked_at"] == booked_at, \
            "booked at the transaction's time"
        if result["sequences"] is None:
            first = result["first_sequence"]
            return list(range(first, first + count))
        sequences = list(map(int, result["sequences"].split(",")))
        assert len(sequences) == count, "a sequence number for each entry"
        return sequences

    def movements(self, running: dict[BalanceKey, Decimal]) -> list[tuple[AccountMovement, ...]]:
        """Each entry's movements: every touched account's balance just before and after the
        entry, replayed from `running` (the balances just before these entries, in the
        currency's minor unit), which it moves on to the balances after them. Known before the
        statement runs: the balances are locked, so only these lines move them."""
        deltas = [amount if side == "D" else -amount for side, amount in zip(self.sides, self.amounts, strict=True)]
        # Each touched (account, currency) gets a slot number, and the per-line and running
        # values live in lists by slot: no key tuple is kept per line (thousands of them alive
        # together would wake the cycle collector) and no dict is looked up per line.
        slot_of: dict[BalanceKey, int] = {}
        slots = [slot_of.setdefault(key, len(slot_of)) for key in zip(self.account_ids, self.currencies, strict=True)]
        keys = list(slot_of)
        codes = [""] * len(keys)
        for slot, code in zip(slots, self.codes, strict=True):
            codes[slot] = code
        currencies = [currency for _account_id, currency in keys]
        credit_normal = [self.accounts[code].normal_side is Side.CREDIT for code in codes]
        balances = [running[key] for key in keys]
        moved: list[tuple[AccountMovement, ...]] = []
        start = 0
        for count in self.counts:
            stop = start + count
            entry_slots = slots[start:stop]
            if len(set(entry_slots)) == count:  # the usual entry: each line on its own account
                entry_deltas = zip(entry_slots, deltas[start:stop], strict=True)
            else:  # in line order; a repeated account adds up
                summed: dict[int, Decimal] = {}
                for slot, delta in zip(entry_slots, deltas[start:stop], strict=True):
                    summed[slot] = summed[slot] + delta if slot in summed else delta
                entry_deltas = iter(summed.items())
            start = stop
            movements = []
            for slot, delta in entry_deltas:
                before = balances[slot]
                after = before + delta
                balances[slot] = after
                if credit_normal[slot]:
                    before, after = -before, -after
                movements.append(AccountMovement(
                    account_code=codes[slot], currency=currencies[slot],
                    balance_before=before if before else abs(before), balance_after=after if after else abs(after)))
            moved.append(tuple(movements))
        for key, balance in zip(keys, balances, strict=True):
            running[key] = balance
        return moved

    def booked(
        self, movements: list[tuple[AccountMovement, ...]], sequences: list[int], positions: list[int],
        hashes: list[bytes], booked_at: datetime,
    ) -> list[BookedEntry]:
        """The entries as booked, once the statement has given their sequence numbers."""
        return [BookedEntry(entry=entry, sequence=sequence, booked_at=booked_at, movements=moved,
                            chain_position=position, entry_hash=digest)
                for entry, moved, sequence, position, digest in zip(
                    self.entries, movements, sequences, positions, hashes, strict=True)]


def _numbers(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of numbers (ints or Decimals print as PostgreSQL reads them)."""
    return "{" + ",".join(map(str, values)) + "}"


def _repeated_numbers(values: Sequence[int]) -> str:
    """`_numbers` of a column with few distinct values (offices, days, accounts, counts): each
    written once."""
    written = {value: str(value) for value in set(values)}
    return "{" + ",".join(map(written.__getitem__, values)) + "}"


class _TextArray:
    """PostgreSQL array literals of strings, each distinct value quoted once."""

    __slots__ = ("_quoted",)

    def __init__(self) -> None:
        self._quoted: dict[object, str] = {None: "NULL"}

    def _quote(self, value: object) -> str:
        quoted = self._quoted.get(value)
        if quoted is None:
            quoted = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
            self._quoted[value] = quoted
        return quoted

    def texts(self, values: Sequence[str | None]) -> str:
        first = values[0]
        if values.count(first) == len(values):  # one actor, one currency, no keys: the usual batch
            if first is None:  # no references, keys or reversals: unnest pads a shorter array with NULLs
                return "{}"
            return "{" + ",".join([self._quote(first)] * len(values)) + "}"
        return "{" + ",".join(map(self._quote, values)) + "}"


class _Days(dict[date, int]):
    """Dates as days since 2000-01-01 (PostgreSQL parses integers much faster than dates)."""

    def __call__(self, value: date) -> int:
        days = self.get(value)
        if days is None:
            days = self[value] = (value - _DAY_ZERO).days
        return days


_DAY_ZERO = date(2000, 1, 1)
