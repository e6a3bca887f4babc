"""Portfolio-risk reports over HTTP (as of the last closed business day): portfolio at risk,
ageing by bucket, the arrears list and the loan officers' follow-up list; JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from api.controllers.reports import CSV_MEDIA_TYPE, Format, _responses, _wants_csv
from api.schemas.problems import PROBLEM_RESPONSES
from servicing.close_of_business import risk_reports
from servicing.close_of_business.loan_arrears import follow_up_after_days
from servicing.reports.csv_export import to_csv
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

Officer = Annotated[str | None, Parameter(query="officer", required=False, min_length=1, max_length=100,
                                          pattern=r"^[^\x00-\x1f\x7f]+$")]
MinDays = Annotated[int, Parameter(query="min_days", ge=0, le=36500)]
Limit = Annotated[int, Parameter(query="limit", ge=1, le=10_000)]
OfficeId = Annotated[int | None, Parameter(query="office_id", required=False, ge=1, le=2**31 - 1,
                                           description="This office and its branches only (within yours)")]
ProductId = Annotated[int | None, Parameter(query="product_id", required=False, ge=1, le=2**31 - 1,
                                            description="This loan product only")]


def narrowed(office_scope: OfficeScope, office_id: int | None, product_id: int | None) -> risk_reports.RiskFilter:
    """The report's filter; an office outside the user's scope is a 403 naming ``office_id``."""
    if office_id is not None:
        office_scope.require(office_id)
    return risk_reports.RiskFilter(office_id=office_id, product_id=product_id)


def _csv(rows: list[Any], name: str) -> Response[Any]:
    fields = list(type(rows[0]).__struct_fields__) if rows else ["empty"]
    body = to_csv(fields, ([getattr(row, f) for f in fields] for row in rows))
    return Response(content=body.encode(), media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


class AgeingReport(msgspec.Struct, kw_only=True):
    as_of: Any
    rows: list[risk_reports.AgeingRow]
    totals: list[risk_reports.AgeingRow]
    """Every bucket per currency (bucket "Total")."""


class PortfolioRiskController(Controller):
    path = "/api/v1/reports"
    tags = ["Portfolio risk"]  # noqa: RUF012  (Litestar reads a list)

    @get("/portfolio-at-risk", opt={"permission": "reports:read"}, responses=_responses(risk_reports.RiskReport),
         summary="Portfolio at risk (PAR 1/30/90, amount and ratio) by product, office, loan officer or sector")
    async def par(self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, office_scope: OfficeScope,
                  group_by: risk_reports.RiskGrouping = risk_reports.RiskGrouping.PRODUCT,
                  office_id: OfficeId = None, product_id: ProductId = None, fmt: Format = None) -> Response[Any]:
        report = await risk_reports.portfolio_at_risk(uow_factory(), group_by, office_scope,
                                                      narrowed(office_scope, office_id, product_id))
        if _wants_csv(request, fmt):
            return _csv([*report.rows, *report.totals], f"par-{group_by.value}")
        return Response(report)

    @get("/loan-ageing", opt={"permission": "reports:read"}, responses=_responses(AgeingReport),
         summary="Loans per delinquency bucket with the provision each bucket's rate requires")
    async def ageing(self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, office_scope: OfficeScope,
                     office_id: OfficeId = None, product_id: ProductId = None, fmt: Format = None) -> Response[Any]:
        as_of, rows = await risk_reports.ageing(uow_factory(), office_scope,
                                                narrowed(office_scope, office_id, product_id))
        totals = risk_reports.ageing_totals(rows)
        if _wants_csv(request, fmt):
            return _csv([*rows, *totals], "anciennete-impayes")
        return Response(AgeingReport(as_of=as_of, rows=rows, totals=totals))

    @get("/arrears", opt={"permission": "loans:read"}, responses=PROBLEM_RESPONSES,
         summary="Loans in arrears, the longest overdue first (JSON, or CSV with format=csv)")
    async def arrears(self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory,
                      office_scope: OfficeScope, min_days: MinDays = 1, officer: Officer = None,
                      office_id: OfficeId = None, product_id: ProductId = None,
                      limit: Limit = 1000, fmt: Format = None) -> Response[Any]:
        rows = await risk_reports.arrears_list(uow_factory(), office_scope, min_days=min_days, officer=officer,
                                               limit=limit, narrowed=narrowed(office_scope, office_id, product_id))
        return _csv(rows, "impayes") if _wants_csv(request, fmt) else Response(rows)

    @get("/loan-follow-ups", opt={"permission": "loans:read"}, responses=PROBLEM_RESPONSES,
         summary="Loan officers' follow-up list: loans overdue past their product's follow-up threshold, per officer")
    async def follow_ups(self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory,
                         office_scope: OfficeScope, officer: Officer = None, office_id: OfficeId = None,
                         limit: Limit = 1000, fmt: Format = None) -> Response[Any]:
        rows = await risk_reports.follow_up_list(uow_factory(), office_scope, institution_days=follow_up_after_days(),
                                                 officer=officer, limit=limit,
                                                 narrowed=narrowed(office_scope, office_id, None))
        return _csv(rows, "suivi-agents") if _wants_csv(request, fmt) else Response(rows)
