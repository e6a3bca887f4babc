"""Close of business over HTTP: close business days (the end-of-day run) and see what each
closed day's steps did."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from api.schemas.business_days import CloseDayIn, ClosedDayOut, CloseRunOut, Limit
from api.schemas.common import INT32_MAX, check_date
from api.schemas.problems import PROBLEM_RESPONSES
from servicing.close_of_business.run import close_business_days, closed_days
from servicing.errors import InvalidInput
from servicing.staff.scope import OfficeOutOfScope, OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory


class BusinessDaysController(Controller):
    path = "/api/v1/business-days"
    tags = ["Close of business"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses={200: ResponseSpec(data_container=CloseRunOut, description="The days closed by this run"),
                     **PROBLEM_RESPONSES},
          opt={"permission": "business_days:close"}, path="/close", status_code=200,
          summary="Close of business: close every business day not yet closed through the given day, in order")
    async def close(self, data: CloseDayIn, uow_factory: UnitOfWorkFactory, actor: str,
                    office_scope: OfficeScope) -> CloseRunOut:
        try:
            check_date(data.business_date, "business_date")
        except ValueError as error:
            raise InvalidInput(str(error), field="business_date") from error
        if data.office_id is not None:
            office_scope.require(data.office_id)
        elif not office_scope.whole_institution:
            raise OfficeOutOfScope("only the head office closes the institution's day; give office_id to close "
                                   "your office and its branches", field="office_id")
        run = await close_business_days(uow_factory, data.business_date, actor, today=date.today(),
                                        office_id=data.office_id)
        return CloseRunOut.from_run(run)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "business_days:read"},
         summary="Closed business days, newest first, with what each step processed and posted")
    async def list_days(
        self, uow_factory: UnitOfWorkFactory, office_scope: OfficeScope, before: date | None = None,
        limit: Limit = Parameter(default=31, ge=1, le=366),
        office_id: int | None = Parameter(default=None, ge=1, le=INT32_MAX),
    ) -> list[ClosedDayOut]:
        try:
            check_date(before, "before")
        except ValueError as error:
            raise InvalidInput(str(error), field="before") from error
        if office_id is not None:
            office_scope.require(office_id)
        return [ClosedDayOut.from_day(day) for day in await closed_days(uow_factory, before=before, limit=limit,
                                                                        office_id=office_id)]
