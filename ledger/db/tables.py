"""Typed SQLAlchemy models of the ledger's tables. The DDL, triggers and grants live in
the migrations; these models mirror them for typed reads and for simple writes of the
mutable reference tables. Journal rows are written only by `JournalStore`, in one
statement per posting, and never updated (PostgreSQL refuses it)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    CHAR,
    BigInteger,
    Date,
    ForeignKey,
    Identity,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db.base import Base

TimestampTZ = TIMESTAMP(timezone=True)


class CurrencyRow(Base):
    __tablename__ = "currency"
    code: Mapped[str] = mapped_column(CHAR(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    decimals: Mapped[int] = mapped_column(SmallInteger)


class OfficeRow(Base):
    __tablename__ = "office"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    region: Mapped[str | None] = mapped_column(String(100))
    lineage: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    opened_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))


class JournalEntryRow(Base):
    __tablename__ = "journal_entry"
    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    office_id: Mapped[int] = mapped_column(Integer)
    value_date: Mapped[date] = mapped_column(Date)
    booked_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    description: Mapped[str] = mapped_column(String(500))
    source_type: Mapped[str | None] = mapped_column(String(100))
    source_id: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    reverses_id: Mapped[UUID | None] = mapped_column(PG_UUID(as_uuid=True))
    line_count: Mapped[int] = mapped_column(SmallInteger)
    xact_id: Mapped[int] = mapped_column(BigInteger, server_default=func.pg_current_xact_id())
    """Writing transaction (xid8): the listing cursor orders by it so a late commit is never skipped."""


class JournalLineRow(Base):
    __tablename__ = "journal_line"
    entry_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    line_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    office_id: Mapped[int] = mapped_column(Integer)
    value_date: Mapped[date] = mapped_column(Date)
    side: Mapped[str] = mapped_column(CHAR(1))
    amount: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    currency: Mapped[str] = mapped_column(CHAR(3))


class AccountBalanceRow(Base):
    """Derived cache of line totals, kept by the posting trigger; `verify` recomputes it."""

    __tablename__ = "account_balance"
    account_id: Mapped[int] = mapped_column(ForeignKey("gl_account.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(CHAR(3), primary_key=True)
    debit_total: Mapped[Decimal] = mapped_column(Numeric(28, 4))
    credit_total: Mapped[Decimal] = mapped_column(Numeric(28, 4))
    line_count: Mapped[int] = mapped_column(BigInteger)


class AccountingClosureRow(Base):
    __tablename__ = "accounting_closure"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    closing_date: Mapped[date] = mapped_column(Date)
    comments: Mapped[str] = mapped_column(String(500), server_default="")
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    undone_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    undone_by: Mapped[str | None] = mapped_column(String(100))


class IdempotencyRecordRow(Base):
    __tablename__ = "idempotency_record"
    scope: Mapped[str] = mapped_column(String(50), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(CHAR(64))
    entry_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(TimestampTZ)
