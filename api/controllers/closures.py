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
from servicing.unit_of_work import UnitOfWorkFactory


class AccountingClosureController(Controller):
    path = "/api/v1/accounting-closures"
    tags = ["Accounting closures"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses=PROBLEM_RESPONSES, path="/", status_code=201, summary="Close an office's books through a date (branches included)")
    async def close(self, data: ClosureIn, uow_factory: UnitOfWorkFactory, actor: str) -> ClosureOut:
        command = CloseAccountingPeriod(office_id=data.office_id, closing_date=data.closing_date,
                                        comments=data.comments, actor=actor)
        return ClosureOut.from_record(await closures.close_period(uow_factory(), command))

    @get(responses=PROBLEM_RESPONSES, path="/", summary="Closures in force (or all, with include_undone)")
    async def list_closures(
        self,
        uow_factory: UnitOfWorkFactory,
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False)] = None,
        include_undone: Annotated[bool, Parameter(query="include_undone")] = False,
    ) -> list[ClosureOut]:
        records = await closures.list_closures(uow_factory(), office_id, include_undone)
        return [ClosureOut.from_record(r) for r in records]

    @delete(responses=PROBLEM_RESPONSES, path="/{closure_id:int}", status_code=200, summary="Undo an office's latest closure (kept in history)")
    async def undo(
        self, closure_id: Annotated[int, Parameter(ge=1, le=INT32_MAX)], uow_factory: UnitOfWorkFactory, actor: str
    ) -> ClosureOut:
        record = await closures.undo_closure(uow_factory(), UndoAccountingClosure(closure_id=closure_id, actor=actor))
        return ClosureOut.from_record(record)
