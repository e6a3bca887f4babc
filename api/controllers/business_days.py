"""Close of business over HTTP: close business days (the end-of-day run) and see what each
closed day's steps did."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from api.schemas.business_days import CloseDayIn, ClosedDayOut, CloseRunOut, Limit
from api.schemas.common import check_date
from api.schemas.problems import PROBLEM_RESPONSES
from servicing.close_of_business.run import close_business_days, closed_days
from servicing.errors import InvalidInput
from servicing.unit_of_work import UnitOfWorkFactory


class BusinessDaysController(Controller):
    path = "/api/v1/business-days"
    tags = ["Close of business"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses={200: ResponseSpec(data_container=CloseRunOut, description="The days closed by this run"),
                     **PROBLEM_RESPONSES},
          opt={"permission": "business_days:close"}, path="/close", status_code=200,
          summary="Close of business: close every business day not yet closed through the given day, in order")
    async def close(self, data: CloseDayIn, uow_factory: UnitOfWorkFactory, actor: str) -> CloseRunOut:
        try:
            check_date(data.business_date, "business_date")
        except ValueError as error:
            raise InvalidInput(str(error), field="business_date") from error
        run = await close_business_days(uow_factory, data.business_date, actor, today=date.today())
        return CloseRunOut.from_run(run)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "business_days:read"},
         summary="Closed business days, newest first, with what each step processed and posted")
    async def list_days(
        self, uow_factory: UnitOfWorkFactory, before: date | None = None,
        limit: Limit = Parameter(default=31, ge=1, le=366),
    ) -> list[ClosedDayOut]:
        try:
            check_date(before, "before")
        except ValueError as error:
            raise InvalidInput(str(error), field="before") from error
        return [ClosedDayOut.from_day(day) for day in await closed_days(uow_factory, before=before, limit=limit)]
