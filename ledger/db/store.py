"""Appending entries to the journal. Entries and their lines go in one INSERT statement
(a CTE over unnest'ed arrays), because PostgreSQL's statement-level checks see an entry
and its lines together; the same statement's trigger updates the cached balances, which
are then read back to give each touched account's balance before and after each entry.
Before it, the writer locks its offices' chain heads and chains each entry's hash onto them
(`ledger.chain`). Never commits: the caller's unit of work does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.chain import GENESIS, ChainedEntry, ChainedLine, canonical_bytes, chain_hash
from ledger.limits import ENTRIES_PER_BATCH_MAX
from ledger.model import AccountMovement, BookedEntry, JournalEntry, Side
from ledger.money import normalize_amount

_APPEND = text(
    """
    WITH entry_rows AS (
        INSERT INTO journal_entry (id, office_id, value_date, description, source_type, source_id,
                                   actor, idempotency_key, reverses_id, line_count, chain_position, entry_hash)
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:office_ids AS int[]), CAST(:value_dates AS date[]),
                             CAST(:descriptions AS text[]), CAST(:source_types AS text[]),
                             CAST(:source_ids AS text[]), CAST(:actors AS text[]), CAST(:keys AS text[]),
                             CAST(:reverses AS uuid[]), CAST(:line_counts AS smallint[]),
                             CAST(:positions AS bigint[]), CAST(:hashes AS bytea[]))
        RETURNING id, seq, booked_at
    ), line_rows AS (
        INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount, currency)
        SELECT * FROM unnest(CAST(:line_entry_ids AS uuid[]), CAST(:line_numbers AS smallint[]),
                             CAST(:line_accounts AS int[]), CAST(:line_offices AS int[]),
                             CAST(:line_dates AS date[]), CAST(:line_sides AS text[]),
                             CAST(:line_amounts AS numeric[]), CAST(:line_currencies AS text[]))
    )
    SELECT id, seq, booked_at FROM entry_rows
    """
)

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


class AccountRef:
    """What the store needs of an account: its row id and its normal side."""

    __slots__ = ("account_id", "normal_side")

    def __init__(self, account_id: int, normal_side: Side) -> None:
        self.account_id = account_id
        self.normal_side = normal_side


async def append_entries(
    connection: AsyncConnection, entries: Sequence[JournalEntry], accounts: Mapping[str, AccountRef]
) -> list[BookedEntry]:
    """Write already-checked entries in one statement; returns them booked, in order, with
    the balance of every touched account just before and after each entry."""
    assert 1 <= len(entries) <= ENTRIES_PER_BATCH_MAX, len(entries)
    params = _append_parameters(entries, accounts)
    offices = sorted({entry.office_id for entry in entries})
    heads = (await connection.execute(_LOCK_CHAINS, {"offices": offices})).all()
    # An unknown office has no head: its entry is refused by the posting trigger (GL012).
    booked_at = heads[0].booked_at if heads else datetime.now(UTC)
    params["positions"], params["hashes"] = _chain(
        entries, accounts, {head.office_id: (head.chain_position, head.entry_hash) for head in heads}, booked_at)
    rows = (await connection.execute(_APPEND, params)).all()
    assert len(rows) == len(entries), "every entry row is returned"
    assert not heads or all(row.booked_at == booked_at for row in rows), "booked at the transaction's time"
    booked_by_id: dict[UUID, tuple[int, datetime]] = {row.id: (row.seq, row.booked_at) for row in rows}
    chained = dict(zip((entry.entry_id for entry in entries), zip(params["positions"], params["hashes"], strict=True),
                       strict=True))
    deltas = [_entry_deltas(entry, accounts) for entry in entries]
    keys = sorted({key for entry_deltas in deltas for key in entry_deltas})
    balance_rows = (
        await connection.execute(
            _BALANCES, {"accounts": [k[0] for k in keys], "currencies": [k[1] for k in keys]}
        )
    ).all()
    after_batch: dict[BalanceKey, Decimal] = {(r.account_id, r.currency.strip()): r.debit_balance for r in balance_rows}
    assert set(after_batch) == set(keys), "the posting trigger keeps a balance for every touched account"
    running = dict(after_batch)
    for entry_deltas in deltas:
        for key, delta in entry_deltas.items():
            running[key] -= delta
    booked: list[BookedEntry] = []
    for entry, entry_deltas in zip(entries, deltas, strict=True):
        movements = []
        for line_key, delta in entry_deltas.items():
            before = running[line_key]
            running[line_key] = before + delta
            code = _code_of(entry, line_key[0], accounts)
            sign = 1 if accounts[code].normal_side is Side.DEBIT else -1
            movements.append(
                AccountMovement(
                    account_code=code,
                    currency=line_key[1],
                    balance_before=_presented(sign * before, line_key[1]),
                    balance_after=_presented(sign * running[line_key], line_key[1]),
                )
            )
        sequence, booked_at = booked_by_id[entry.entry_id]
        position, digest = chained[entry.entry_id]
        booked.append(BookedEntry(entry=entry, sequence=sequence, booked_at=booked_at, movements=tuple(movements),
                                  chain_position=position, entry_hash=digest))  # type: ignore[arg-type]
    assert running == after_batch, "replaying the batch's deltas lands on the stored balances"
    return booked


def _append_parameters(entries: Sequence[JournalEntry], accounts: Mapping[str, AccountRef]) -> dict[str, list[object]]:
    ids: list[object] = []
    office_ids: list[object] = []
    value_dates: list[object] = []
    descriptions: list[object] = []
    source_types: list[object] = []
    source_ids: list[object] = []
    actors: list[object] = []
    keys: list[object] = []
    reverses: list[object] = []
    line_counts: list[object] = []
    line_entry_ids: list[object] = []
    line_numbers: list[object] = []
    line_accounts: list[object] = []
    line_offices: list[object] = []
    line_dates: list[object] = []
    line_sides: list[object] = []
    line_amounts: list[object] = []
    line_currencies: list[object] = []
    for entry in entries:
        ids.append(entry.entry_id)
        office_ids.append(entry.office_id)
        value_dates.append(entry.value_date)
        descriptions.append(entry.description)
        source_types.append(entry.reference.source_type if entry.reference else None)
        source_ids.append(entry.reference.source_id if entry.reference else None)
        actors.append(entry.actor)
        keys.append(entry.idempotency_key)
        reverses.append(entry.reverses)
        line_counts.append(len(entry.lines))
        for number, line in enumerate(entry.lines, start=1):
            line_entry_ids.append(entry.entry_id)
            line_numbers.append(number)
            line_accounts.append(accounts[line.account_code].account_id)
            line_offices.append(entry.office_id)
            line_dates.append(entry.value_date)
            line_sides.append("D" if line.side is Side.DEBIT else "C")
            line_amounts.append(line.amount)
            line_currencies.append(line.currency)
    return {
        "ids": ids, "office_ids": office_ids, "value_dates": value_dates, "descriptions": descriptions,
        "source_types": source_types, "source_ids": source_ids, "actors": actors, "keys": keys,
        "reverses": reverses, "line_counts": line_counts, "line_entry_ids": line_entry_ids,
        "line_numbers": line_numbers, "line_accounts": line_accounts, "line_offices": line_offices,
        "line_dates": line_dates, "line_sides": line_sides, "line_amounts": line_amounts,
        "line_currencies": line_currencies,
    }


def _chain(
    entries: Sequence[JournalEntry], accounts: Mapping[str, AccountRef], heads: Mapping[int, tuple[int, bytes]],
    booked_at: datetime,
) -> tuple[list[object], list[object]]:
    """Each entry's position and hash in its office's chain, continuing from the locked heads."""
    tips = dict(heads)
    positions: list[object] = []
    hashes: list[object] = []
    for entry in entries:
        position, previous = tips.get(entry.office_id, (0, GENESIS))
        position += 1
        lines = [
            ChainedLine(number, accounts[line.account_code].account_id, entry.office_id, entry.value_date,
                        "D" if line.side is Side.DEBIT else "C", line.amount, line.currency)
            for number, line in enumerate(entry.lines, start=1)
        ]
        header = ChainedEntry(
            entry.entry_id, entry.office_id, position, entry.value_date, booked_at, entry.description,
            entry.reference.source_type if entry.reference else None,
            entry.reference.source_id if entry.reference else None,
            entry.actor, entry.idempotency_key, entry.reverses, len(entry.lines))
        digest = chain_hash(previous, canonical_bytes(header, lines))
        tips[entry.office_id] = (position, digest)
        positions.append(position)
        hashes.append(digest)
    return positions, hashes


def _entry_deltas(entry: JournalEntry, accounts: Mapping[str, AccountRef]) -> dict[BalanceKey, Decimal]:
    """Debit-signed change of each (account, currency) the entry touches, in line order."""
    deltas: dict[BalanceKey, Decimal] = defaultdict(Decimal)
    for line in entry.lines:
        key = (accounts[line.account_code].account_id, line.currency)
        deltas[key] += line.amount if line.side is Side.DEBIT else -line.amount
    return dict(deltas)


def _code_of(entry: JournalEntry, account_id: int, accounts: Mapping[str, AccountRef]) -> str:
    for line in entry.lines:
        if accounts[line.account_code].account_id == account_id:
            return line.account_code
    raise AssertionError("a delta comes from one of the entry's lines")


def _presented(balance: Decimal, currency: str) -> Decimal:
    """In the currency's minor unit, and never a negative zero."""
    return normalize_amount(balance, currency) + 0
