"""Term-deposit accounts: preview, open, read, list, fund (activate), maturity instruction,
premature-closure quote and closure, transactions; interest and maturity runs; and the
reconciliation report of the control accounts. Staff see the deposits of their office and its
branches only (another branch's deposit answers 404). Money movements take an Idempotency-Key."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get, post, put
from litestar.params import Parameter

from api.schemas.common import DATE_MAX, DATE_MIN, INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.term_deposits import ClosureIn, ClosureQuoteIn, FundIn, InstructionIn, RunIn, TermDepositIn
from products.deposits.ladder import MONTHS_MAX, WEEKS_MAX, MaturityLadder
from servicing.errors import InvalidInput
from servicing.reports.csv_export import to_csv
from servicing.staff.scope import OfficeOutOfScope, OfficeScope
from servicing.term_deposits import runs, service
from servicing.term_deposits.model import (
    AccountStatus,
    AccountView,
    ClosureQuote,
    Preview,
    Reconciliation,
    RunSummary,
    TransactionView,
)
from servicing.unit_of_work import UnitOfWorkFactory

AccountId = Annotated[int, Parameter(ge=1, le=INT32_MAX, description="Term-deposit account id")]
READ = {"permission": "savings:read"}
WRITE = {"permission": "savings:write"}
TRANSACT = {"permission": "savings:transact"}
STATEMENT_CSV = ("date", "terme", "opération", "crédit", "débit", "solde", "écriture")


class TermDepositController(Controller):
    path = "/api/v1/term-deposits"
    tags = ["Term deposits"]  # noqa: RUF012  (Litestar reads a list)

    @post("/preview", status_code=200, opt=READ, responses=PROBLEM_RESPONSES,
          summary="Price a deposit before opening: rate from the chart, incentives, projected interest, maturity")
    async def preview(self, data: TermDepositIn, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory) -> Preview:
        return await service.preview(uow_factory(), data.to_command(), office_scope)

    @post("/", status_code=201, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Open a term deposit (pending until funded); rate and terms frozen with the product version")
    async def open_deposit(self, data: TermDepositIn, actor: str, office_scope: OfficeScope,
                           uow_factory: UnitOfWorkFactory) -> AccountView:
        return await service.open_account(uow_factory(), data.to_command(), actor, office_scope)

    @get("/", opt=READ, responses=PROBLEM_RESPONSES, summary="List term deposits of an office and its branches")
    async def list_deposits(
        self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False)] = None,
        client_id: Annotated[int | None, Parameter(query="client_id", ge=1, le=INT32_MAX, required=False)] = None,
        status: Annotated[AccountStatus | None, Parameter(query="status", required=False)] = None,
        after_id: Annotated[int, Parameter(query="after_id", ge=0, le=INT32_MAX)] = 0,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=500)] = 100,
    ) -> list[AccountView]:
        return await service.list_accounts(uow_factory(), office_scope, office_id=office_id, client_id=client_id,
                                           status=status, after_id=after_id, limit=limit)

    @get("/{account_id:int}", opt=READ, responses=PROBLEM_RESPONSES, summary="A term deposit, its terms and balance")
    async def get_deposit(self, account_id: AccountId, office_scope: OfficeScope,
                          uow_factory: UnitOfWorkFactory) -> AccountView:
        return await service.get_account(uow_factory(), account_id, office_scope)

    @get("/{account_id:int}/transactions", opt=READ, responses=PROBLEM_RESPONSES,
         summary="Every movement of the deposit (deposit, interest, claw-back, payout, renewal) with its entry")
    async def list_transactions(self, account_id: AccountId, office_scope: OfficeScope,
                                uow_factory: UnitOfWorkFactory) -> list[TransactionView]:
        return await service.transactions(uow_factory(), account_id, office_scope)

    @get("/{account_id:int}/statement", opt=READ, responses=PROBLEM_RESPONSES,
         summary="Statement with the running balance; format=csv for a spreadsheet (';'-separated, UTF-8 BOM)")
    async def statement(
        self, account_id: AccountId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        fmt: Annotated[Literal["json", "csv"], Parameter(query="format")] = "json",
    ) -> Response[Any]:
        found = await service.statement(uow_factory(), account_id, office_scope)
        if fmt == "json":
            return Response(found)
        rows = [(line.value_date, line.term_no, line.kind.value, line.credit, line.debit, line.balance, line.entry_id)
                for line in found.lines]
        return Response(content=to_csv(STATEMENT_CSV, rows).encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="dat-{account_id}.csv"'})

    @post("/{account_id:int}/fund", status_code=200, opt=TRANSACT, responses=PROBLEM_RESPONSES,
          summary="Take the principal in by a payment type and activate: the term starts on activated_on")
    async def fund(self, account_id: AccountId, data: FundIn, actor: str, office_scope: OfficeScope,
                   uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> AccountView:
        return await service.fund(uow_factory(), account_id, data.to_command(header_idempotency_key), actor,
                                  office_scope)

    @put("/{account_id:int}/maturity-instruction", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
         summary="Change what happens at maturity: pay_out, renew_principal, renew_principal_and_interest, hold")
    async def change_instruction(self, account_id: AccountId, data: InstructionIn, actor: str,
                                 office_scope: OfficeScope, uow_factory: UnitOfWorkFactory) -> AccountView:
        payout = data.payout.to_settlement() if data.payout is not None else None
        return await service.change_instruction(uow_factory(), account_id, data.maturity_instruction, payout, actor,
                                                office_scope, expected_version=data.expected_version)

    @post("/{account_id:int}/premature-closure/quote", status_code=200, opt=READ, responses=PROBLEM_RESPONSES,
          summary="The working of a closure before maturity: penalised rate, interest recalculated, amount paid")
    async def closure_quote(self, account_id: AccountId, data: ClosureQuoteIn, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory) -> ClosureQuote:
        return await service.closure_quote(uow_factory(), account_id, data.closed_on, office_scope)

    @post("/{account_id:int}/premature-closure", status_code=200, opt=TRANSACT, responses=PROBLEM_RESPONSES,
          summary="Close before maturity (refused during the lock-in): penalty, interest settled, amount paid")
    async def close_early(self, account_id: AccountId, data: ClosureIn, actor: str, office_scope: OfficeScope,
                          uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> AccountView:
        return await service.close_early(uow_factory(), account_id, data.to_command(header_idempotency_key), actor,
                                         office_scope)

    @post("/interest-runs", status_code=200, opt=TRANSACT, responses=PROBLEM_RESPONSES,
          summary="Post the interest of every period ended by the date (idempotent), over all active deposits")
    async def post_interest(self, data: RunIn, actor: str, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory) -> RunSummary:
        _whole_institution(office_scope)
        return await runs.post_interest(uow_factory, data.on, actor)

    @post("/maturity-runs", status_code=200, opt=TRANSACT, responses=PROBLEM_RESPONSES,
          summary="Apply the maturity instruction of every deposit matured by the date")
    async def mature(self, data: RunIn, actor: str, office_scope: OfficeScope,
                     uow_factory: UnitOfWorkFactory) -> RunSummary:
        _whole_institution(office_scope)
        return await runs.mature(uow_factory, data.on, actor)


def _whole_institution(scope: OfficeScope) -> None:
    """Runs go over every office: only head-office staff start them."""
    if not scope.whole_institution:
        raise OfficeOutOfScope("interest and maturity runs cover every office: head-office staff start them",
                               field="on")


class TermDepositReconciliationController(Controller):
    """Term-deposit reports: reconciliation of the control accounts and the maturity ladder."""

    path = "/api/v1/reports"
    tags = ["Reports"]  # noqa: RUF012  (Litestar reads a list)

    @get("/term-deposit-reconciliation", opt={"permission": "reports:read"}, responses=PROBLEM_RESPONSES,
         summary="Term-deposit control accounts: GL balance against the sum of deposits, per product and currency")
    async def reconcile(self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                        as_of: Annotated[date | None, Parameter(query="as_of", required=False)] = None
                        ) -> Reconciliation:
        """As of today unless ``as_of`` says otherwise."""
        as_of = as_of or date.today()
        if not DATE_MIN <= as_of <= DATE_MAX:
            raise InvalidInput(f"as_of must be between {DATE_MIN} and {DATE_MAX}", field="as_of")
        return await service.reconciliation(uow_factory(), as_of, office_scope)

    @get("/term-deposit-maturity-ladder", opt={"permission": "reports:read"}, responses=PROBLEM_RESPONSES,
         summary="Term deposits falling due per rolling week and calendar month (liquidity planning)")
    async def ladder(self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                     as_of: Annotated[date | None, Parameter(query="as_of", required=False)] = None,
                     weeks: Annotated[int, Parameter(query="weeks", ge=1, le=WEEKS_MAX)] = 13,
                     months: Annotated[int, Parameter(query="months", ge=1, le=MONTHS_MAX)] = 12) -> MaturityLadder:
        """As of today unless ``as_of`` says otherwise."""
        as_of = as_of or date.today()
        if not DATE_MIN <= as_of <= DATE_MAX:
            raise InvalidInput(f"as_of must be between {DATE_MIN} and {DATE_MAX}", field="as_of")
        return await service.maturity_ladder_report(uow_factory(), as_of, office_scope, weeks=weeks, months=months)
