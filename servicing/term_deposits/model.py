"""Commands and views of term-deposit accounts (values only; the service does the work)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol
from uuid import UUID

import msgspec

from products.deposits.term_deposit import MaturityInstruction, PrematureClosureQuote
from products.term_deposits.product import TermLength
from servicing.unit_of_work import UnitOfWork


class AccountStatus(StrEnum):
    PENDING = "pending"  # opened, not funded yet
    ACTIVE = "active"  # funded: the term runs
    HELD = "held"  # matured with the "hold" instruction: the money waits, earns nothing
    CLOSED = "closed"  # paid out at maturity
    CLOSED_EARLY = "closed_early"  # premature closure


class TransactionKind(StrEnum):
    DEPOSIT = "deposit"
    INTEREST = "interest"
    INTEREST_CLAWBACK = "interest_clawback"
    PAYOUT = "payout"
    RENEWAL = "renewal"
    """A new term starts on the same account (amount: the new principal; moves no money)."""
    WITHHOLDING_TAX = "withholding_tax"
    """Statement line only: the tax withheld from an interest transaction (stored on it)."""


BALANCE_SIGN = {TransactionKind.DEPOSIT: 1, TransactionKind.INTEREST: 1, TransactionKind.INTEREST_CLAWBACK: -1,
                TransactionKind.PAYOUT: -1, TransactionKind.RENEWAL: 0, TransactionKind.WITHHOLDING_TAX: -1}


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """Where money comes from or goes to: a payment type (cash, transfer, mobile money: its
    fund-source account), or the client's deposit account through `DepositAccountTransfers`."""

    payment_type_id: int | None = None
    deposit_account_id: int | None = None


class DepositAccountTransfers(Protocol):
    """Seam for "from/to the client's current account": records the movement on the deposit
    account in the same unit of work (naming the term deposit's journal entry ``entry_id``) and
    answers the GL account that stands in for the fund source (the deposit product's control
    account; None when that product posts nothing). Wired to `servicing.deposits` by
    `servicing.term_deposits.transfers.DepositAccountLink`; refusals name ``field``."""

    async def move(self, uow: UnitOfWork, *, deposit_account_id: int, client_id: int, amount: Decimal,
                   currency: str, value_date: date, into_deposit_account: bool, actor: str, field: str,
                   entry_id: UUID | None, description: str) -> str | None: ...


class OpenTermDeposit(msgspec.Struct, frozen=True, kw_only=True):
    client_id: int
    product_id: int
    deposit_amount: Decimal
    term: TermLength
    opened_on: date
    maturity_instruction: MaturityInstruction = MaturityInstruction.PAY_OUT
    payout: Settlement | None = None


class FundTermDeposit(msgspec.Struct, frozen=True, kw_only=True):
    activated_on: date
    source: Settlement
    idempotency_key: str | None = None


class CloseEarly(msgspec.Struct, frozen=True, kw_only=True):
    closed_on: date
    payout: Settlement
    idempotency_key: str | None = None


class IncentiveApplied(msgspec.Struct, frozen=True, kw_only=True):
    attribute: str
    operator: str
    value: str
    kind: str
    rate_percent: Decimal


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    product_id: int
    product_version: int
    currency: str
    deposit_amount: Decimal
    term: TermLength
    activated_on: date
    maturity_date: date
    base_rate_percent: Decimal
    rate_percent: Decimal
    incentives_applied: tuple[IncentiveApplied, ...]
    projected_interest: Decimal
    withholding_tax: Decimal
    maturity_amount: Decimal


class TermView(msgspec.Struct, frozen=True, kw_only=True):
    term_no: int
    product_version: int
    principal: Decimal
    term: TermLength
    rate_percent: Decimal
    base_rate_percent: Decimal
    starts_on: date
    maturity_date: date


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    office_id: int
    client_id: int
    product_id: int
    product_version: int
    currency: str
    status: AccountStatus
    deposit_amount: Decimal
    term: TermLength
    rate_percent: Decimal
    base_rate_percent: Decimal
    incentives_applied: tuple[IncentiveApplied, ...]
    maturity_instruction: MaturityInstruction
    payout_payment_type_id: int | None
    payout_deposit_account_id: int | None
    opened_on: date
    closed_on: date | None
    balance: Decimal
    interest_posted_this_term: Decimal
    current_term: TermView | None
    terms: tuple[TermView, ...]
    version: int


class TransactionView(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: int
    term_no: int
    kind: TransactionKind
    amount: Decimal
    value_date: date
    period_end: date | None
    payment_type_id: int | None
    entry_id: str | None
    created_by: str
    withholding_tax: Decimal = Decimal(0)
    """On interest: the tax withheld at source (the amount is gross; the deposit gets the difference)."""
    deposit_account_id: int | None = None
    """The client's deposit account the money came from or went to."""


class ClosureQuote(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    quote: PrematureClosureQuote


class RunSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What a set-based run did: accounts looked at, entries booked, and the total amount."""

    on: date
    accounts_seen: int
    entries_booked: int
    amount: Decimal
    held_for_review: tuple[int, ...] = ()
    """Accounts a renewal could not be priced for (no chart that day): held, not renewed."""


class ReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    control_account_code: str | None
    currency: str
    products: tuple[int, ...]
    accounts: int
    deposits_total: Decimal
    gl_balance: Decimal
    difference: Decimal
    reconciled: bool


class ProductDeposits(msgspec.Struct, frozen=True, kw_only=True):
    product_id: int
    currency: str
    control_account_code: str | None
    accounts: int
    deposits_total: Decimal


class Reconciliation(msgspec.Struct, frozen=True, kw_only=True):
    as_of: date
    reconciled: bool
    by_control_account: tuple[ReconciliationRow, ...]
    by_product: tuple[ProductDeposits, ...]


class StatementLine(msgspec.Struct, frozen=True, kw_only=True):
    value_date: date
    term_no: int
    kind: TransactionKind
    credit: Decimal
    debit: Decimal
    balance: Decimal
    entry_id: str | None


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """The account's history with the running balance (the client's view: credits add)."""

    account: AccountView
    lines: tuple[StatementLine, ...]
