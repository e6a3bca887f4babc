"""Write-off of a loan by hand and recoveries on written-off loans, and the provisioning report
(required vs booked per bucket and product, with the provisions accounts' reconciliation)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post

from api.controllers.loans import LoanId, TransactionId
from api.controllers.portfolio_risk import OfficeId, ProductId, _csv, narrowed
from api.controllers.reports import Format, _responses, _wants_csv
from api.schemas.common import check_date
from api.schemas.loans import _MoneyIn
from api.schemas.problems import PROBLEM_RESPONSES
from servicing.close_of_business.provisioning_report import ProvisioningReport, provisioning_report
from servicing.loans import write_offs
from servicing.loans.model import LoanTransaction
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

Reason = Annotated[str, msgspec.Meta(max_length=write_offs.REASON_LENGTH_MAX,
                                     pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]


class WriteOffIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Why the loan is written off (kept in the entry and the outbox event); dated today unless said."""

    reason: Reason
    value_date: date | None = None

    def __post_init__(self) -> None:
        if self.value_date is not None:
            check_date(self.value_date, "value_date")

    def to_command(self) -> write_offs.WriteOffLoan:
        return write_offs.WriteOffLoan(reason=self.reason, value_date=self.value_date)


class RecoveryIn(_MoneyIn, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Money received on ``value_date`` on a written-off loan, by a payment type or a deposit account."""

    def to_command(self) -> write_offs.Recover:
        return write_offs.Recover(value_date=self.value_date, amount=self.amount, channel=self.channel(),
                                  note=self.note)


class LoanWriteOffController(Controller):
    path = "/api/v1/loans"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @post("/{loan_id:int}/write-off", status_code=201, opt={"permission": "loans:write_off"},
          responses=PROBLEM_RESPONSES,
          summary="Write an active loan off (reason required): principal against the provision booked, the rest to "
                  "losses, receivables written off under accrual rules, surplus provision released (Idempotency-Key)")
    async def write_off(self, loan_id: LoanId, data: WriteOffIn, actor: str, office_scope: OfficeScope,
                        uow_factory: UnitOfWorkFactory,
                        header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await write_offs.write_off_loan(uow_factory, loan_id, data.to_command(), actor=actor,
                                                 scope=office_scope, idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @post("/{loan_id:int}/recoveries", status_code=201, opt={"permission": "loans:repay"},
          responses=PROBLEM_RESPONSES,
          summary="Take money received on a written-off loan as recovery income (VAT included where the product "
                  "charges it; Idempotency-Key)")
    async def recover(self, loan_id: LoanId, data: RecoveryIn, actor: str, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await write_offs.recover(uow_factory, loan_id, data.to_command(), actor=actor, scope=office_scope,
                                          idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @post("/{loan_id:int}/write-off/reversal", status_code=201, opt={"permission": "loans:write_off"},
          responses=PROBLEM_RESPONSES,
          summary="Reverse a loan's write-off: its entry and provision releases mirrored, the provision booked again, "
                  "the loan active under its former class; refused while a recovery stands (Idempotency-Key)")
    async def reverse_write_off(self, loan_id: LoanId, actor: str, office_scope: OfficeScope,
                                uow_factory: UnitOfWorkFactory,
                                header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await write_offs.reverse_write_off(uow_factory, loan_id, actor=actor, scope=office_scope,
                                                    idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @post("/{loan_id:int}/recoveries/{transaction_id:int}/reversal", status_code=201,
          opt={"permission": "loans:reverse"}, responses=PROBLEM_RESPONSES,
          summary="Reverse a recovery on a written-off loan: its entry mirrored, money taken from a deposit account "
                  "given back (Idempotency-Key)")
    async def reverse_recovery(self, loan_id: LoanId, transaction_id: TransactionId, actor: str,
                               office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                               header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await write_offs.reverse_recovery(uow_factory, loan_id, transaction_id, actor=actor,
                                                   scope=office_scope, idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)


class ProvisioningReportController(Controller):
    path = "/api/v1/reports"
    tags = ["Portfolio risk"]  # noqa: RUF012  (Litestar reads a list)

    @get("/provisioning", opt={"permission": "reports:read"}, responses=_responses(ProvisioningReport),
         summary="Provisions required vs booked per delinquency bucket and product, and booked per loan vs the "
                 "provisions accounts (JSON, or CSV with format=csv)")
    async def provisioning(self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory,
                           office_scope: OfficeScope, office_id: OfficeId = None, product_id: ProductId = None,
                           fmt: Format = None) -> Response[Any]:
        report = await provisioning_report(uow_factory(), office_scope, narrowed(office_scope, office_id, product_id))
        if _wants_csv(request, fmt):
            return _csv([*report.rows, *report.totals], "provisions")
        return Response(report)
