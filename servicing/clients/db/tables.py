"""Typed SQLAlchemy models of the client and KYC tables (DDL, triggers and grants live in
revision 0007). History rows and document files are insert-only."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    CHAR,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db.base import Base

TimestampTZ = TIMESTAMP(timezone=True)


class KycRequirementRow(Base):
    __tablename__ = "kyc_requirement"
    client_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    required_fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    required_documents: Mapped[list[list[str]]] = mapped_column(JSONB)
    duplicate_override_allowed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(100))


class ClientRow(Base):
    __tablename__ = "client"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    client_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    loan_officer: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    phone_key: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(10))
    national_id: Mapped[str | None] = mapped_column(String(50))
    occupation: Mapped[str | None] = mapped_column(String(100))
    income_monthly: Mapped[Decimal | None] = mapped_column(Numeric(22, 4))
    income_currency: Mapped[str | None] = mapped_column(CHAR(3))
    legal_name: Mapped[str | None] = mapped_column(String(200))
    trade_name: Mapped[str | None] = mapped_column(String(200))
    registration_number: Mapped[str | None] = mapped_column(String(50))
    tax_number: Mapped[str | None] = mapped_column(String(50))
    sector: Mapped[str | None] = mapped_column(String(100))
    founded_on: Mapped[date | None] = mapped_column(Date)
    group_name: Mapped[str | None] = mapped_column(String(200))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    display_name: Mapped[str] = mapped_column(String(320))
    name_key: Mapped[str] = mapped_column(String(400))
    identity_key: Mapped[str | None] = mapped_column(String(50))
    activated_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(100))


class ClientRepresentativeRow(Base):
    __tablename__ = "client_representative"
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))
    national_id: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))


class ClientGroupMemberRow(Base):
    __tablename__ = "client_group_member"
    group_id: Mapped[int] = mapped_column(ForeignKey("client.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("client.id"), primary_key=True)


class ClientHistoryRow(Base):
    __tablename__ = "client_history"
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    action: Mapped[str] = mapped_column(String(30))
    changed_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    changed_by: Mapped[str] = mapped_column(String(100))
    before: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    after: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class ClientDocumentRow(Base):
    __tablename__ = "client_document"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    document_type: Mapped[str] = mapped_column(String(40))
    number: Mapped[str | None] = mapped_column(String(50))
    issuing_authority: Mapped[str | None] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    verified_by: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    verification_comment: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))


class ClientDocumentFileRow(Base):
    __tablename__ = "client_document_file"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("client_document.id"))
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(CHAR(64))
    storage: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
