"""The outbox feed over HTTP: what a delivery service (SMS, e-mail, a CRM) reads to send
reminders and alerts, each event once, in order."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.params import Parameter

from api.schemas.problems import PROBLEM_RESPONSES
from servicing.outbox import read_feed
from servicing.unit_of_work import UnitOfWorkFactory


class OutboxEventOut(msgspec.Struct, kw_only=True):
    position: int
    """Feed position: 1, 2, 3... without a gap. Ask for `after` the last one handled."""
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


class OutboxController(Controller):
    path = "/api/v1/outbox-events"
    tags = ["Outbox"]  # noqa: RUF012  (Litestar reads a list)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "events:read"},
         summary="Published events after a feed position (each event once, one subject's events in order)")
    async def list_events(
        self, uow_factory: UnitOfWorkFactory,
        after: int = Parameter(default=0, ge=0, le=2**62), limit: int = Parameter(default=100, ge=1, le=1000),
        event_type: str | None = Parameter(default=None, pattern=r"^[a-z][a-z0-9_.]*$", max_length=60),
    ) -> list[OutboxEventOut]:
        events = await read_feed(uow_factory, after=after, limit=limit, event_type=event_type)
        return [OutboxEventOut(**msgspec.structs.asdict(e)) for e in events]
