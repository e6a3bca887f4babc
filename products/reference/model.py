"""Reference data as frozen values: what an administrator sets, before it is stored.

Each definition holds the settable fields of one reference row, named as the API and the
table name them. GL accounts are named by their code (what accountants read in the chart);
the service resolves codes to `gl_account.id`. Enumerations are `StrEnum`s whose values are
the wire and database spellings. Rules live in `validation.py`; nothing here does I/O.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

import msgspec

from products.loans.terms import HolidayRule, Weekday


class FundSourceType(StrEnum):
    """Where lent money comes from (seed 002, 3.7.6 « type de sources de financement »)."""

    OWN_FUNDS = "own_funds"
    DONOR = "donor"
    BANK_LINE = "bank_line"
    NGO = "ngo"
    OTHER = "other"


class PaymentKind(StrEnum):
    CASH = "cash"
    CHEQUE = "cheque"
    BANK_TRANSFER = "bank_transfer"
    MOBILE_MONEY = "mobile_money"
    INTERNAL_TRANSFER = "internal_transfer"


class ChargeAppliesTo(StrEnum):
    LOAN = "loan"
    DEPOSIT = "deposit"


class ChargeTime(StrEnum):
    """When a charge falls due."""

    APPLICATION = "application"
    DISBURSEMENT = "disbursement"
    TRANCHE_DISBURSEMENT = "tranche_disbursement"
    SPECIFIED_DUE_DATE = "specified_due_date"
    INSTALMENT_FEE = "instalment_fee"
    OVERDUE_INSTALMENT = "overdue_instalment"
    OVERDUE_MATURITY = "overdue_maturity"
    ACCOUNT_OPENING = "account_opening"
    WITHDRAWAL = "withdrawal"
    ANNUAL = "annual"
    MONTHLY = "monthly"
    PREMATURE_CLOSURE = "premature_closure"
    OVERDRAFT = "overdraft"
    DORMANCY = "dormancy"
    ACCOUNT_CLOSURE = "account_closure"


class ChargeCalculation(StrEnum):
    """How a charge's amount is found: flat, or a percentage of a base."""

    FLAT = "flat"
    PERCENT_OF_AMOUNT = "percent_of_amount"
    PERCENT_OF_AMOUNT_AND_INTEREST = "percent_of_amount_and_interest"
    PERCENT_OF_INSTALMENT = "percent_of_instalment"
    PERCENT_OF_INTEREST = "percent_of_interest"
    PERCENT_OF_OUTSTANDING_PRINCIPAL = "percent_of_outstanding_principal"
    PERCENT_OF_OVERDUE_AMOUNT = "percent_of_overdue_amount"
    PERCENT_OF_BALANCE = "percent_of_balance"


class FrequencyUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


class TaxKind(StrEnum):
    """VAT, or the taxes that replace it on financial services: TAF (taxe sur les activités
    financières: Senegal, Mali...) and TOB (taxe sur les opérations bancaires: Côte d'Ivoire)."""

    VAT = "vat"
    TAF = "taf"
    TOB = "tob"
    WITHHOLDING = "withholding"
    """Withheld at source on interest paid to depositors (UEMOA: IRC / IRCM on deposit interest);
    operation ``deposit_interest``. Not a tax on the institution's services: the client bears it."""


class TaxedOperation(StrEnum):
    ALL_FINANCIAL_SERVICES = "all_financial_services"
    LOAN_INTEREST = "loan_interest"
    LOAN_CHARGES = "loan_charges"
    DEPOSIT_INTEREST = "deposit_interest"
    DEPOSIT_CHARGES = "deposit_charges"
    PENALTIES = "penalties"
    EXPORT_FINANCING = "export_financing"


class InstitutionType(StrEnum):
    """Kinds of institutions the usury law caps differently."""

    BANK = "bank"
    CREDIT_INSTITUTION = "credit_institution"
    MICROFINANCE = "microfinance"
    OTHER = "other"


class MonetaryZone(StrEnum):
    UMOA = "UMOA"
    CEMAC = "CEMAC"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    DEFER = "defer"
    OTHER = "other"


class BucketKind(StrEnum):
    """Seed 002 keeps three arrears grids: loans, overdrafts and rescheduled loans."""

    LOAN = "loan"
    OVERDRAFT = "overdraft"
    RESCHEDULED_LOAN = "rescheduled_loan"


class LoanState(StrEnum):
    """« Souffrant ou non »: healthy (sain) or doubtful (en souffrance)."""

    HEALTHY = "healthy"
    DOUBTFUL = "doubtful"


class CurrencySetting(msgspec.Struct, frozen=True, kw_only=True):
    """A currency the institution works in. Decimals are ISO 4217's (the journal enforces them)."""

    code: str
    in_multiples_of: Decimal | None = None
    enabled: bool = True


class FundSourceDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    source_type: FundSourceType
    gl_account_code: str
    contact_name: str | None = None
    phone: str | None = None
    fax: str | None = None
    email: str | None = None
    address: str | None = None
    description: str = ""
    active: bool = True


class PaymentTypeDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: PaymentKind
    is_cash: bool
    gl_account_code: str | None = None
    """Overrides the product's fund-source account for money moved this way."""
    position: int = 0
    description: str = ""
    active: bool = True


class TaxRateDefinition(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    tax_kind: TaxKind
    country: str
    operation_kind: TaxedOperation
    rate_percent: Decimal
    valid_from: date
    valid_to: date | None = None
    institution_exempt: bool = False
    exemption_reference: str | None = None
    source: str = ""
    active: bool = True


class ChargeDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    applies_to: ChargeAppliesTo
    charge_time: ChargeTime
    calculation: ChargeCalculation
    amount: Decimal
    """A flat amount in `currency`, or a percentage (0-100) of the calculation's base."""
    currency: str
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    is_penalty: bool = False
    tax_rate_id: int | None = None
    income_gl_account_code: str | None = None
    due_month: int | None = None
    due_day: int | None = None
    frequency_every: int | None = None
    frequency_unit: FrequencyUnit | None = None
    grace_days: int = 0
    active: bool = True


class UsuryCapDefinition(msgspec.Struct, frozen=True, kw_only=True):
    institution_type: InstitutionType
    rate_annual_percent: Decimal
    valid_from: date
    legal_reference: str
    zone: MonetaryZone = MonetaryZone.UMOA
    valid_to: date | None = None
    source: str = ""
    active: bool = True


class HolidayDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    from_date: date
    to_date: date
    all_offices: bool
    office_ids: tuple[int, ...] = ()
    repayments_moved_to: date | None = None
    description: str = ""
    active: bool = True


class WorkingWeek(msgspec.Struct, frozen=True, kw_only=True):
    """The weekdays an office works; `office_id` None is the institution's default."""

    office_id: int | None
    working_weekdays: tuple[Weekday, ...]


class ActivitySectorDefinition(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    parent_id: int | None = None
    active: bool = True


class LoanPurposeCategoryDefinition(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    active: bool = True


class LoanPurposeDefinition(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    category_id: int
    activity_sector_id: int | None = None
    active: bool = True


class DecisionReasonDefinition(msgspec.Struct, frozen=True, kw_only=True):
    label: str
    decision: Decision
    active: bool = True


class ValidationLevelDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A step of loan-application approval: who decides amounts in [amount_min, amount_max]."""

    level_order: int
    label: str
    currency: str
    role_name: str
    amount_min: Decimal = Decimal(0)
    amount_max: Decimal | None = None
    active: bool = True


class CreditInsuranceDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """An insurance a loan may carry (seed 002, « Assurance »: its name)."""

    name: str
    insurer: str | None = None
    description: str = ""
    active: bool = True


class DelinquencyBucket(msgspec.Struct, frozen=True, kw_only=True):
    """Loans `days_overdue_min`..`days_overdue_max` days late (inclusive; max None is open)."""

    label: str
    days_overdue_min: int
    days_overdue_max: int | None
    loan_state: LoanState
    provision_rate_percent: Decimal
    source: str = ""


class CreditParameters(msgspec.Struct, frozen=True, kw_only=True):
    """General credit parameters of seed 002 (3.7.1), plus the institution's type and country
    that pick its usury cap and tax rates. Field names follow the seed's order."""

    institution_type: InstitutionType
    country: str
    loans_per_client_max: int
    loans_per_group_member_max: int
    loans_per_guarantor_max: int
    due_date_on_holiday: HolidayRule
    interest_rate_editable: bool
    follow_up_sheet_printed: bool
    contract_number_required: bool
    grace_period_amounts_added: bool
    contract_printed_at_disbursement: bool
    debt_acknowledgement_printed: bool
    monthly_rate_shown: bool
    commission_before_disbursement: bool
    partial_disbursement_allowed: bool
    schedule_totals_shown: bool
    repayment_availability_required: bool
    days_late_tolerated: int
    recovery_entries_on_repayment: bool
    guarantee_deposit_reduced_on_repayment: bool
    interest_charged_on_early_repayment: bool
    credit_jobs_enabled: bool
    doubtful_loan_arrears_editable: bool
    healthy_loan_rescheduling_allowed: bool
    rescheduling_term_editable: bool
    unpaid_instalment_rescheduling_allowed: bool
    downgrade_jobs_enabled: bool
    valid_from: date
    comment: str = ""
