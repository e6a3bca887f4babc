"""Loans and deposit accounts over HTTP: link a loan to the borrower's deposit account, refund
an overpayment, run the automatic collection for a date and read its insufficient-funds
events. Controllers only translate HTTP to service calls."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import Parameter

from api.schemas.common import INT32_MAX, Id, check_date
from api.schemas.loans import RepaymentIn
from api.schemas.problems import PROBLEM_RESPONSES
from servicing.loans import collection, deposit_link, refunds
from servicing.loans.collection import CollectionSummary, InsufficientFunds
from servicing.loans.model import LoanTransaction
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

LoanId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
LIST_MAX = 500


class DepositLinkIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    deposit_account_id: Id


class RefundIn(RepaymentIn, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Refund (part of) the overpayment: by a payment type or to the borrower's deposit account."""

    def to_refund(self) -> refunds.RefundOverpayment:
        return refunds.RefundOverpayment(value_date=self.value_date, amount=self.amount, channel=self.channel(),
                                         note=self.note)


class CollectionIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    collection_date: date

    def __post_init__(self) -> None:
        check_date(self.collection_date, "collection_date")


class LoanDepositController(Controller):
    path = "/api/v1/loans"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @put("/{loan_id:int}/deposit-account", status_code=200, opt={"permission": "loans:write"},
         responses=PROBLEM_RESPONSES,
         summary="Link the loan to the borrower's deposit account (repayments and automatic collection from it)")
    async def link(self, loan_id: LoanId, data: DepositLinkIn, actor: str, office_scope: OfficeScope,
                   uow_factory: UnitOfWorkFactory) -> deposit_link.LoanDepositLink:
        return await deposit_link.link_loan(uow_factory, loan_id, data.deposit_account_id, actor=actor,
                                            scope=office_scope)

    @post("/{loan_id:int}/overpayment-refunds", status_code=201, opt={"permission": "loans:disburse"},
          responses=PROBLEM_RESPONSES,
          summary="Refund an overpayment by a payment type or to the deposit account; one journal entry "
                  "(Idempotency-Key)")
    async def refund(self, loan_id: LoanId, data: RefundIn, actor: str, office_scope: OfficeScope,
                     uow_factory: UnitOfWorkFactory, header_idempotency_key: str | None) -> Response[LoanTransaction]:
        answer = await refunds.refund_overpayment(uow_factory, loan_id, data.to_refund(), actor=actor,
                                                  scope=office_scope, idempotency_key=header_idempotency_key)
        return Response(answer, status_code=201)


class LoanCollectionController(Controller):
    path = "/api/v1/loan-collections"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @post("/", status_code=200, opt={"permission": "loans:collect"}, responses=PROBLEM_RESPONSES,
          summary="Collect from linked deposit accounts everything due on or before the date (idempotent per date)")
    async def run(self, data: CollectionIn, actor: str, office_scope: OfficeScope,
                  uow_factory: UnitOfWorkFactory) -> CollectionSummary:
        return await collection.collect(uow_factory, data.collection_date, actor=actor, scope=office_scope)

    @get("/insufficient-funds", opt={"permission": "loans:read"}, responses=PROBLEM_RESPONSES,
         summary="Insufficient-funds events of a collection date: due, collected, missing per loan")
    async def shortfalls(
        self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        collection_date: Annotated[date, Parameter(query="collection_date")],
        after_id: Annotated[int, Parameter(query="after_id", ge=0, le=9_223_372_036_854_775_807)] = 0,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=LIST_MAX)] = 200,
    ) -> list[InsufficientFunds]:
        return await collection.insufficient_funds(uow_factory(), on=collection_date, scope=office_scope,
                                                   after_id=after_id, limit=limit)


LOAN_DEPOSIT_CONTROLLERS = (LoanDepositController, LoanCollectionController)
