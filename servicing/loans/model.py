"""What the loan service takes and answers: commands and records (msgspec Structs)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

import msgspec

from products.loans.allocation import AllocationLine
from products.loans.eligibility import RuleResult
from products.loans.model import Schedule
from products.loans.position import LoanPosition
from products.loans.requirements import LoanRequirements
from products.loans.terms import LoanTerms, TrancheSpec

GUARANTORS_MAX = 20
COLLATERAL_MAX = 20
CO_SIGNERS_MAX = 10


class LoanStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"
    """Written off (« passé en perte »): out of the active portfolio, its history kept."""


class GuarantorIn(msgspec.Struct, frozen=True, kw_only=True):
    """A guarantor: a client of the institution (``client_id``) or an outsider (``name``)."""

    amount: Decimal
    client_id: int | None = None
    name: str | None = None


class Collateral(msgspec.Struct, frozen=True, kw_only=True):
    collateral_type: str
    value: Decimal
    description: str = ""


class ApplicationDetails(msgspec.Struct, frozen=True, kw_only=True):
    purpose: str = ""
    loan_purpose_id: int | None = None
    activity_sector_id: int | None = None
    co_signers: tuple[int, ...] = ()
    collateral: tuple[Collateral, ...] = ()


class LoanApplication(msgspec.Struct, frozen=True, kw_only=True):
    """What a loan officer records; ``None`` terms take the product's defaults."""

    client_id: int
    product_id: int
    expected_disbursement_date: date
    principal_amount: Decimal
    repayment_count: int | None = None
    interest_rate_percent: Decimal | None = None
    repayment_every: int | None = None
    first_repayment_date: date | None = None
    grace_on_principal_periods: int | None = None
    grace_on_interest_payment_periods: int | None = None
    tranches: tuple[TrancheSpec, ...] = ()
    """Planned tranches (multi-disbursement products): expected date and amount, adding up to the principal."""
    guarantors: tuple[GuarantorIn, ...] = ()
    details: ApplicationDetails = ApplicationDetails()


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    decision: str
    level_order: int | None
    level_label: str | None
    principal_approved: Decimal | None
    reason_ids: tuple[int, ...]
    note: str
    decided_by: str
    decided_at: datetime


class LoanRecord(msgspec.Struct, frozen=True, kw_only=True):
    loan_id: int
    client_id: int
    office_id: int
    product_id: int
    product_version: int
    currency: str
    status: LoanStatus
    loan_cycle: int
    principal_requested: Decimal
    principal_approved: Decimal | None
    expected_disbursement_date: date
    terms: LoanTerms
    requirements: LoanRequirements
    guarantors: tuple[GuarantorIn, ...]
    details: ApplicationDetails
    approval_levels_done: int
    decisions: tuple[Decision, ...]
    disbursed_on: date | None
    schedule: Schedule | None
    created_at: datetime
    created_by: str
    submitted_at: datetime | None
    submitted_by: str | None
    booked_classification: str = "healthy"
    """The classification the loan's postings use (healthy until the close of business reclassifies it)."""
    term_bucket: str | None = None
    """Short, medium or long term, set at disbursement from the schedule and the product's term buckets."""


class PreCheck(msgspec.Struct, frozen=True, kw_only=True):
    eligible: bool
    """No blocking rule failed."""
    rules: tuple[RuleResult, ...]


class FundsChannel(msgspec.Struct, frozen=True, kw_only=True):
    """Where a disbursement goes or a repayment comes from: a payment type (cash, mobile money,
    transfer: its fund-source account) or, once deposit accounts are linked, a deposit account."""

    payment_type_id: int | None = None
    deposit_account_id: int | None = None
    receipt_number: str | None = None


class Disburse(msgspec.Struct, frozen=True, kw_only=True):
    value_date: date
    channel: FundsChannel
    note: str = ""


class Repay(msgspec.Struct, frozen=True, kw_only=True):
    value_date: date
    amount: Decimal
    channel: FundsChannel
    note: str = ""


class LoanTransaction(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: int
    loan_id: int
    sequence_number: int
    kind: str
    reverses_transaction_id: int | None
    value_date: date
    currency: str
    amount: Decimal
    principal: Decimal
    interest: Decimal
    fee: Decimal
    penalty: Decimal
    vat: Decimal
    overpayment: Decimal
    classification: str
    payment_type_id: int | None
    charge_id: int | None
    receipt_number: str | None
    allocation: tuple[AllocationLine, ...]
    journal_entry_id: UUID | None
    created_at: datetime
    created_by: str


class LoanArrearsView(msgspec.Struct, frozen=True, kw_only=True):
    """The loan's ageing as the last close of business found it (`loan_arrears_state`): what a
    loan officer reads on the loan (Fineract's delinquent days, NPA flag and delinquency range)."""

    business_date: date
    days_overdue: int
    overdue_amount: Decimal
    overdue_principal: Decimal
    status: str
    """performing, in_arrears or non_performing (NPA)."""
    bucket: str | None
    classification: str
    """healthy or doubtful, as the bucket decides."""
    provision_rate_percent: Decimal


class LoanView(msgspec.Struct, frozen=True, kw_only=True):
    loan: LoanRecord
    position: LoanPosition | None
    arrears: LoanArrearsView | None = None
    """As of the last closed business day; None before the loan's first close."""


class PayoffQuote(msgspec.Struct, frozen=True, kw_only=True):
    """What closes the loan on ``on``: everything still asked for, per component, exactly what a
    repayment of ``total`` allocates. ``basis`` says how interest is counted: ``schedule`` (the
    loan's schedule), or with interest recalculation the product's pre-closure rule: ``to_date``
    (interest to ``on``) or ``to_rest_date`` (to the next recalculation boundary)."""

    loan_id: int
    on: date
    currency: str
    principal: Decimal
    interest: Decimal
    fee: Decimal
    penalty: Decimal
    vat: Decimal
    total: Decimal
    basis: str = "schedule"


class StatementLine(msgspec.Struct, frozen=True, kw_only=True):
    """A journal line of a loan transaction's entry."""

    account_code: str
    side: str
    amount: Decimal


class StatementItem(msgspec.Struct, frozen=True, kw_only=True):
    transaction: LoanTransaction
    journal_lines: tuple[StatementLine, ...]


class LoanStatement(msgspec.Struct, frozen=True, kw_only=True):
    loan_id: int
    client_id: int
    currency: str
    items: tuple[StatementItem, ...]


class AddCharge(msgspec.Struct, frozen=True, kw_only=True):
    """A charge added to an active loan on ``value_date``: one of the reference charges (its
    income account, fee or penalty) or a one-off fee; due with the instalment holding ``due_date``."""

    value_date: date
    amount: Decimal
    due_date: date | None = None
    charge_id: int | None = None


class Waive(msgspec.Struct, frozen=True, kw_only=True):
    """Forgive part of what is owed on interest, fees or penalties, oldest instalment first
    (or on one instalment)."""

    value_date: date
    component: str
    amount: Decimal
    instalment: int | None = None
    note: str = ""
