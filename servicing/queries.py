"""Read side: entries, journal listings and balances, straight from SQL (CQRS-lite: no
aggregates are loaded to answer a question)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.limits import PAGE_SIZE_MAX
from ledger.model import BookedEntry, JournalEntry, Line, Reference, Side
from servicing.errors import InvalidInput

_ENTRY_COLUMNS = """
    e.id, e.seq, e.xact_id::text AS xact_id, e.office_id, e.value_date, e.booked_at, e.description, e.source_type, e.source_id,
    e.actor, e.idempotency_key, e.reverses_id, r.id AS reversed_by, e.chain_position, e.entry_hash
"""

_LINES = text(
    """
    SELECT l.entry_id, l.line_no, a.code, l.side, l.amount, l.currency, c.decimals
      FROM journal_line l
      JOIN gl_account a ON a.id = l.account_id
      JOIN currency c ON c.code = l.currency
     WHERE l.entry_id = ANY(CAST(:ids AS uuid[]))
     ORDER BY l.entry_id, l.line_no
    """
)


def _line(row: msgspec.Struct | object) -> Line:
    amount: Decimal = row.amount  # type: ignore[attr-defined]
    digits: int = row.decimals  # type: ignore[attr-defined]
    return Line(
        account_code=row.code,  # type: ignore[attr-defined]
        side=Side.DEBIT if row.side == "D" else Side.CREDIT,  # type: ignore[attr-defined]
        amount=amount.quantize(Decimal(1).scaleb(-digits)),
        currency=row.currency.strip(),  # type: ignore[attr-defined]
    )


async def _with_lines(session: AsyncSession, entry_rows: Sequence[object]) -> list[BookedEntry]:
    ids = [row.id for row in entry_rows]  # type: ignore[attr-defined]
    lines: dict[UUID, list[Line]] = {entry_id: [] for entry_id in ids}
    if ids:
        for row in (await session.execute(_LINES, {"ids": ids})).all():
            lines[row.entry_id].append(_line(row))
    booked = []
    for row in entry_rows:
        r: object = row
        reference = (
            Reference(source_type=r.source_type, source_id=r.source_id or "")  # type: ignore[attr-defined]
            if r.source_type  # type: ignore[attr-defined]
            else None
        )
        entry = JournalEntry(
            entry_id=r.id, office_id=r.office_id, value_date=r.value_date,  # type: ignore[attr-defined]
            description=r.description, lines=tuple(lines[r.id]), actor=r.actor,  # type: ignore[attr-defined]
            reference=reference, reverses=r.reverses_id,  # type: ignore[attr-defined]
            idempotency_key=r.idempotency_key,  # type: ignore[attr-defined]
        )
        booked.append(BookedEntry(entry=entry, sequence=r.seq, booked_at=r.booked_at,  # type: ignore[attr-defined]
                                  reversed_by=r.reversed_by,  # type: ignore[attr-defined]
                                  chain_position=r.chain_position, entry_hash=r.entry_hash))  # type: ignore[attr-defined]
    return booked


async def load_entry(session: AsyncSession, entry_id: UUID) -> BookedEntry | None:
    rows = (await session.execute(
        text(f"SELECT {_ENTRY_COLUMNS} FROM journal_entry e LEFT JOIN journal_entry r ON r.reverses_id = e.id "
             "WHERE e.id = :id"),
        {"id": entry_id},
    )).all()
    found = await _with_lines(session, rows)
    return found[0] if found else None


class EntryFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Journal listing filters; every one optional. An office includes its branches."""

    date_from: date | None = None
    date_to: date | None = None
    office_id: int | None = None
    account_code: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    actor: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    """An entry matches the amount range when one of its lines' amounts lies within it."""


class EntryPage(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[BookedEntry]
    next_cursor: str | None


def encode_cursor(transaction_id: int, sequence: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{transaction_id}:{sequence}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(transaction id, sequence) of the last entry of the previous page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, transaction_id, sequence = raw.split(":")
        position = (int(transaction_id), int(sequence))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("malformed cursor", field="cursor") from error
    if version != "v1" or not all(0 <= part < 2**63 for part in position):
        raise InvalidInput("malformed cursor", field="cursor")
    return position


async def list_entries(session: AsyncSession, filters: EntryFilter, *, limit: int, cursor: str | None) -> EntryPage:
    """Entries in commit order after the cursor.

    Entries are ordered by their writing transaction, then sequence, and only entries of
    transactions older than every transaction still running are listed: a transaction that
    commits late can therefore never land behind a cursor already handed out. An entry
    shows up once every transaction older than it has finished (usually milliseconds).
    """
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    after_transaction, after_sequence = decode_cursor(cursor) if cursor else (0, 0)
    conditions = [
        "e.xact_id < pg_snapshot_xmin(pg_current_snapshot())",
        "(e.xact_id, e.seq) > (CAST(CAST(:after_transaction AS text) AS xid8), :after_sequence)",
    ]
    params: dict[str, object] = {"after_transaction": str(after_transaction), "after_sequence": after_sequence,
                                 "limit": limit + 1}
    if filters.date_from is not None:
        conditions.append("e.value_date >= :date_from")
        params["date_from"] = filters.date_from
    if filters.date_to is not None:
        conditions.append("e.value_date <= :date_to")
        params["date_to"] = filters.date_to
    if filters.office_id is not None:
        conditions.append("e.office_id IN (SELECT o.id FROM office o WHERE CAST(:office_id AS int) = ANY(o.lineage))")
        params["office_id"] = filters.office_id
    if filters.account_code is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM journal_line l JOIN gl_account a ON a.id = l.account_id "
            "WHERE l.entry_id = e.id AND a.code = :account_code)"
        )
        params["account_code"] = filters.account_code
    if filters.amount_min is not None or filters.amount_max is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM journal_line l WHERE l.entry_id = e.id "
            "AND l.amount >= coalesce(CAST(:amount_min AS numeric), 0) "
            "AND l.amount <= coalesce(CAST(:amount_max AS numeric), l.amount))"
        )
        params["amount_min"] = filters.amount_min
        params["amount_max"] = filters.amount_max
    for column in ("source_type", "source_id", "actor"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"e.{column} = :{column}")
            params[column] = value
    rows = (await session.execute(
        text(f"SELECT {_ENTRY_COLUMNS} FROM journal_entry e LEFT JOIN journal_entry r ON r.reverses_id = e.id "
             f"WHERE {' AND '.join(conditions)} ORDER BY e.xact_id, e.seq LIMIT :limit"),
        params,
    )).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    entries = await _with_lines(session, rows)
    next_cursor = encode_cursor(int(rows[-1].xact_id), rows[-1].seq) if has_more and rows else None
    return EntryPage(entries=entries, next_cursor=next_cursor)
