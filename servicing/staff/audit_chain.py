"""The audit log's hash chain. Pure: records in, digests out.

Each audit row stores the hash of the row before it and its own hash, computed over the
previous hash and a canonical encoding of the row's content (fixed field order, ISO
timestamps, text as stored). Changing, inserting or deleting a row breaks the chain at
that row; `first_break` recomputes it and names the first row that does not match."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import msgspec

GENESIS_HASH: Final = "0" * 64


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One audited request or command, as stored (everything but the chain columns)."""

    occurred_at: datetime
    actor: str
    user_id: int | None
    office_id: int | None
    client_address: str | None
    method: str
    path: str
    action: str
    status: int
    outcome: str
    detail: str
    """Canonical JSON: what was asked, before/after where it applies, why it was refused."""


class ChainedRecord(msgspec.Struct, frozen=True, kw_only=True):
    sequence: int
    record: AuditRecord
    previous_hash: str
    row_hash: str


class ChainBreak(msgspec.Struct, frozen=True, kw_only=True):
    sequence: int
    reason: str


_encoder = msgspec.json.Encoder()


def row_hash(previous_hash: str, record: AuditRecord) -> str:
    assert len(previous_hash) == 64, previous_hash
    content = _encoder.encode((
        record.occurred_at.isoformat(timespec="microseconds"), record.actor, record.user_id, record.office_id,
        record.client_address, record.method, record.path, record.action, record.status, record.outcome,
        record.detail,
    ))
    return hashlib.sha256(previous_hash.encode() + b"\n" + content).hexdigest()


def chain(previous_hash: str, records: Iterable[AuditRecord]) -> list[tuple[str, str]]:
    """(previous hash, row hash) of each record appended after `previous_hash`."""
    links = []
    for record in records:
        digest = row_hash(previous_hash, record)
        links.append((previous_hash, digest))
        previous_hash = digest
    return links


def first_break(rows: Iterable[ChainedRecord], *, expected_previous: str = GENESIS_HASH) -> tuple[ChainBreak | None, str, int]:
    """The first row whose link or content does not match, the last good hash, and how many
    rows were checked. Rows come in sequence order."""
    checked = 0
    for row in rows:
        checked += 1
        if row.previous_hash != expected_previous:
            return ChainBreak(sequence=row.sequence, reason="previous hash does not match the row before "
                              "(a row was removed, inserted or changed)"), expected_previous, checked
        if row_hash(row.previous_hash, row.record) != row.row_hash:
            return ChainBreak(sequence=row.sequence, reason="content does not match its hash (the row was changed)"), \
                expected_previous, checked
        expected_previous = row.row_hash
    return None, expected_previous, checked
