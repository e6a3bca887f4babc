"""Reference data on the wire: what an administrator sends (`...In`), changes (`...Patch`,
derived from the `In` type: every field optional, absent keeps the stored value, `null`
clears an optional one) and reads back (`...Out`: the fields, the id and who changed it).

Money and rates are Decimal strings; GL accounts are named by code. Rules that need more
than one field (a charge time that fits deposits only, a grid of buckets) are checked in
`products.reference.validation` and answered as 422 problems naming the field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from api.schemas.common import Code, CurrencyCode, Id, LongText, Name, ShortText, check_date
from api.schemas.simulations import check_decimal_shape
from products.loans.terms import HolidayRule, Weekday
from products.reference.model import (
    BucketKind,
    ChargeAppliesTo,
    ChargeCalculation,
    ChargeTime,
    Decision,
    FrequencyUnit,
    FundSourceType,
    InstitutionType,
    LoanState,
    MonetaryZone,
    PaymentKind,
    TaxedOperation,
    TaxKind,
)

Amount = Annotated[Decimal, msgspec.Meta(description="Decimal string in the currency, e.g. '5000'")]
Percent = Annotated[Decimal, msgspec.Meta(description="Percentage as a decimal string, 0 to 100, e.g. '17.5'")]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 code, e.g. SN")]
Phone = Annotated[str, msgspec.Meta(max_length=30, pattern=r"^[0-9+() .-]*$")]
Email = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$")]
Address = Annotated[str, msgspec.Meta(max_length=300, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
Source = Annotated[str, msgspec.Meta(max_length=1000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
                                     description="Where the figure comes from (text, article, URL)")]
Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=500,
                                        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
AccountCode = Annotated[str, msgspec.Meta(min_length=1, max_length=30, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$",
                                          description="GL account code (a detail account)")]
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_-]*$")]
Days = Annotated[int, msgspec.Meta(ge=0, le=36_500)]


class _In(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of the request bodies: dates in 1900-2199 like everywhere else, decimals finite
    and of a sane size (no NaN, Infinity or 1E+999999 reaches the rules)."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, date) and not isinstance(value, datetime):
                check_date(value, name)
            elif isinstance(value, Decimal):
                check_decimal_shape(value, name)


class CurrencyIn(_In):
    in_multiples_of: Amount | None = None
    enabled: bool = True


class CurrencyOut(msgspec.Struct, kw_only=True):
    code: str
    name: str
    decimals: int
    in_multiples_of: Decimal | None
    enabled: bool
    configured: bool
    version: int


class FundSourceIn(_In):
    name: Name
    source_type: FundSourceType
    gl_account_code: AccountCode
    contact_name: Name | None = None
    phone: Phone | None = None
    fax: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    description: LongText = ""
    active: bool = True


class PaymentTypeIn(_In):
    name: Name
    kind: PaymentKind
    is_cash: bool
    gl_account_code: AccountCode | None = None
    position: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    description: LongText = ""
    active: bool = True


class TaxRateIn(_In):
    code: Code
    name: Name
    tax_kind: TaxKind
    country: Country
    operation_kind: TaxedOperation
    rate_percent: Percent
    valid_from: date
    valid_to: date | None = None
    institution_exempt: bool = False
    exemption_reference: Reference | None = None
    source: Source = ""
    active: bool = True


class ChargeIn(_In):
    name: Name
    applies_to: ChargeAppliesTo
    charge_time: ChargeTime
    calculation: ChargeCalculation
    amount: Annotated[Decimal, msgspec.Meta(description="Flat amount in the currency, or a percentage 0-100")]
    currency: CurrencyCode
    amount_min: Amount | None = None
    amount_max: Amount | None = None
    is_penalty: bool = False
    tax_rate_id: Id | None = None
    income_gl_account_code: AccountCode | None = None
    due_month: Annotated[int, msgspec.Meta(ge=1, le=12)] | None = None
    due_day: Annotated[int, msgspec.Meta(ge=1, le=31)] | None = None
    frequency_every: Annotated[int, msgspec.Meta(ge=1, le=366)] | None = None
    frequency_unit: FrequencyUnit | None = None
    grace_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 0
    active: bool = True


class UsuryCapIn(_In):
    institution_type: InstitutionType
    rate_annual_percent: Percent
    valid_from: date
    legal_reference: Reference
    zone: MonetaryZone = MonetaryZone.UMOA
    valid_to: date | None = None
    source: Source = ""
    active: bool = True


class HolidayIn(_In):
    name: Name
    from_date: date
    to_date: date
    all_offices: bool = False
    office_ids: Annotated[list[Id], msgspec.Meta(max_length=500)] = []
    repayments_moved_to: date | None = None
    description: LongText = ""
    active: bool = True


class ActivitySectorIn(_In):
    code: Code
    name: Name
    parent_id: Id | None = None
    active: bool = True


class LoanPurposeCategoryIn(_In):
    code: Code
    name: Name
    active: bool = True


class LoanPurposeIn(_In):
    code: Code
    name: Name
    category_id: Id
    activity_sector_id: Id | None = None
    active: bool = True


class DecisionReasonIn(_In):
    label: Name
    decision: Decision
    active: bool = True


class ValidationLevelIn(_In):
    level_order: Annotated[int, msgspec.Meta(ge=1, le=50)]
    label: Name
    currency: CurrencyCode
    role_name: RoleName
    amount_min: Amount = Decimal(0)
    amount_max: Amount | None = None
    active: bool = True


class CreditInsuranceIn(_In):
    name: Name
    insurer: Name | None = None
    description: LongText = ""
    active: bool = True


class WorkingWeekIn(_In):
    working_weekdays: Annotated[list[Weekday], msgspec.Meta(min_length=1, max_length=7)]


class WorkingWeekOut(msgspec.Struct, kw_only=True):
    office_id: int | None
    """None for the institution's default week."""
    working_weekdays: list[Weekday]
    version: int
    updated_at: datetime
    updated_by: str


