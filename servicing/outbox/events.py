"""Writing outbox events inside the caller's unit of work (the business transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import text

from servicing.unit_of_work import UnitOfWork


class OutboxEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Something the outside world must hear about once. `dedup_key` names the fact (e.g.
    `instalment_due:loan-12:3:2026-11-26`): writing the same fact again writes nothing, so a
    step that runs twice, or every day until a due date, announces it once."""

    event_type: str
    subject_type: str
    subject_id: int
    occurred_on: date
    dedup_key: str
    office_id: int | None = None
    payload: dict[str, Any] = msgspec.field(default_factory=dict)


_INSERT = text("""
    INSERT INTO outbox_event (event_type, subject_type, subject_id, office_id, occurred_on, dedup_key, payload)
    SELECT event_type, subject_type, subject_id, office_id, DATE '2000-01-01' + day, dedup_key, CAST(payload AS jsonb)
      FROM unnest(CAST(:types AS text[]), CAST(:subject_types AS text[]), CAST(:subject_ids AS bigint[]),
                  CAST(:offices AS int[]), CAST(:days AS int[]), CAST(:keys AS text[]), CAST(:payloads AS text[]))
           WITH ORDINALITY AS e (event_type, subject_type, subject_id, office_id, day, dedup_key, payload, ord)
     ORDER BY ord
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING id
""")

_DAY_ZERO = date(2000, 1, 1)


async def record_events(uow: UnitOfWork, events: Sequence[OutboxEvent]) -> int:
    """Write the events in the caller's transaction, in the order given (their feed order);
    returns how many were new. The caller holds the lock of each event's subject (the loan
    row), which is what keeps one subject's events in order in the feed."""
    if not events:
        return 0
    rows = (await uow.session.execute(_INSERT, {
        "types": [e.event_type for e in events], "subject_types": [e.subject_type for e in events],
        "subject_ids": [e.subject_id for e in events], "offices": [e.office_id for e in events],
        "days": [(e.occurred_on - _DAY_ZERO).days for e in events], "keys": [e.dedup_key for e in events],
        "payloads": [msgspec.json.encode(e.payload).decode() for e in events],
    })).all()
    return len(rows)
