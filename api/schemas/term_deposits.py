"""Wire shapes of term-deposit accounts. Amounts are decimal strings; the service's views go
out as they are (msgspec Structs with Decimal fields encode as strings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from api.schemas.common import Id, check_date
from api.schemas.simulations import check_decimal_shape
from products.deposits.term_deposit import MaturityInstruction
from products.term_deposits.product import TERM_COUNT_MAX, TermLength
from servicing.term_deposits.model import CloseEarly, FundTermDeposit, OpenTermDeposit, Settlement

Amount = Annotated[Decimal, msgspec.Meta(description="Decimal string, e.g. '1000000'")]


class SettlementIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How money moves: a payment type (cash, transfer, mobile money), or ``deposit_account_id``,
    the client's own deposit account in the same currency (a transfer: one balanced entry between
    the two control accounts). One of the two, not both."""

    payment_type_id: Id | None = None
    deposit_account_id: Id | None = None

    def to_settlement(self) -> Settlement:
        return Settlement(payment_type_id=self.payment_type_id, deposit_account_id=self.deposit_account_id)


def _check_term(term: TermLength) -> None:
    if not 1 <= term.count <= TERM_COUNT_MAX:
        raise ValueError(f"term must count between 1 and {TERM_COUNT_MAX} units")


class TermDepositIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    client_id: Id
    product_id: Id
    deposit_amount: Amount
    term: TermLength
    opened_on: date
    maturity_instruction: MaturityInstruction = MaturityInstruction.PAY_OUT
    payout: SettlementIn | None = None

    def __post_init__(self) -> None:
        check_decimal_shape(self.deposit_amount, "deposit_amount")
        check_date(self.opened_on, "opened_on")
        _check_term(self.term)

    def to_command(self) -> OpenTermDeposit:
        return OpenTermDeposit(client_id=self.client_id, product_id=self.product_id,
                               deposit_amount=self.deposit_amount, term=self.term, opened_on=self.opened_on,
                               maturity_instruction=self.maturity_instruction,
                               payout=self.payout.to_settlement() if self.payout is not None else None)


class FundIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    activated_on: date
    source: SettlementIn

    def __post_init__(self) -> None:
        check_date(self.activated_on, "activated_on")

    def to_command(self, idempotency_key: str | None) -> FundTermDeposit:
        return FundTermDeposit(activated_on=self.activated_on, source=self.source.to_settlement(),
                               idempotency_key=idempotency_key)


class InstructionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    maturity_instruction: MaturityInstruction
    payout: SettlementIn | None = None
    expected_version: Id | None = None


class ClosureQuoteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    closed_on: date

    def __post_init__(self) -> None:
        check_date(self.closed_on, "closed_on")


class ClosureIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    closed_on: date
    payout: SettlementIn

    def __post_init__(self) -> None:
        check_date(self.closed_on, "closed_on")

    def to_command(self, idempotency_key: str | None) -> CloseEarly:
        return CloseEarly(closed_on=self.closed_on, payout=self.payout.to_settlement(),
                          idempotency_key=idempotency_key)


class RunIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    on: date

    def __post_init__(self) -> None:
        check_date(self.on, "on")
