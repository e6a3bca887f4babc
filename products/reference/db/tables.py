"""Typed SQLAlchemy models of the reference tables (DDL, checks, triggers and grants live in
revision 0008). Mutable rows carry audit columns and a version; delinquency buckets are
retired, never deleted; credit parameters are insert-only versions.

GL accounts are referenced by id (`gl_account.id`); the foreign keys are declared in the
migration, not here, because `products` does not import `chart_of_accounts`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    CHAR,
    Boolean,
    Date,
    ForeignKey,
    Identity,
    Integer,
    Numeric,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db.base import Base

TimestampTZ = TIMESTAMP(timezone=True)


class AuditColumns:
    """Who created and last changed a row, and its optimistic-lock version."""

    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class InstitutionCurrencyRow(AuditColumns, Base):
    """A currency the institution uses; decimals are the ISO ones in `currency`."""

    __tablename__ = "institution_currency"
    code: Mapped[str] = mapped_column(CHAR(3), ForeignKey("currency.code"), primary_key=True)
    in_multiples_of: Mapped[Decimal | None] = mapped_column(Numeric(22, 4))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")


class FundSourceRow(AuditColumns, Base):
    __tablename__ = "fund_source"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_type: Mapped[str] = mapped_column(String(20))
    gl_account_id: Mapped[int] = mapped_column(Integer)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    fax: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(String(1000), server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class PaymentTypeRow(AuditColumns, Base):
    __tablename__ = "payment_type"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    is_cash: Mapped[bool] = mapped_column(Boolean)
    gl_account_id: Mapped[int | None] = mapped_column(Integer)
    """Fund-source account override for money moved by this payment type."""
    position: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    description: Mapped[str] = mapped_column(String(1000), server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class TaxRateRow(AuditColumns, Base):
    __tablename__ = "tax_rate"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tax_kind: Mapped[str] = mapped_column(String(20))  # 'withholding' since revision 0019
    country: Mapped[str] = mapped_column(CHAR(2))
    operation_kind: Mapped[str] = mapped_column(String(30))
    rate_percent: Mapped[Decimal] = mapped_column(Numeric(9, 4))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    institution_exempt: Mapped[bool] = mapped_column(Boolean, server_default="false")
    exemption_reference: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(1000), server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class ChargeRow(AuditColumns, Base):
    __tablename__ = "charge"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    applies_to: Mapped[str] = mapped_column(String(10))
    charge_time: Mapped[str] = mapped_column(String(30))
    calculation: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal] = mapped_column(Numeric(22, 4))
    """A flat amount in `currency`, or a percentage (0-100) for the percent calculations."""
    amount_min: Mapped[Decimal | None] = mapped_column(Numeric(22, 4))
    amount_max: Mapped[Decimal | None] = mapped_column(Numeric(22, 4))
    currency: Mapped[str] = mapped_column(CHAR(3), ForeignKey("currency.code"))
    is_penalty: Mapped[bool] = mapped_column(Boolean, server_default="false")
    tax_rate_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rate.id"))
    income_gl_account_id: Mapped[int | None] = mapped_column(Integer)
    due_month: Mapped[int | None] = mapped_column(SmallInteger)
    due_day: Mapped[int | None] = mapped_column(SmallInteger)
    frequency_every: Mapped[int | None] = mapped_column(SmallInteger)
    frequency_unit: Mapped[str | None] = mapped_column(String(10))
    grace_days: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class UsuryCapRow(AuditColumns, Base):
    __tablename__ = "usury_cap"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    zone: Mapped[str] = mapped_column(String(10), server_default="UMOA")
    institution_type: Mapped[str] = mapped_column(String(30))
    rate_annual_percent: Mapped[Decimal] = mapped_column(Numeric(9, 4))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    legal_reference: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(1000), server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class HolidayRow(AuditColumns, Base):
    __tablename__ = "holiday"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    all_offices: Mapped[bool] = mapped_column(Boolean)
    repayments_moved_to: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(1000), server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class HolidayOfficeRow(Base):
    __tablename__ = "holiday_office"
    holiday_id: Mapped[int] = mapped_column(ForeignKey("holiday.id"), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), primary_key=True)


class WorkingWeekRow(AuditColumns, Base):
    """ISO weekdays (1 Monday .. 7 Sunday) an office works; office_id None is the default."""

    __tablename__ = "working_week"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), unique=True)
    working_weekdays: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))


class ActivitySectorRow(AuditColumns, Base):
    __tablename__ = "activity_sector"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("activity_sector.id"))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class LoanPurposeCategoryRow(AuditColumns, Base):
    __tablename__ = "loan_purpose_category"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class LoanPurposeRow(AuditColumns, Base):
    __tablename__ = "loan_purpose"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("loan_purpose_category.id"))
    activity_sector_id: Mapped[int | None] = mapped_column(ForeignKey("activity_sector.id"))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class DecisionReasonRow(AuditColumns, Base):
    __tablename__ = "decision_reason"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), unique=True)
    decision: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class ValidationLevelRow(AuditColumns, Base):
    __tablename__ = "validation_level"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    level_order: Mapped[int] = mapped_column(SmallInteger)
    label: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(CHAR(3), ForeignKey("currency.code"))
    amount_min: Mapped[Decimal] = mapped_column(Numeric(22, 4), server_default="0")
    amount_max: Mapped[Decimal | None] = mapped_column(Numeric(22, 4))
    role_name: Mapped[str] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class CreditInsuranceRow(AuditColumns, Base):
    __tablename__ = "credit_insurance"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    insurer: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), server_default="")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class DelinquencyBucketRow(Base):
    """One bucket of a set (per kind); the current set is the rows not retired."""

    __tablename__ = "delinquency_bucket"
    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    bucket_kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    days_overdue_min: Mapped[int] = mapped_column(Integer)
    days_overdue_max: Mapped[int | None] = mapped_column(Integer)
    loan_state: Mapped[str] = mapped_column(String(10))
    provision_rate_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    source: Mapped[str] = mapped_column(String(1000), server_default="")
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
    retired_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    retired_by: Mapped[str | None] = mapped_column(String(100))


class CreditParametersRow(Base):
    """General credit parameters (seed 002, 3.7.1); insert-only, highest version in force."""

    __tablename__ = "credit_parameters"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    institution_type: Mapped[str] = mapped_column(String(30))
    country: Mapped[str] = mapped_column(CHAR(2))
    loans_per_client_max: Mapped[int] = mapped_column(SmallInteger)
    loans_per_group_member_max: Mapped[int] = mapped_column(SmallInteger)
    loans_per_guarantor_max: Mapped[int] = mapped_column(SmallInteger)
    due_date_on_holiday: Mapped[str] = mapped_column(String(30))
    interest_rate_editable: Mapped[bool] = mapped_column(Boolean)
    follow_up_sheet_printed: Mapped[bool] = mapped_column(Boolean)
    contract_number_required: Mapped[bool] = mapped_column(Boolean)
    grace_period_amounts_added: Mapped[bool] = mapped_column(Boolean)
    contract_printed_at_disbursement: Mapped[bool] = mapped_column(Boolean)
    debt_acknowledgement_printed: Mapped[bool] = mapped_column(Boolean)
    monthly_rate_shown: Mapped[bool] = mapped_column(Boolean)
    commission_before_disbursement: Mapped[bool] = mapped_column(Boolean)
    partial_disbursement_allowed: Mapped[bool] = mapped_column(Boolean)
    schedule_totals_shown: Mapped[bool] = mapped_column(Boolean)
    repayment_availability_required: Mapped[bool] = mapped_column(Boolean)
    days_late_tolerated: Mapped[int] = mapped_column(SmallInteger)
    recovery_entries_on_repayment: Mapped[bool] = mapped_column(Boolean)
    guarantee_deposit_reduced_on_repayment: Mapped[bool] = mapped_column(Boolean)
    interest_charged_on_early_repayment: Mapped[bool] = mapped_column(Boolean)
    credit_jobs_enabled: Mapped[bool] = mapped_column(Boolean)
    doubtful_loan_arrears_editable: Mapped[bool] = mapped_column(Boolean)
    healthy_loan_rescheduling_allowed: Mapped[bool] = mapped_column(Boolean)
    rescheduling_term_editable: Mapped[bool] = mapped_column(Boolean)
    unpaid_instalment_rescheduling_allowed: Mapped[bool] = mapped_column(Boolean)
    downgrade_jobs_enabled: Mapped[bool] = mapped_column(Boolean)
    valid_from: Mapped[date] = mapped_column(Date)
    comment: Mapped[str] = mapped_column(String(500), server_default="")
    created_at: Mapped[datetime] = mapped_column(TimestampTZ, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(100))
