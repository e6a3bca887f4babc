"""Year-end close: post the closing entries of a financial year (income and expenses into
retained earnings) for an office and its branches, or reverse them to reopen the year."""

from __future__ import annotations

from datetime import date

from litestar import Controller, post
from litestar.openapi.datastructures import ResponseSpec

from api.schemas.common import check_date
from api.schemas.journal import JournalEntryOut
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.reports import YearEndCloseIn, YearEndCloseOut, YearEndReopenIn
from servicing.errors import InvalidInput
from servicing.journal import JournalService
from servicing.reports import year_end
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory


class YearEndCloseController(Controller):
    path = "/api/v1/closures"
    tags = ["Accounting closures"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses={201: ResponseSpec(data_container=YearEndCloseOut, description="The closing entries, booked"),
                     **PROBLEM_RESPONSES},
          opt={"permission": "closures:write"}, path="/year-end", status_code=201,
          summary="Close a financial year: move income and expenses into retained earnings (one entry per office)")
    async def close_year(
        self, data: YearEndCloseIn, uow_factory: UnitOfWorkFactory, journal: JournalService, actor: str,
        office_scope: OfficeScope,
    ) -> YearEndCloseOut:
        command = year_end.CloseYear(
            year=data.year, office_id=office_scope.narrow(data.office_id), actor=actor, today=date.today(),
            retained_earnings_account=data.retained_earnings_account, include_branches=data.include_branches,
        )
        return YearEndCloseOut.from_close(await year_end.close_year(uow_factory, journal, command))

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "closures:write"}, path="/year-end/reversal",
          status_code=201, summary="Reopen a financial year: reverse its closing entries in force")
    async def reopen_year(
        self, data: YearEndReopenIn, uow_factory: UnitOfWorkFactory, journal: JournalService, actor: str,
        office_scope: OfficeScope,
    ) -> list[JournalEntryOut]:
        try:
            check_date(data.value_date, "value_date")
        except ValueError as error:
            raise InvalidInput(str(error), field="value_date") from error
        command = year_end.ReopenYear(year=data.year, office_id=office_scope.narrow(data.office_id), actor=actor,
                                      include_branches=data.include_branches, value_date=data.value_date)
        reversals = await year_end.reopen_year(uow_factory, journal, command)
        return [JournalEntryOut.from_booked(b, with_balances=True) for b in reversals]
