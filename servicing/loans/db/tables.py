"""SQLAlchemy models of the loan tables (migration 0013). Transactions and decisions are
insert-only: PostgreSQL refuses to change them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import CHAR, BigInteger, Date, ForeignKey, Integer, Numeric, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db.base import Base

TimestampTZ = TIMESTAMP(timezone=True)


class LoanRow(Base):
    __tablename__ = "loan"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    office_id: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(Integer)
    product_version: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(CHAR(3))
    status: Mapped[str] = mapped_column(String(20))
    loan_cycle: Mapped[int] = mapped_column(SmallInteger)
    principal_requested: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    principal_approved: Mapped[Decimal | None] = mapped_column(Numeric(22, 4))
    expected_disbursement_date: Mapped[date] = mapped_column(Date)
    requested: Mapped[dict[str, Any]] = mapped_column(JSONB)
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    requirements: Mapped[dict[str, Any]] = mapped_column(JSONB)
    approval_levels: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    disbursed_on: Mapped[date | None] = mapped_column(Date)
    maker_user_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(100))
    booked_classification: Mapped[str] = mapped_column(String(20), server_default="healthy")
    term_bucket: Mapped[str | None] = mapped_column(String(10))
    rescheduled_on: Mapped[date | None] = mapped_column(Date)
    """The last rescheduling's date (migration 0028); None for a loan never rescheduled."""
    closed_on: Mapped[date | None] = mapped_column(Date)
    """The value date of the movement that closed or wrote the loan off (migration 0042; None
    while it is active): the loan was open on a day D when it is active or ``closed_on > D``."""


class LoanGuarantorRow(Base):
    __tablename__ = "loan_guarantor"
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    client_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(22, 4))


class LoanDecisionRow(Base):
    __tablename__ = "loan_decision"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    level_order: Mapped[int | None] = mapped_column(SmallInteger)
    level_label: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))
    principal_approved: Mapped[Decimal | None] = mapped_column(Numeric(22, 4))
    reason_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    note: Mapped[str] = mapped_column(String(1000), server_default="")
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_by_user_id: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())


class LoanTransactionRow(Base):
    __tablename__ = "loan_transaction"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012  (created_at and the id come back with the INSERT)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    sequence_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    reverses_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    value_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(CHAR(3))
    amount: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    principal: Mapped[Decimal] = mapped_column(Numeric(22, 4), server_default="0")
    interest: Mapped[Decimal] = mapped_column(Numeric(22, 4), server_default="0")
    fee: Mapped[Decimal] = mapped_column(Numeric(22, 4), server_default="0")
    penalty: Mapped[Decimal] = mapped_column(Numeric(22, 4), server_default="0")
    vat: Mapped[Decimal] = mapped_column(Numeric(22, 4), server_default="0")
    overpayment: Mapped[Decimal] = mapped_column(Numeric(22, 4), server_default="0")
    classification: Mapped[str] = mapped_column(String(20))
    payment_type_id: Mapped[int | None] = mapped_column(Integer)
    charge_id: Mapped[int | None] = mapped_column(Integer)
    receipt_number: Mapped[str | None] = mapped_column(String(50))
    allocation: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    journal_entry_id: Mapped[UUID | None] = mapped_column(PgUUID(as_uuid=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))


class LoanReschedulingRow(Base):
    """A rescheduling plan kept for history (migration 0028; append-only)."""

    __tablename__ = "loan_rescheduling"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012  (created_at and the id come back with the INSERT)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    rescheduled_on: Mapped[date] = mapped_column(Date)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    previous_terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    previous_schedule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    new_terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    new_schedule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    principal_outstanding: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    capitalised_interest: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    capitalised_penalties: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    interest_carried: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    penalties_carried: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
