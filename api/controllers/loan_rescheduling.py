"""Loan rescheduling: preview a plan, record it (Idempotency-Key), read a loan's plans.
Controllers only translate HTTP to `servicing.loans.rescheduling`."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import Parameter

from api.schemas.common import INT32_MAX
from api.schemas.loan_rescheduling import ReschedulingIn
from api.schemas.problems import PROBLEM_RESPONSES
from servicing.loans import rescheduling
from servicing.loans.rescheduling import Rescheduling, ReschedulingSummary
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

LoanId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
RESCHEDULE = {"permission": "loans:reschedule"}


class LoanReschedulingController(Controller):
    path = "/api/v1/loans"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @post("/{loan_id:int}/reschedulings/preview", status_code=200, opt=RESCHEDULE, responses=PROBLEM_RESPONSES,
          summary="Preview a rescheduling plan: the same checks and the new schedule, nothing written")
    async def preview(self, loan_id: LoanId, data: ReschedulingIn, actor: str, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory) -> Rescheduling:
        return await rescheduling.reschedule(uow_factory, loan_id, data.to_command(), actor=actor,
                                             scope=office_scope, preview=True)

    @post("/{loan_id:int}/reschedulings", status_code=201, opt=RESCHEDULE, responses=PROBLEM_RESPONSES,
          summary="Reschedule an active loan: new terms, capitalised interest and penalties as one journal entry, "
                  "the old schedule kept for history (Idempotency-Key: a replay answers the original plan)")
    async def reschedule(self, loan_id: LoanId, data: ReschedulingIn, actor: str, office_scope: OfficeScope,
                         uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> Response[Rescheduling]:
        answer = await rescheduling.reschedule(uow_factory, loan_id, data.to_command(), actor=actor,
                                               scope=office_scope, idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @get("/{loan_id:int}/reschedulings", opt={"permission": "loans:read"}, responses=PROBLEM_RESPONSES,
         summary="The loan's rescheduling plans, oldest first, each with the schedule it replaced")
    async def history(self, loan_id: LoanId, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory) -> list[ReschedulingSummary]:
        return await rescheduling.reschedulings(uow_factory(), loan_id, scope=office_scope)
