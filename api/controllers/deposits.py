"""Deposit (current and savings) accounts: opening, lifecycle, money movements with an
Idempotency-Key, holds, statements, a client's history, the interest run and the
reconciliation with the GL. Controllers only translate HTTP to servicing commands.
Staff act on their office and its branches only: another branch's account answers 404."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from api.controllers.reports import CSV_MEDIA_TYPE, Format
from api.guards import principal_of
from api.schemas import deposits as schemas
from api.schemas.common import INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.staff import PendingCommandOut
from ledger.limits import IDEMPOTENCY_KEY_LENGTH_MAX, PAGE_SIZE_MAX
from products.deposits import AccountStatus
from servicing.deposits import accounts, interest, movements, reversals, statements
from servicing.deposits import approvals as deposit_approvals
from servicing.deposits.commands import StatusAction, Transfer, Withdraw
from servicing.reports.csv_export import to_csv
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

AccountId = Annotated[int, Parameter(ge=1, le=9_007_199_254_740_991)]
HoldId = Annotated[int, Parameter(ge=1, le=9_007_199_254_740_991)]
ClientId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
Cursor = Annotated[int, Parameter(query="after_id", ge=0, le=9_007_199_254_740_991, required=False)]
Limit = Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX, required=False)]
DateFrom = Annotated[date | None, Parameter(query="from", required=False)]
DateTo = Annotated[date | None, Parameter(query="to", required=False)]
READ: Final = {"permission": "savings:read"}
WRITE: Final = {"permission": "savings:write"}
TRANSACT: Final = {"permission": "savings:transact"}
REVERSE: Final = {"permission": "savings:reverse"}
TransactionId = Annotated[int, Parameter(ge=1, le=9_007_199_254_740_991)]
APPROVABLE_RESPONSES: Final = {
    202: ResponseSpec(data_container=PendingCommandOut, description="Above the approval threshold: funds held, "
                                                                    "waiting for a second person (see /api/v1/approvals)"),
    **PROBLEM_RESPONSES,
}
IdempotencyHeader = Annotated[str | None, Parameter(
    header="Idempotency-Key", required=False, min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH_MAX,
    pattern=r"^[\x21-\x7e]+$",
    description="Replaying a movement with the same key and body returns the original answer; another body: 409")]


def _wants_csv(request: Request[Any, Any, Any], fmt: str | None) -> bool:
    return fmt == "csv" if fmt is not None else "text/csv" in request.headers.get("accept", "")


async def _submit(request: Request[Any, Any, Any], command: movements.Movement) -> Response[schemas.MovementOut]:
    """Through the application's movement writer: concurrent requests share a transaction."""
    writer: movements.MovementWriter = request.app.state.deposit_writer
    return _moved(await writer.submit(command, principal_of(request).scope))


async def _submit_approvable(request: Request[Any, Any, Any], command: Withdraw | Transfer) -> Response[Any]:
    """A withdrawal or transfer: pending (202, funds held) when an approval rule catches it, else booked now."""
    pending = await deposit_approvals.submit_for_approval(request.app.state.maker_checker,
                                                          request.app.state.uow_factory, command, principal_of(request))
    if pending is not None:
        return Response(PendingCommandOut.from_pending(pending), status_code=202)
    return await _submit(request, command)


def _actor(request: Request[Any, Any, Any]) -> str:
    """Who moves the money, read from the request rather than as a dependency: each dependency
    costs a task on this hot path (as in the journal controller)."""
    return principal_of(request).username


def _moved(result: movements.MovementResult) -> Response[schemas.MovementOut]:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return Response(schemas.MovementOut.from_result(result), status_code=201, headers=headers)


