"""Typed SQLAlchemy models of the product catalogue (DDL, triggers and grants live in
revision 0009). Version rows are insert-only; accounts will reference (product_id, version).
Foreign keys to GL accounts, charges, payment types and fund sources are declared in the
migration only (`products` does not import `chart_of_accounts`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    Boolean,
    Date,
    ForeignKeyConstraint,
    Identity,
    Integer,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db.base import Base

TimestampTZ = TIMESTAMP(timezone=True)


class ProductRow(Base):
    __tablename__ = "product"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(CHAR(3))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    open_date: Mapped[date | None] = mapped_column(Date)
    close_date: Mapped[date | None] = mapped_column(Date)
    current_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(100))


class ProductVersionRow(Base):
    __tablename__ = "product_version"
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    accounting_rule: Mapped[str] = mapped_column(String(20))
    fund_source_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (ForeignKeyConstraint(["product_id"], ["product.id"]),)


class ProductVersionAccountRow(Base):
    __tablename__ = "product_version_account"
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    role: Mapped[str] = mapped_column(String(40))
    payment_type_id: Mapped[int | None] = mapped_column(Integer)
    charge_id: Mapped[int | None] = mapped_column(Integer)
    classification: Mapped[str | None] = mapped_column(String(20))
    term: Mapped[str | None] = mapped_column(String(10))
    gl_account_id: Mapped[int] = mapped_column(Integer)


class ProductVersionChargeRow(Base):
    __tablename__ = "product_version_charge"
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_id: Mapped[int] = mapped_column(Integer, primary_key=True)
