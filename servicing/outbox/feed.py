"""Publishing committed outbox events into the numbered feed, and reading it.

One relay at a time (it locks the `outbox_relay` row): it numbers every committed event not yet
published, in event-id order, after the last position. Only events of transactions that were
still running at the previous pass can be new: older transactions had finished by then, and
their events were published (or rolled back). A consumer reads the positions after the last
one it handled and so sees each event once, with one subject's events in the order written."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import text

from servicing.unit_of_work import UnitOfWorkFactory


class PublishedEvent(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    event_id: int
    event_type: str
    subject_type: str
    subject_id: int
    office_id: int | None
    occurred_on: date
    dedup_key: str
    payload: dict[str, Any]
    created_at: datetime
    published_at: datetime


_PUBLISH = text("""
    WITH fresh AS (
        SELECT e.id, row_number() OVER (ORDER BY e.id) AS n
          FROM outbox_event e
         WHERE e.xact_id >= CAST(CAST(:horizon AS text) AS xid8)
           AND NOT EXISTS (SELECT 1 FROM outbox_feed f WHERE f.event_id = e.id)
    ), published AS (
        INSERT INTO outbox_feed (position, event_id)
        SELECT :last + n, id FROM fresh ORDER BY n
        RETURNING position
    )
    SELECT count(*) AS published FROM published
""")


async def publish(uow_factory: UnitOfWorkFactory) -> int:
    """Publish every committed, unpublished event; returns how many."""
    async with uow_factory() as uow:
        session = uow.session
        relay = (await session.execute(text(
            "SELECT xmin_horizon::text AS horizon, last_position FROM outbox_relay WHERE id = 1 FOR UPDATE"))).one()
        # Taken before the insert's snapshot: every transaction older than it has ended and is visible.
        next_horizon = await session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))
        published: int = await session.scalar(_PUBLISH, {"horizon": relay.horizon, "last": relay.last_position})
        await session.execute(text(
            "UPDATE outbox_relay SET xmin_horizon = CAST(CAST(:horizon AS text) AS xid8), last_position = :last WHERE id = 1"),
            {"horizon": next_horizon, "last": relay.last_position + published})
        await uow.commit()
    return published


async def read_feed(uow_factory: UnitOfWorkFactory, *, after: int = 0, limit: int = 100,
                    event_type: str | None = None, publish_first: bool = True) -> list[PublishedEvent]:
    """The published events after position `after`, in feed order (publishing first, so a
    reader sees everything committed before it asked)."""
    if publish_first:
        await publish(uow_factory)
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text("""
            SELECT f.position, f.published_at, e.id AS event_id, e.event_type, e.subject_type, e.subject_id,
                   e.office_id, e.occurred_on, e.dedup_key, e.payload, e.created_at
              FROM outbox_feed f JOIN outbox_event e ON e.id = f.event_id
             WHERE f.position > :after AND (CAST(:event_type AS text) IS NULL OR e.event_type = :event_type)
             ORDER BY f.position LIMIT :limit"""), {"after": after, "limit": limit, "event_type": event_type})).all()
    return [PublishedEvent(position=r.position, event_id=r.event_id, event_type=r.event_type,
                           subject_type=r.subject_type, subject_id=r.subject_id, office_id=r.office_id,
                           occurred_on=r.occurred_on, dedup_key=r.dedup_key, payload=dict(r.payload),
                           created_at=r.created_at, published_at=r.published_at) for r in rows]
