"""Loan applications and loans: record, pre-check, submit, approve or reject an application;
disburse a loan, take repayments, read it with its schedule and live position, and its
transactions; the portfolio reconciliation. Controllers only translate HTTP to service calls."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from api.deps import IdempotencyKeyHeader
from api.guards import principal_of
from api.schemas.common import INT32_MAX
from api.schemas.loans import (
    ApprovalIn,
    ChargeIn,
    DisbursementIn,
    LoanApplicationIn,
    RejectionIn,
    RepaymentIn,
    SendBackIn,
    TrancheIn,
    UndoIn,
    WaiverIn,
)
from api.schemas.problems import PROBLEM_RESPONSES
from servicing.loans import applications, movements, tranches
from servicing.loans.applications import Checker
from servicing.loans.model import LoanRecord, LoanStatus, LoanTransaction, LoanView, PayoffQuote, PreCheck
from servicing.loans.reconciliation import (
    RECONCILIATION_CSV,
    LoanReconciliation,
    PortfolioReconciliationRow,
    ReceivableReconciliationRow,
    loan_reconciliation,
    portfolio_reconciliation,
    receivables_reconciliation,
    reconciliation_rows,
)
from servicing.loans.repayment_writer import CounterRepayment, RepaymentWriter
from servicing.reports.csv_export import to_csv
from servicing.staff.scope import OfficeScope
from servicing.staff.sessions import Principal
from servicing.unit_of_work import UnitOfWorkFactory

LoanId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
READ = {"permission": "loans:read"}
WRITE = {"permission": "loans:write"}
APPROVE = {"permission": "loans:approve"}
DISBURSE = {"permission": "loans:disburse"}
REPAY = {"permission": "loans:repay"}
REVERSE = {"permission": "loans:reverse"}
TransactionId = Annotated[int, Parameter(ge=1, le=9_223_372_036_854_775_807)]
LIST_MAX = 200


def _checker(principal: Principal) -> Checker:
    return Checker(username=principal.username, user_id=principal.user_id)


class LoanApplicationController(Controller):
    path = "/api/v1/loan-applications"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @post("/", status_code=201, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Record a loan application (draft): terms derived from the product for the borrower's cycle, "
                  "checked against its limits and frozen")
    async def create(self, data: LoanApplicationIn, principal: Principal, office_scope: OfficeScope,
                     uow_factory: UnitOfWorkFactory) -> LoanRecord:
        return await applications.create_application(uow_factory, data.to_application(), actor=principal.username,
                                                     actor_user_id=principal.user_id, scope=office_scope)

    @post("/pre-check", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Every eligibility rule for an application not yet recorded, each passed or failed with its "
                  "reason; nothing is written")
    async def pre_check_new(self, data: LoanApplicationIn, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory) -> PreCheck:
        return await applications.pre_check(uow_factory, data.to_application(), scope=office_scope)

    @get("/", opt=READ, responses=PROBLEM_RESPONSES, summary="Applications and loans of my office and its branches")
    async def list_applications(
        self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False)] = None,
        status: Annotated[LoanStatus | None, Parameter(query="status", required=False)] = None,
        client_id: Annotated[int | None, Parameter(query="client_id", ge=1, le=INT32_MAX, required=False)] = None,
        after_id: Annotated[int, Parameter(query="after_id", ge=0, le=INT32_MAX)] = 0,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=LIST_MAX)] = 50,
    ) -> list[LoanRecord]:
        return await applications.list_loans(uow_factory(), office_id=office_scope.narrow(office_id),
                                             status=[status] if status else None, client_id=client_id,
                                             after_id=after_id, limit=limit)

    @get("/{loan_id:int}", opt=READ, responses=PROBLEM_RESPONSES, summary="An application with its frozen terms")
    async def get_application(self, loan_id: LoanId, office_scope: OfficeScope,
                              uow_factory: UnitOfWorkFactory) -> LoanRecord:
        return await applications.get_loan(uow_factory(), loan_id, scope=office_scope)

    @post("/{loan_id:int}/pre-check", status_code=200, opt=READ, responses=PROBLEM_RESPONSES,
          summary="Every eligibility rule for a recorded application; nothing is written")
    async def pre_check_recorded(self, loan_id: LoanId, office_scope: OfficeScope,
                                 uow_factory: UnitOfWorkFactory) -> PreCheck:
        record = await applications.get_loan(uow_factory(), loan_id, scope=office_scope)
        return await applications.pre_check(uow_factory, applications.application_of(record), scope=office_scope,
                                            loan_id=loan_id, version=record.product_version)

    @post("/{loan_id:int}/submit", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Submit for decision; refused (422 listing every failed rule) while a blocking rule fails")
    async def submit(self, loan_id: LoanId, actor: str, office_scope: OfficeScope,
                     uow_factory: UnitOfWorkFactory) -> LoanRecord:
        return await applications.submit(uow_factory, loan_id, actor=actor, scope=office_scope)

    @post("/{loan_id:int}/approve", status_code=200, opt=APPROVE, responses=PROBLEM_RESPONSES,
          summary="Approve the next validation level (never by the maker; each level by its role and a "
                  "different person), possibly for a lower amount")
    async def approve(self, loan_id: LoanId, data: ApprovalIn, principal: Principal, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory) -> LoanRecord:
        return await applications.approve(uow_factory, loan_id, checker=_checker(principal), scope=office_scope,
                                          principal_amount=data.principal_amount, reason_ids=data.reason_ids,
                                          note=data.note)

    @post("/{loan_id:int}/reject", status_code=200, opt=APPROVE, responses=PROBLEM_RESPONSES,
          summary="Reject with decision reasons (never by the maker)")
    async def reject(self, loan_id: LoanId, data: RejectionIn, principal: Principal, office_scope: OfficeScope,
                     uow_factory: UnitOfWorkFactory) -> LoanRecord:
        return await applications.reject(uow_factory, loan_id, checker=_checker(principal), scope=office_scope,
                                         reason_ids=data.reason_ids, note=data.note)

    @post("/{loan_id:int}/send-back", status_code=200, opt=APPROVE, responses=PROBLEM_RESPONSES,
          summary="Send a submitted application back to its officer (draft) with a note (never by the maker)")
    async def send_back(self, loan_id: LoanId, data: SendBackIn, principal: Principal, office_scope: OfficeScope,
                        uow_factory: UnitOfWorkFactory) -> LoanRecord:
        return await applications.send_back(uow_factory, loan_id, checker=_checker(principal), scope=office_scope,
                                            note=data.note)

    @post("/{loan_id:int}/undo-approval", status_code=200, opt=APPROVE, responses=PROBLEM_RESPONSES,
          summary="Send an approved, undisbursed loan back to decision")
    async def undo_approval(self, loan_id: LoanId, data: UndoIn, principal: Principal, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory) -> LoanRecord:
        return await applications.undo_approval(uow_factory, loan_id, checker=_checker(principal),
                                                scope=office_scope, note=data.note)


class LoanController(Controller):
    path = "/api/v1/loans"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @get("/{loan_id:int}", opt=READ, responses=PROBLEM_RESPONSES,
         summary="A loan with its schedule and its position per component (expected, paid, outstanding, overdue), "
                 "derived from its transactions")
    async def get_loan(
        self, loan_id: LoanId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        as_of: Annotated[date | None, Parameter(query="as_of", required=False)] = None,
    ) -> LoanView:
        return await movements.loan_view(uow_factory(), loan_id, scope=office_scope, as_of=as_of)

    @get("/{loan_id:int}/payoff-quote", opt=READ, responses=PROBLEM_RESPONSES,
         summary="What closes the loan on a date, per component; interest per the schedule, or to the date (or rest "
                 "date) for products with interest recalculation (`basis`)")
    async def payoff_quote(
        self, loan_id: LoanId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        on: Annotated[date | None, Parameter(query="on", required=False)] = None,
    ) -> PayoffQuote:
        return await movements.payoff_quote(uow_factory(), loan_id, scope=office_scope, on=on or date.today())

    @post("/{loan_id:int}/disburse", status_code=201, opt=DISBURSE, responses=PROBLEM_RESPONSES,
          summary="Disburse an approved loan by a payment type; one journal entry by the product's rules "
                  "(Idempotency-Key: a replay answers the original transaction)")
    async def disburse(self, loan_id: LoanId, data: DisbursementIn, actor: str, office_scope: OfficeScope,
                       uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await movements.disburse(uow_factory, loan_id, data.to_command(), actor=actor, scope=office_scope,
                                          idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @post("/{loan_id:int}/tranches", status_code=201, opt=DISBURSE, responses=PROBLEM_RESPONSES,
          summary="Pay out one tranche (multi-disbursement products): its own journal entry by the product's rules, "
                  "the schedule regenerated (Idempotency-Key)")
    async def disburse_tranche(self, loan_id: LoanId, data: TrancheIn, actor: str, office_scope: OfficeScope,
                               uow_factory: UnitOfWorkFactory,
                               header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await tranches.disburse_tranche(uow_factory, loan_id, data.to_command(), actor=actor,
                                                 scope=office_scope, idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @post("/{loan_id:int}/tranches/undo", status_code=201, opt=REVERSE, responses=PROBLEM_RESPONSES,
          summary="Undo the last tranche (nothing standing after it): its entry reversed, the schedule regenerated")
    async def undo_tranche(self, loan_id: LoanId, actor: str, office_scope: OfficeScope,
                           uow_factory: UnitOfWorkFactory) -> LoanTransaction:
        return await tranches.undo_last_tranche(uow_factory, loan_id, actor=actor, scope=office_scope)

    @post("/{loan_id:int}/repayments", status_code=201, opt=REPAY, responses=PROBLEM_RESPONSES,
          summary="Take a repayment, allocated in the product's order; one journal entry by the product's rules "
                  "(Idempotency-Key: a replay answers the original transaction)")
    async def repay(self, request: Request[Any, Any, Any], loan_id: LoanId, data: RepaymentIn,
                    idempotency_key: IdempotencyKeyHeader = None) -> Response[LoanTransaction]:
        # Through the application's repayment writer (concurrent repayments share a transaction);
        # who and where read from the request: each dependency costs a task on this hot path.
        principal = principal_of(request)
        writer: RepaymentWriter = request.app.state.loan_repayments
        answer = await writer.repay(CounterRepayment(loan_id=loan_id, command=data.to_command(),
                                                     actor=principal.username, scope=principal.scope,
                                                     idempotency_key=idempotency_key))
        return Response(answer, status_code=201)

    @post("/{loan_id:int}/undo-disbursement", status_code=201, opt=REVERSE, responses=PROBLEM_RESPONSES,
          summary="Undo a disbursement (no repayment standing): its entry reversed, the loan approved again")
    async def undo_disbursement(self, loan_id: LoanId, actor: str, office_scope: OfficeScope,
                                uow_factory: UnitOfWorkFactory) -> LoanTransaction:
        return await movements.undo_disbursement(uow_factory, loan_id, actor=actor, scope=office_scope)

    @post("/{loan_id:int}/transactions/{transaction_id:int}/reversal", status_code=201, opt=REVERSE,
          responses=PROBLEM_RESPONSES,
          summary="Reverse a repayment: its entry and every later repayment's are reversed, the later ones taken "
                  "again in order; answers the transactions written")
    async def reverse(self, loan_id: LoanId, transaction_id: TransactionId, actor: str, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory) -> list[LoanTransaction]:
        return await movements.reverse_repayment(uow_factory, loan_id, transaction_id, actor=actor, scope=office_scope)

    @get("/{loan_id:int}/statement", opt=READ, responses=PROBLEM_RESPONSES,
         summary="Every transaction with its journal entry's lines; JSON, or CSV (?format=csv: ';', UTF-8 with BOM)")
    async def statement(
        self, loan_id: LoanId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        output_format: Annotated[Literal["json", "csv"], Parameter(query="format")] = "json",
    ) -> Response[Any]:
        found = await movements.statement(uow_factory(), loan_id, scope=office_scope)
        if output_format == "csv":
            return Response(content=to_csv(movements.STATEMENT_HEADER, movements.statement_rows(found)),
                            media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="loan-{loan_id}-statement.csv"'})
        return Response(content=found)

    @post("/{loan_id:int}/charges", status_code=201, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Add a fee or penalty to an active loan (recognised now under accrual, when paid under cash; "
                  "Idempotency-Key)")
    async def add_charge(self, loan_id: LoanId, data: ChargeIn, actor: str, office_scope: OfficeScope,
                         uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await movements.add_charge(uow_factory, loan_id, data.to_command(), actor=actor, scope=office_scope,
                                            idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @post("/{loan_id:int}/waivers", status_code=201, opt=APPROVE, responses=PROBLEM_RESPONSES,
          summary="Waive interest, fees or penalties still owed (posted under the product's rule; Idempotency-Key)")
    async def waive(self, loan_id: LoanId, data: WaiverIn, actor: str, office_scope: OfficeScope,
                    uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await movements.waive(uow_factory, loan_id, data.to_command(), actor=actor, scope=office_scope,
                                       idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)

    @get("/{loan_id:int}/transactions", opt=READ, responses=PROBLEM_RESPONSES,
         summary="The loan's transactions in order, each with its allocation and journal entry id")
    async def list_transactions(self, loan_id: LoanId, office_scope: OfficeScope,
                                uow_factory: UnitOfWorkFactory) -> list[LoanTransaction]:
        return await movements.transactions(uow_factory(), loan_id, scope=office_scope)


class LoanReconciliationController(Controller):
    path = "/api/v1/reports/loan-portfolio-reconciliation"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt={"permission": "reports:read"}, responses=PROBLEM_RESPONSES,
         summary="Loan portfolio sub-ledger (principal outstanding) next to the GL portfolio accounts, with differences")
    async def reconcile(self, uow_factory: UnitOfWorkFactory) -> list[PortfolioReconciliationRow]:
        return await portfolio_reconciliation(uow_factory())


class LoanReceivablesReconciliationController(Controller):
    path = "/api/v1/reports/loan-receivables-reconciliation"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt={"permission": "reports:read"}, responses=PROBLEM_RESPONSES,
         summary="Under accrual rules: loans' interest, fees and penalties receivable next to the GL accounts")
    async def reconcile(self, uow_factory: UnitOfWorkFactory) -> list[ReceivableReconciliationRow]:
        return await receivables_reconciliation(uow_factory())


class LoanSubledgerReconciliationController(Controller):
    path = "/api/v1/reports/loan-reconciliation"
    tags = ["Reports"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt={"permission": "reports:read"}, responses=PROBLEM_RESPONSES,
         summary="Per product, currency, classification and term: loans' principal outstanding and interest, fees "
                 "and penalties receivable next to the lines of their entries on the mapped accounts, and per account "
                 "the GL balance, with differences; JSON, or CSV (?format=csv or Accept: text/csv)")
    async def reconcile(
        self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory,
        output_format: Annotated[Literal["json", "csv"] | None, Parameter(query="format", required=False)] = None,
    ) -> Response[LoanReconciliation]:
        report = await loan_reconciliation(uow_factory())
        wants_csv = (output_format == "csv" if output_format is not None
                     else "text/csv" in request.headers.get("accept", ""))
        if wants_csv:
            return Response(content=to_csv(RECONCILIATION_CSV, reconciliation_rows(report)),  # type: ignore[arg-type]
                            media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="loan-reconciliation.csv"'})
        return Response(report)


LOAN_CONTROLLERS = (LoanApplicationController, LoanController, LoanReconciliationController,
                    LoanReceivablesReconciliationController, LoanSubledgerReconciliationController)
