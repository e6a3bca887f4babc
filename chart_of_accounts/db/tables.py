"""The gl_account table (DDL and guard trigger in the migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, CHAR, Boolean, ForeignKey, Identity, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db.base import Base
from ledger.db.tables import TimestampTZ


class GLAccountRow(Base):
    __tablename__ = "gl_account"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(10))
    is_header: Mapped[bool] = mapped_column(Boolean)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("gl_account.id"))
    currency: Mapped[str | None] = mapped_column(CHAR(3), ForeignKey("currency.code"))
    manual_entries_allowed: Mapped[bool] = mapped_column(Boolean, server_default="true")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    description: Mapped[str] = mapped_column(String(1000), server_default="")
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
