"""The reference lists that `catalogue` serves, and the checks each needs from the database.

Pure rules come from `products.reference.validation`; here they are joined with what only
the database knows: the GL account exists and is a detail account of the right type, the
currency is enabled, the tax rate and the parent rows exist, validity periods do not
overlap, a staff role exists.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from products.reference.db.tables import (
    ActivitySectorRow,
    ChargeRow,
    CreditInsuranceRow,
    DecisionReasonRow,
    FundSourceRow,
    LoanPurposeCategoryRow,
    LoanPurposeRow,
    PaymentTypeRow,
    TaxRateRow,
    UsuryCapRow,
    ValidationLevelRow,
)
from products.reference.model import (
    ActivitySectorDefinition,
    ChargeDefinition,
    CreditInsuranceDefinition,
    DecisionReasonDefinition,
    FundSourceDefinition,
    LoanPurposeCategoryDefinition,
    LoanPurposeDefinition,
    PaymentTypeDefinition,
    TaxRateDefinition,
    UsuryCapDefinition,
    ValidationLevelDefinition,
)
from products.reference.validation import (
    first_overlap,
    validate_charge,
    validate_payment_type,
    validate_tax_rate,
    validate_usury_cap,
    validate_validation_level,
)
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.reference.catalogue import Catalogue, enabled_currency_decimals, exists

FUNDING_ACCOUNT_TYPES: Final = frozenset({"asset"})
"""A fund source's account holds the fund's money (a bank or cash account): loans are disbursed
from it and repaid into it. The donor's liability (e.g. 162) is booked when the line is drawn."""
PAYMENT_ACCOUNT_TYPES: Final = frozenset({"asset"})
"""A payment type's override is where the money lands: a till, a bank, a mobile-money float."""
INCOME_ACCOUNT_TYPES: Final = frozenset({"income"})
SECTOR_DEPTH_MAX: Final = 10


async def _check_payment_type(session: AsyncSession, payment_type: PaymentTypeDefinition, row_id: int | None) -> None:
    validate_payment_type(payment_type)


async def _check_tax_rate(session: AsyncSession, tax_rate: TaxRateDefinition, row_id: int | None) -> None:
    validate_tax_rate(tax_rate)
    if not tax_rate.active:
        return
    query = select(TaxRateRow).where(
        TaxRateRow.active.is_(True), TaxRateRow.country == tax_rate.country,
        TaxRateRow.tax_kind == tax_rate.tax_kind.value, TaxRateRow.operation_kind == tax_rate.operation_kind.value)
    if row_id is not None:
        query = query.where(TaxRateRow.id != row_id)
    clash = first_overlap(tax_rate, (await session.scalars(query)).all())
    if clash is not None:
        raise Conflict(f"tax rate {clash.code} ({clash.rate_percent} %) is already valid from {clash.valid_from} "
                       f"to {clash.valid_to or 'open end'} for this country and operation; end it first",
                       field="valid_from")


async def _check_usury_cap(session: AsyncSession, cap: UsuryCapDefinition, row_id: int | None) -> None:
    validate_usury_cap(cap)
    if not cap.active:
        return
    query = select(UsuryCapRow).where(UsuryCapRow.active.is_(True), UsuryCapRow.zone == cap.zone.value,
                                      UsuryCapRow.institution_type == cap.institution_type.value)
    if row_id is not None:
        query = query.where(UsuryCapRow.id != row_id)
    clash = first_overlap(cap, (await session.scalars(query)).all())
    if clash is not None:
        raise Conflict(f"usury cap {clash.id} ({clash.rate_annual_percent} %) is already valid from "
                       f"{clash.valid_from} to {clash.valid_to or 'open end'}; end it first", field="valid_from")


async def _check_charge(session: AsyncSession, charge: ChargeDefinition, row_id: int | None) -> None:
    decimals = await enabled_currency_decimals(session, charge.currency)
    validate_charge(charge, decimals)
    await exists(session, TaxRateRow, charge.tax_rate_id, "tax_rate_id", "tax rate")


