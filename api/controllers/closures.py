"""Accounting closures per office."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import Parameter

from api.schemas.common import INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.reference_data import ClosureIn, ClosureOut
from servicing import closures
from servicing.commands import CloseAccountingPeriod, UndoAccountingClosure
from servicing.errors import NotFound
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory


class AccountingClosureController(Controller):
    path = "/api/v1/accounting-closures"
    tags = ["Accounting closures"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "closures:write"}, path="/", status_code=201, summary="Close an office's books through a date (branches included)")
    async def close(
        self, data: ClosureIn, uow_factory: UnitOfWorkFactory, actor: str, office_scope: OfficeScope
    ) -> ClosureOut:
        office_scope.require(data.office_id)
        command = CloseAccountingPeriod(office_id=data.office_id, closing_date=data.closing_date,
                                        comments=data.comments, actor=actor)
        return ClosureOut.from_record(await closures.close_period(uow_factory(), command))

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "closures:read"}, path="/", summary="Closures in force (or all, with include_undone)")
    async def list_closures(
        self,
        uow_factory: UnitOfWorkFactory,
        office_scope: OfficeScope,
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False)] = None,
        include_undone: Annotated[bool, Parameter(query="include_undone")] = False,
    ) -> list[ClosureOut]:
        if office_id is not None:
            office_scope.require(office_id)
        records = await closures.list_closures(uow_factory(), office_id, include_undone)
        return [ClosureOut.from_record(r) for r in records if office_scope.includes(r.closure.office_id)]

    @delete(responses=PROBLEM_RESPONSES, opt={"permission": "closures:write"}, path="/{closure_id:int}", status_code=200, summary="Undo an office's latest closure (kept in history)")
    async def undo(
        self, closure_id: Annotated[int, Parameter(ge=1, le=INT32_MAX)], uow_factory: UnitOfWorkFactory, actor: str,
        office_scope: OfficeScope,
    ) -> ClosureOut:
        known = {r.closure.closure_id: r.closure.office_id
                 for r in await closures.list_closures(uow_factory(), None, include_undone=True)}
        if closure_id in known and not office_scope.includes(known[closure_id]):
            raise NotFound(f"unknown closure {closure_id}", field="closure_id")
        record = await closures.undo_closure(uow_factory(), UndoAccountingClosure(closure_id=closure_id, actor=actor))
        return ClosureOut.from_record(record)