class DepositAccountController(Controller):
    path = "/api/v1/deposit-accounts"
    tags = ["Deposit accounts"]  # noqa: RUF012  (Litestar reads a list)

    @post("/", status_code=201, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Open a deposit account for an active, KYC-complete client (pending until activated)")
    async def open_account(self, data: schemas.OpenAccountIn, actor: str, office_scope: OfficeScope,
                           uow_factory: UnitOfWorkFactory) -> schemas.AccountOut:
        opened = await accounts.open_account(uow_factory, data.to_command(actor), scope=office_scope)
        return schemas.AccountOut.from_view(opened)

    @get("/", opt=READ, responses=PROBLEM_RESPONSES, summary="Accounts of your offices, by id (cursor after_id)")
    async def list_accounts(self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                            client_id: Annotated[int | None, Parameter(ge=1, le=INT32_MAX, required=False)] = None,
                            status: AccountStatus | None = None, after_id: Cursor = 0,
                            limit: Limit = 100) -> list[schemas.AccountOut]:
        found = await accounts.list_accounts(uow_factory(), scope=office_scope, client_id=client_id, status=status,
                                             after_id=after_id, limit=limit)
        return [schemas.AccountOut.from_view(v) for v in found]

    @get("/{account_id:int}", opt=READ, responses=PROBLEM_RESPONSES,
         summary="An account with its balance, amount on hold and available balance")
    async def get_account(self, account_id: AccountId, office_scope: OfficeScope,
                          uow_factory: UnitOfWorkFactory) -> schemas.AccountOut:
        return schemas.AccountOut.from_view(await accounts.get_account(uow_factory(), account_id, scope=office_scope))

    @post("/{account_id:int}/activate", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Activate a pending account: movements are accepted from then on")
    async def activate(self, account_id: AccountId, actor: str, office_scope: OfficeScope,
                       uow_factory: UnitOfWorkFactory, data: schemas.ActivateIn | None = None) -> schemas.AccountOut:
        day = data.activated_on if data else None
        return schemas.AccountOut.from_view(
            await accounts.activate(uow_factory(), account_id, actor, activated_on=day, scope=office_scope))

    async def _status(self, action: StatusAction, account_id: int, actor: str, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory, data: schemas.ReasonIn | None) -> schemas.AccountOut:
        reason = data.reason if data else None
        return schemas.AccountOut.from_view(
            await accounts.change_status(uow_factory(), account_id, action, actor, reason, scope=office_scope))

    @post("/{account_id:int}/freeze", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Freeze: debits refused, credits still accepted (a reason is required)")
    async def freeze(self, account_id: AccountId, actor: str, office_scope: OfficeScope,
                     uow_factory: UnitOfWorkFactory, data: schemas.ReasonIn | None = None) -> schemas.AccountOut:
        return await self._status(StatusAction.FREEZE, account_id, actor, office_scope, uow_factory, data)

    @post("/{account_id:int}/unfreeze", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Lift a freeze")
    async def unfreeze(self, account_id: AccountId, actor: str, office_scope: OfficeScope,
                       uow_factory: UnitOfWorkFactory, data: schemas.ReasonIn | None = None) -> schemas.AccountOut:
        return await self._status(StatusAction.UNFREEZE, account_id, actor, office_scope, uow_factory, data)

    @post("/{account_id:int}/block", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Block: every movement refused (a reason is required)")
    async def block(self, account_id: AccountId, actor: str, office_scope: OfficeScope,
                    uow_factory: UnitOfWorkFactory, data: schemas.ReasonIn | None = None) -> schemas.AccountOut:
        return await self._status(StatusAction.BLOCK, account_id, actor, office_scope, uow_factory, data)

    @post("/{account_id:int}/unblock", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Lift a block")
    async def unblock(self, account_id: AccountId, actor: str, office_scope: OfficeScope,
                      uow_factory: UnitOfWorkFactory, data: schemas.ReasonIn | None = None) -> schemas.AccountOut:
        return await self._status(StatusAction.UNBLOCK, account_id, actor, office_scope, uow_factory, data)

    @post("/{account_id:int}/reactivate", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Reactivate a dormant account (the client came back): withdrawals are accepted again")
    async def reactivate(self, account_id: AccountId, actor: str, office_scope: OfficeScope,
                         uow_factory: UnitOfWorkFactory, data: schemas.ReasonIn | None = None) -> schemas.AccountOut:
        return schemas.AccountOut.from_view(
            await accounts.reactivate(uow_factory(), account_id, actor, scope=office_scope))

    @post("/{account_id:int}/close", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Close an account with a zero balance and no hold")
    async def close(self, account_id: AccountId, actor: str, office_scope: OfficeScope,
                    uow_factory: UnitOfWorkFactory, data: schemas.ReasonIn | None = None) -> schemas.AccountOut:
        reason = data.reason if data else None
        return schemas.AccountOut.from_view(
            await accounts.close(uow_factory(), account_id, actor, reason, scope=office_scope))

    @post("/{account_id:int}/deposits", status_code=201, opt=TRANSACT, responses=PROBLEM_RESPONSES,
          summary="Deposit money (one journal entry from the product's rules); Idempotency-Key replays")
    async def deposit(self, request: Request[Any, Any, Any], account_id: AccountId, data: schemas.MovementIn,
                      idempotency_key: IdempotencyHeader = None) -> Response[schemas.MovementOut]:
        return await _submit(request, data.deposit(account_id, _actor(request), idempotency_key))

    @post("/{account_id:int}/withdrawals", status_code=201, opt=TRANSACT, responses=APPROVABLE_RESPONSES,
          summary="Withdraw money with the product's withdrawal fees; refused beyond the available balance; above "
                  "the approval rule's amount: held and waiting for a second person (202)")
    async def withdraw(self, request: Request[Any, Any, Any], account_id: AccountId, data: schemas.MovementIn,
                       idempotency_key: IdempotencyHeader = None) -> Response[Any]:
        return await _submit_approvable(request, data.withdrawal(account_id, _actor(request), idempotency_key))

    @post("/{account_id:int}/transfers", status_code=201, opt=TRANSACT, responses=APPROVABLE_RESPONSES,
          summary="Transfer to another account: one journal entry, a transaction on each account; above the "
                  "approval rule's amount: held and waiting for a second person (202)")
    async def transfer(self, request: Request[Any, Any, Any], account_id: AccountId, data: schemas.TransferIn,
                       idempotency_key: IdempotencyHeader = None) -> Response[Any]:
        return await _submit_approvable(request, data.to_command(account_id, _actor(request), idempotency_key))

    @get("/{account_id:int}/transactions", opt=READ, responses=PROBLEM_RESPONSES,
         summary="The account's transactions in booking order (cursor after_id)")
    async def transactions(self, account_id: AccountId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                           after_id: Cursor = 0, limit: Limit = 100) -> list[schemas.TransactionOut]:
        found = await accounts.list_transactions(uow_factory(), account_id, scope=office_scope, after_id=after_id,
                                                 limit=limit)
        return [schemas.TransactionOut.from_record(t) for t in found]

    @post("/{account_id:int}/transactions/{transaction_id:int}/reversal", status_code=201, opt=REVERSE,
          responses=PROBLEM_RESPONSES,
          summary="Reverse the movement this transaction belongs to (a mistake): the mirror journal entry and a "
                  "reversal transaction for each of its transactions; refused beyond the account's limits, when "
                  "already reversed or in a closed period")
    async def reverse(self, account_id: AccountId, transaction_id: TransactionId, data: schemas.ReversalIn,
                      actor: str, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                      idempotency_key: IdempotencyHeader = None) -> Response[schemas.MovementOut]:
        command = data.to_command(account_id, transaction_id, actor, idempotency_key)
        return _moved(await reversals.reverse_movement(uow_factory(), command, scope=office_scope))

    @get("/{account_id:int}/holds", opt=READ, responses=PROBLEM_RESPONSES, summary="Holds placed and released")
    async def holds(self, account_id: AccountId, office_scope: OfficeScope,
                    uow_factory: UnitOfWorkFactory) -> list[schemas.HoldOut]:
        found = await accounts.list_holds(uow_factory(), account_id, scope=office_scope)
        return [schemas.HoldOut.from_record(h) for h in found]

    @post("/{account_id:int}/holds", status_code=201, opt=TRANSACT, responses=PROBLEM_RESPONSES,
          summary="Hold an amount (guarantee, cash collateral, legal): it leaves the available balance")
    async def place_hold(self, account_id: AccountId, data: schemas.HoldIn, actor: str, office_scope: OfficeScope,
                         uow_factory: UnitOfWorkFactory) -> schemas.HoldOut:
        return schemas.HoldOut.from_record(
            await accounts.place_hold(uow_factory(), data.to_command(account_id, actor), scope=office_scope))

    @post("/{account_id:int}/holds/{hold_id:int}/release", status_code=200, opt=TRANSACT,
          responses=PROBLEM_RESPONSES, summary="Release a hold")
    async def release_hold(self, account_id: AccountId, hold_id: HoldId, actor: str, office_scope: OfficeScope,
                           uow_factory: UnitOfWorkFactory) -> schemas.HoldOut:
        return schemas.HoldOut.from_record(
            await accounts.release_hold(uow_factory(), account_id, hold_id, actor, scope=office_scope))

    @get("/{account_id:int}/statement", opt=READ, responses=PROBLEM_RESPONSES,
         summary="Statement: opening balance, each movement with the running balance, closing balance "
                 "(JSON, or CSV with format=csv)")
    async def statement(self, request: Request[Any, Any, Any], account_id: AccountId, office_scope: OfficeScope,
                        uow_factory: UnitOfWorkFactory, date_from: DateFrom = None, date_to: DateTo = None,
                        fmt: Format = None) -> Response[Any]:
        found = await statements.statement(uow_factory(), account_id, date_from=date_from, date_to=date_to,
                                           scope=office_scope)
        if _wants_csv(request, fmt):
            body = to_csv(schemas.STATEMENT_CSV, schemas.statement_rows(found))  # type: ignore[arg-type]
            return Response(content=body.encode(), media_type=CSV_MEDIA_TYPE, headers={
                "Content-Disposition": f'attachment; filename="releve-{account_id}.csv"'})
        return Response(schemas.StatementOut.from_statement(found))


class ClientDepositHistoryController(Controller):
    path = "/api/v1/clients/{client_id:int}/deposit-history"
    tags = ["Deposit accounts"]  # noqa: RUF012

    @get("/", opt=READ, responses=PROBLEM_RESPONSES,
         summary="A client's operations on all its deposit accounts, oldest first (cursor after_id)")
    async def history(self, client_id: ClientId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                      date_from: DateFrom = None, date_to: DateTo = None, after_id: Cursor = 0,
                      limit: Limit = 100) -> list[schemas.HistoryItemOut]:
        items = await statements.client_history(uow_factory(), client_id, date_from=date_from, date_to=date_to,
                                                after_id=after_id, limit=limit, scope=office_scope)
        return [schemas.HistoryItemOut.from_item(i) for i in items]


class DepositInterestController(Controller):
    path = "/api/v1/deposit-interest-postings"
    tags = ["Deposit accounts"]  # noqa: RUF012

    @post("/", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Post the interest of every account whose posting period ends on posting_date "
                  "(idempotent: a period is posted once)")
    async def run(self, data: schemas.InterestRunIn, actor: str, uow_factory: UnitOfWorkFactory
                  ) -> schemas.InterestRunOut:
        done = await interest.post_deposit_interest(uow_factory, data.posting_date, actor)
        return schemas.InterestRunOut(**msgspec.structs.asdict(done))


class DepositReconciliationController(Controller):
    path = "/api/v1/reports/deposit-reconciliation"
    tags = ["Reports"]  # noqa: RUF012

    @get("/", opt={"permission": "reports:read"}, responses=PROBLEM_RESPONSES,
         summary="Per deposit control account and currency: the accounts' balances, the GL balance and the "
                 "difference")
    async def reconciliation(self, uow_factory: UnitOfWorkFactory,
                             on: Annotated[date | None, Parameter(query="on", required=False)] = None
                             ) -> schemas.ReconciliationOut:
        rows = await statements.reconciliation(uow_factory(), on=on)
        return schemas.ReconciliationOut(on=on or date.today(), balanced=all(not r.difference for r in rows),
                                         rows=[schemas.ReconciliationRowOut.from_row(r) for r in rows])


DEPOSIT_ROUTES: Final = (DepositAccountController, ClientDepositHistoryController, DepositInterestController,
                         DepositReconciliationController)
