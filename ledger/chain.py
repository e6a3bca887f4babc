"""The journal's hash chain, pure: the canonical bytes of a booked entry and how it is chained.

Each office's entries form a chain: `hash(n) = sha256(hash(n-1) || canonical bytes of entry n)`,
with an empty `hash(0)`. The canonical bytes use PostgreSQL's binary send formats (big-endian
integers; dates in days and times in microseconds since 2000-01-01), strings as their UTF-8
length (-1 for NULL) then their bytes, amounts as whole units and ten-thousandths. Fixed widths
and length prefixes make the encoding injective: two different entries never share one.
PostgreSQL builds the same bytes (`journal_entry_header_bytes`, `journal_line_bytes`, migration
0003) with a few C calls per row, so `verify` recomputes every hash fast; a property test holds
the two encodings equal.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final, NamedTuple
from uuid import UUID

GENESIS: Final = b""
"""The hash before an office's first entry."""

_MAGIC: Final = b"GL2"
_POSTGRES_EPOCH_DAY: Final = date(2000, 1, 1)
_POSTGRES_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_NULL: Final = struct.pack(">i", -1)
_HEADER: Final = struct.Struct(">16siqiq")
_LINE: Final = struct.Struct(">hiiicqh3s")


class ChainedLine(NamedTuple):
    """A line as the journal stores it (account by row id)."""

    line_no: int
    account_id: int
    office_id: int
    value_date: date
    side: str
    amount: Decimal
    currency: str


class ChainedEntry(NamedTuple):
    """An entry's stored header fields."""

    entry_id: UUID
    office_id: int
    chain_position: int
    value_date: date
    booked_at: datetime
    description: str
    source_type: str | None
    source_id: str | None
    actor: str
    idempotency_key: str | None
    reverses_id: UUID | None
    line_count: int


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    encoded = value.encode()
    return struct.pack(">i", len(encoded)) + encoded


def _line(line: ChainedLine) -> bytes:
    units = int(line.amount)
    ten_thousandths = int((line.amount - units) * 10_000)
    return _LINE.pack(line.line_no, line.account_id, line.office_id,
                      (line.value_date - _POSTGRES_EPOCH_DAY).days, line.side.encode(), units, ten_thousandths,
                      line.currency.encode())


def canonical_bytes(entry: ChainedEntry, lines: Iterable[ChainedLine]) -> bytes:
    """What the entry's hash covers: its header, then its lines in line order."""
    header = _MAGIC + _HEADER.pack(
        entry.entry_id.bytes, entry.office_id, entry.chain_position,
        (entry.value_date - _POSTGRES_EPOCH_DAY).days, (entry.booked_at - _POSTGRES_EPOCH) // _MICROSECOND,
    ) + b"".join((_text(entry.description), _text(entry.source_type), _text(entry.source_id), _text(entry.actor),
                  _text(entry.idempotency_key),
                  b"\x00" if entry.reverses_id is None else b"\x01" + entry.reverses_id.bytes,
                  struct.pack(">h", entry.line_count)))
    return header + b"".join(_line(line) for line in sorted(lines, key=lambda line: line.line_no))


def chain_hash(previous: bytes, canonical: bytes) -> bytes:
    """The hash of an entry whose office chain ended with `previous`."""
    return hashlib.sha256(previous + canonical).digest()