async def _check_sector(session: AsyncSession, sector: ActivitySectorDefinition, row_id: int | None) -> None:
    await exists(session, ActivitySectorRow, sector.parent_id, "parent_id", "activity sector", active_only=False)
    ancestor = sector.parent_id
    for _ in range(SECTOR_DEPTH_MAX):
        if ancestor is None:
            return
        if ancestor == row_id:
            raise InvalidInput("a sector cannot be its own ancestor", field="parent_id")
        ancestor = await session.scalar(select(ActivitySectorRow.parent_id).where(ActivitySectorRow.id == ancestor))
    raise InvalidInput(f"sectors nest at most {SECTOR_DEPTH_MAX} levels deep", field="parent_id")


async def _check_purpose(session: AsyncSession, purpose: LoanPurposeDefinition, row_id: int | None) -> None:
    await exists(session, LoanPurposeCategoryRow, purpose.category_id, "category_id", "loan purpose category")
    await exists(session, ActivitySectorRow, purpose.activity_sector_id, "activity_sector_id", "activity sector")


async def _check_validation_level(session: AsyncSession, level: ValidationLevelDefinition, row_id: int | None) -> None:
    decimals = await enabled_currency_decimals(session, level.currency)
    validate_validation_level(level, decimals)
    role = await session.scalar(text("SELECT name FROM staff_role WHERE name = :name"), {"name": level.role_name})
    if role is None:
        raise NotFound(f"no staff role is named {level.role_name!r}", field="role_name")


FUND_SOURCES: Final = Catalogue(
    noun="fund source", row_type=FundSourceRow, definition=FundSourceDefinition, unique=(("name",),),
    accounts={"gl_account_code": ("gl_account_id", FUNDING_ACCOUNT_TYPES)})
PAYMENT_TYPES: Final = Catalogue(
    noun="payment type", row_type=PaymentTypeRow, definition=PaymentTypeDefinition, unique=(("name",),),
    accounts={"gl_account_code": ("gl_account_id", PAYMENT_ACCOUNT_TYPES)}, check=_check_payment_type)
TAX_RATES: Final = Catalogue(
    noun="tax rate", row_type=TaxRateRow, definition=TaxRateDefinition, unique=(("code",),),
    check=_check_tax_rate, lock=True)
CHARGES: Final = Catalogue(
    noun="charge", row_type=ChargeRow, definition=ChargeDefinition, unique=(("name",),),
    accounts={"income_gl_account_code": ("income_gl_account_id", INCOME_ACCOUNT_TYPES)}, check=_check_charge)
USURY_CAPS: Final = Catalogue(
    noun="usury cap", row_type=UsuryCapRow, definition=UsuryCapDefinition, check=_check_usury_cap, lock=True)
ACTIVITY_SECTORS: Final = Catalogue(
    noun="activity sector", row_type=ActivitySectorRow, definition=ActivitySectorDefinition, unique=(("code",),),
    check=_check_sector, lock=True)
LOAN_PURPOSE_CATEGORIES: Final = Catalogue(
    noun="loan purpose category", row_type=LoanPurposeCategoryRow, definition=LoanPurposeCategoryDefinition,
    unique=(("code",),))
LOAN_PURPOSES: Final = Catalogue(
    noun="loan purpose", row_type=LoanPurposeRow, definition=LoanPurposeDefinition, unique=(("code",),),
    check=_check_purpose)
DECISION_REASONS: Final = Catalogue(
    noun="decision reason", row_type=DecisionReasonRow, definition=DecisionReasonDefinition, unique=(("label",),))
VALIDATION_LEVELS: Final = Catalogue(
    noun="validation level", row_type=ValidationLevelRow, definition=ValidationLevelDefinition,
    unique=(("currency", "level_order"),), check=_check_validation_level)
CREDIT_INSURANCES: Final = Catalogue(
    noun="credit insurance", row_type=CreditInsuranceRow, definition=CreditInsuranceDefinition, unique=(("name",),))
