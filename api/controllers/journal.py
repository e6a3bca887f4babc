"""Journal entries: post, batch, read, list, reverse. Each handler decodes, makes one
command, calls one service function and encodes the answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import Parameter

from api.schemas.common import DATE_MAX, DATE_MIN, INT32_MAX
from api.schemas.journal import (
    JournalBatchIn,
    JournalBatchOut,
    JournalEntryIn,
    JournalEntryOut,
    JournalEntryPageOut,
    ReversalIn,
)
from api.schemas.problems import PROBLEM_RESPONSES
from ledger.errors import EntryNotFound
from ledger.limits import ACTOR_LENGTH_MAX, PAGE_SIZE_MAX, REFERENCE_LENGTH_MAX
from servicing import queries
from servicing.errors import InvalidInput
from servicing.journal import JournalService
from servicing.unit_of_work import UnitOfWorkFactory


class JournalEntryController(Controller):
    path = "/api/v1/journal-entries"
    tags = ["Journal"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses=PROBLEM_RESPONSES, path="/", status_code=201, summary="Post a balanced journal entry")
    async def post_entry(
        self, data: JournalEntryIn, journal: JournalService, actor: str, header_idempotency_key: str | None
    ) -> JournalEntryOut:
        booked = await journal.post(data.to_command(actor, header_idempotency_key))
        return JournalEntryOut.from_booked(booked, with_balances=True)

    @post(responses=PROBLEM_RESPONSES, path="/batch", status_code=201, summary="Post many entries atomically (all or none)")
    async def post_batch(self, data: JournalBatchIn, journal: JournalService, actor: str) -> JournalBatchOut:
        booked = await journal.post_batch([entry.to_command(actor) for entry in data.entries])
        return JournalBatchOut(
            entries=[JournalEntryOut.from_booked(b, with_balances=True) for b in booked],
            line_count=sum(len(b.entry.lines) for b in booked),
        )

    @get(responses=PROBLEM_RESPONSES, path="/{entry_id:uuid}", summary="Read one entry")
    async def get_entry(self, entry_id: UUID, uow_factory: UnitOfWorkFactory) -> JournalEntryOut:
        async with uow_factory() as uow:
            booked = await queries.load_entry(uow.session, entry_id)
        if booked is None:
            raise EntryNotFound(f"no journal entry {entry_id}", field="entry_id")
        return JournalEntryOut.from_booked(booked, with_balances=False)

    @get(responses=PROBLEM_RESPONSES, path="/", summary="List entries in booking order, with a stable cursor")
    async def list_entries(
        self,
        uow_factory: UnitOfWorkFactory,
        date_from: Annotated[date | None, Parameter(query="date_from", required=False)] = None,
        date_to: Annotated[date | None, Parameter(query="date_to", required=False)] = None,
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False)] = None,
        account_code: Annotated[str | None, Parameter(query="account_code", max_length=30, required=False,
                                                      pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")] = None,
        source_type: Annotated[str | None, Parameter(query="source_type", max_length=REFERENCE_LENGTH_MAX, required=False,
                                                     pattern=r"^[\x21-\x7e]+$")] = None,
        source_id: Annotated[str | None, Parameter(query="source_id", max_length=REFERENCE_LENGTH_MAX, required=False,
                                                   pattern=r"^[\x21-\x7e]+$")] = None,
        actor_filter: Annotated[str | None, Parameter(query="actor", max_length=ACTOR_LENGTH_MAX, required=False,
                                                      pattern=r"^[\x20-\x7e]+$")] = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 50,
        cursor: Annotated[str | None, Parameter(query="cursor", max_length=64, required=False)] = None,
    ) -> JournalEntryPageOut:
        for name, value in (("date_from", date_from), ("date_to", date_to)):
            if value is not None and not DATE_MIN <= value <= DATE_MAX:
                raise InvalidInput(f"{name} must be between {DATE_MIN} and {DATE_MAX}", field=name)
        filters = queries.EntryFilter(
            date_from=date_from, date_to=date_to, office_id=office_id, account_code=account_code,
            source_type=source_type, source_id=source_id, actor=actor_filter,
        )
        async with uow_factory() as uow:
            page = await queries.list_entries(uow.session, filters, limit=limit, cursor=cursor)
        return JournalEntryPageOut(
            items=[JournalEntryOut.from_booked(b, with_balances=False) for b in page.entries],
            next_cursor=page.next_cursor,
        )

    @post(responses=PROBLEM_RESPONSES, path="/{entry_id:uuid}/reversal", status_code=201, summary="Reverse an entry (once)")
    async def reverse_entry(
        self, entry_id: UUID, journal: JournalService, actor: str, header_idempotency_key: str | None,
        data: ReversalIn | None = None,
    ) -> JournalEntryOut:
        request = data or ReversalIn()
        booked = await journal.reverse(request.to_command(entry_id, actor, header_idempotency_key))
        return JournalEntryOut.from_booked(booked, with_balances=True)
