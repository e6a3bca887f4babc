"""Journal entries: post, batch, read, list, reverse. Each handler decodes, makes one
command, calls one service function and encodes the answer. Users post into, read and
reverse entries of their office and its branches only; a posting whose approval rule asks
for a second person is stored pending (202) instead of booked."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from api.deps import IdempotencyKeyHeader
from api.guards import principal_of
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
from api.schemas.staff import PendingCommandOut
from ledger.errors import EntryNotFound
from ledger.limits import ACTOR_LENGTH_MAX, PAGE_SIZE_MAX, REFERENCE_LENGTH_MAX
from servicing import queries
from servicing.errors import InvalidInput
from servicing.journal import JournalService
from servicing.staff.approvable import JOURNAL_ENTRY_POST
from servicing.staff.maker_checker import MakerChecker
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

POSTING_RESPONSES: dict[int | str, ResponseSpec] = {
    201: ResponseSpec(data_container=JournalEntryOut, description="Booked, with balances before and after"),
    202: ResponseSpec(data_container=PendingCommandOut, description="Above the approval threshold: waiting for a "
                                                                    "second person (see /api/v1/approvals)"),
    **PROBLEM_RESPONSES,
}


class JournalEntryController(Controller):
    path = "/api/v1/journal-entries"
    tags = ["Journal"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses=POSTING_RESPONSES, opt={"permission": "journal:post"}, path="/", status_code=201,
          summary="Post a balanced journal entry (or submit it for approval above the configured amount)")
    async def post_entry(
        self, request: Request[Any, Any, Any], data: JournalEntryIn, key_header: IdempotencyKeyHeader = None,
    ) -> Response[Any]:
        # principal, services and the key come from the request and a header parameter rather
        # than as dependencies: each dependency costs a task on this hot path (bench/ledger_posting.py)
        principal = principal_of(request)
        maker_checker: MakerChecker = request.app.state.maker_checker
        journal: JournalService = request.app.state.journal
        command = data.to_command(principal.username, key_header)
        principal.scope.require(command.office_id)
        pending = await maker_checker.submit(JOURNAL_ENTRY_POST, command, principal,
                                             idempotency_key=command.idempotency_key)
        if pending is not None:
            return Response(PendingCommandOut.from_pending(pending), status_code=202)
        booked = await journal.post(command)
        return Response(JournalEntryOut.from_booked(booked, with_balances=True), status_code=201)

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "journal:post"}, path="/batch", status_code=201,
          summary="Post many entries atomically (all or none); entries needing approval go one by one")
    async def post_batch(
        self, data: JournalBatchIn, journal: JournalService, actor: str, office_scope: OfficeScope,
        maker_checker: MakerChecker,
    ) -> JournalBatchOut:
        commands = [entry.to_command(actor) for entry in data.entries]
        for index, command in enumerate(commands):
            office_scope.require(command.office_id, field=f"entries[{index}].office_id")
            if await maker_checker.needs_approval(JOURNAL_ENTRY_POST, command):
                raise InvalidInput("this entry needs a second person's approval: post it on its own",
                                   field=f"entries[{index}]")
        booked = await journal.post_batch(commands)
        return JournalBatchOut(
            entries=[JournalEntryOut.from_booked(b, with_balances=True) for b in booked],
            line_count=sum(len(b.entry.lines) for b in booked),
        )

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "journal:read"}, path="/{entry_id:uuid}", summary="Read one entry")
    async def get_entry(self, entry_id: UUID, uow_factory: UnitOfWorkFactory, office_scope: OfficeScope) -> JournalEntryOut:
        async with uow_factory() as uow:
            booked = await queries.load_entry(uow.session, entry_id)
        if booked is None or not office_scope.includes(booked.entry.office_id):
            raise EntryNotFound(f"no journal entry {entry_id}", field="entry_id")
        return JournalEntryOut.from_booked(booked, with_balances=False)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "journal:read"}, path="/",
         summary="List entries in booking order, with a stable cursor (my office and its branches by default)")
    async def list_entries(
        self,
        uow_factory: UnitOfWorkFactory,
        office_scope: OfficeScope,
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
            date_from=date_from, date_to=date_to, office_id=office_scope.narrow(office_id), account_code=account_code,
            source_type=source_type, source_id=source_id, actor=actor_filter,
        )
        async with uow_factory() as uow:
            page = await queries.list_entries(uow.session, filters, limit=limit, cursor=cursor)
        return JournalEntryPageOut(
            items=[JournalEntryOut.from_booked(b, with_balances=False) for b in page.entries],
            next_cursor=page.next_cursor,
        )

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "journal:reverse"}, path="/{entry_id:uuid}/reversal",
          status_code=201, summary="Reverse an entry (once)")
    async def reverse_entry(
        self, entry_id: UUID, journal: JournalService, actor: str, header_idempotency_key: str | None,
        uow_factory: UnitOfWorkFactory, office_scope: OfficeScope, data: ReversalIn | None = None,
    ) -> JournalEntryOut:
        async with uow_factory() as uow:
            original = await queries.load_entry(uow.session, entry_id)
        if original is not None and not office_scope.includes(original.entry.office_id):
            raise EntryNotFound(f"no journal entry {entry_id}", field="entry_id")
        request = data or ReversalIn()
        booked = await journal.reverse(request.to_command(entry_id, actor, header_idempotency_key))
        return JournalEntryOut.from_booked(booked, with_balances=True)