class WorkingDayOut(msgspec.Struct, kw_only=True):
    office_id: int
    requested: date
    working_day: date
    is_working_day: bool


class OfficeCalendarOut(msgspec.Struct, kw_only=True):
    office_id: int
    from_date: date
    to_date: date
    working_weekdays: list[Weekday]
    holidays: list[date]
    """Holidays of the office (its own and those of all offices) between the two dates."""


class DelinquencyBucketIn(_In):
    label: Name
    days_overdue_min: Days
    days_overdue_max: Days | None
    loan_state: LoanState
    provision_rate_percent: Percent
    source: Source = ""


class GridTemplateOut(msgspec.Struct, kw_only=True):
    name: str
    label: str
    description: str
    kinds: list[str]
    """The grids (loan, overdraft, rescheduled_loan) loading it replaces."""


class DelinquencyGridIn(_In):
    buckets: Annotated[list[DelinquencyBucketIn], msgspec.Meta(min_length=1, max_length=20)]


class DelinquencyBucketOut(msgspec.Struct, kw_only=True):
    id: int
    kind: BucketKind
    label: str
    days_overdue_min: int
    days_overdue_max: int | None
    loan_state: LoanState
    provision_rate_percent: Decimal
    source: str
    created_at: datetime
    created_by: str


class CreditParametersIn(_In):
    """Seed 002, 3.7.1 « Paramètres généraux » (docs/reference-data.md maps each field)."""

    institution_type: InstitutionType
    country: Country
    loans_per_client_max: Annotated[int, msgspec.Meta(ge=1, le=100)]
    loans_per_group_member_max: Annotated[int, msgspec.Meta(ge=1, le=100)]
    loans_per_guarantor_max: Annotated[int, msgspec.Meta(ge=0, le=100)]
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
    days_late_tolerated: Annotated[int, msgspec.Meta(ge=0, le=365)]
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
    comment: ShortText = ""


class CreditParametersOut(CreditParametersIn, kw_only=True):
    version: int
    created_at: datetime
    created_by: str


_AUDIT_FIELDS = (("id", int), ("version", int), ("created_at", datetime), ("created_by", str),
                 ("updated_at", datetime), ("updated_by", str))


def out_of(in_type: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The response of an `In` type: its fields plus the id, the version and who changed it."""
    name = in_type.__name__.removesuffix("In") + "Out"
    return msgspec.defstruct(name, _AUDIT_FIELDS, bases=(in_type,), kw_only=True, module=__name__)


def patch_of(in_type: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The PATCH body of an `In` type: the same fields and constraints, each optional."""
    fields = [(field.name, field.type | msgspec.UnsetType, msgspec.UNSET)  # type: ignore[operator]
              for field in msgspec.structs.fields(in_type)]
    name = in_type.__name__.removesuffix("In") + "Patch"
    return msgspec.defstruct(name, fields, bases=(_In,), kw_only=True, forbid_unknown_fields=True, module=__name__)


def changes_of(patch: msgspec.Struct) -> dict[str, Any]:
    """The fields a PATCH body sets, with their values (`None` clears)."""
    values = {name: getattr(patch, name) for name in patch.__struct_fields__}
    return {name: tuple(value) if isinstance(value, list) else value
            for name, value in values.items() if value is not msgspec.UNSET}


FundSourceOut = out_of(FundSourceIn)
PaymentTypeOut = out_of(PaymentTypeIn)
TaxRateOut = out_of(TaxRateIn)
ChargeOut = out_of(ChargeIn)
UsuryCapOut = out_of(UsuryCapIn)
HolidayOut = out_of(HolidayIn)
ActivitySectorOut = out_of(ActivitySectorIn)
LoanPurposeCategoryOut = out_of(LoanPurposeCategoryIn)
LoanPurposeOut = out_of(LoanPurposeIn)
DecisionReasonOut = out_of(DecisionReasonIn)
ValidationLevelOut = out_of(ValidationLevelIn)
CreditInsuranceOut = out_of(CreditInsuranceIn)

FundSourcePatch = patch_of(FundSourceIn)
PaymentTypePatch = patch_of(PaymentTypeIn)
TaxRatePatch = patch_of(TaxRateIn)
ChargePatch = patch_of(ChargeIn)
UsuryCapPatch = patch_of(UsuryCapIn)
HolidayPatch = patch_of(HolidayIn)
ActivitySectorPatch = patch_of(ActivitySectorIn)
LoanPurposeCategoryPatch = patch_of(LoanPurposeCategoryIn)
LoanPurposePatch = patch_of(LoanPurposeIn)
DecisionReasonPatch = patch_of(DecisionReasonIn)
ValidationLevelPatch = patch_of(ValidationLevelIn)
CreditInsurancePatch = patch_of(CreditInsuranceIn)
