"""Reads of reference data inside another command's unit of work (a loan product checks its
charges and fund source, a schedule needs the office's calendar, provisioning needs the grid).
They take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from products.reference.db.tables import CreditParametersRow, DelinquencyBucketRow, TaxRateRow, UsuryCapRow
from products.reference.model import (
    BucketKind,
    CreditParameters,
    DelinquencyBucket,
    InstitutionType,
    MonetaryZone,
    TaxedOperation,
    TaxKind,
    TaxRateDefinition,
    UsuryCapDefinition,
)
from products.reference.validation import in_force
from servicing.reference.catalogue import Stored, plain, stored_row
from servicing.reference.lists import TAX_RATES, USURY_CAPS
from servicing.unit_of_work import UnitOfWork


async def bucket_grid(session: AsyncSession, kind: BucketKind) -> list[DelinquencyBucket]:
    """The grid in force for one kind, by days overdue (empty when none is set)."""
    rows = (await session.scalars(
        select(DelinquencyBucketRow)
        .where(DelinquencyBucketRow.bucket_kind == kind.value, DelinquencyBucketRow.retired_at.is_(None))
        .order_by(DelinquencyBucketRow.days_overdue_min))).all()
    return [bucket_of(row) for row in rows]


def bucket_of(row: DelinquencyBucketRow) -> DelinquencyBucket:
    return msgspec.structs.replace(msgspec.convert(row, DelinquencyBucket, from_attributes=True),
                                   provision_rate_percent=plain(row.provision_rate_percent))


async def credit_parameters_in_force(session: AsyncSession) -> tuple[int, CreditParameters] | None:
    """(version, parameters) of the highest version, or None before any is set."""
    row = await session.scalar(select(CreditParametersRow).order_by(CreditParametersRow.version.desc()).limit(1))
    return None if row is None else (row.version, msgspec.convert(row, CreditParameters, from_attributes=True))


async def usury_cap_in_force(session: AsyncSession, institution_type: InstitutionType, on: date,
                             zone: MonetaryZone = MonetaryZone.UMOA) -> UsuryCapRow | None:
    """The active usury cap for this kind of institution on `on`, if one is recorded."""
    rows: Sequence[UsuryCapRow] = (await session.scalars(select(UsuryCapRow).where(
        UsuryCapRow.active.is_(True), UsuryCapRow.zone == zone.value,
        UsuryCapRow.institution_type == institution_type.value, UsuryCapRow.valid_from <= on))).all()
    return in_force(rows, on)


async def tax_rate_in_force(session: AsyncSession, country: str, tax_kind: TaxKind, operation: TaxedOperation,
                            on: date) -> TaxRateRow | None:
    """The active tax rate of a country and operation on `on`; falls back to the rate for all
    financial services when the operation has none of its own. None means unknown, not 0 %."""
    rows: Sequence[TaxRateRow] = (await session.scalars(select(TaxRateRow).where(
        TaxRateRow.active.is_(True), TaxRateRow.country == country, TaxRateRow.tax_kind == tax_kind.value,
        TaxRateRow.operation_kind.in_((operation.value, TaxedOperation.ALL_FINANCIAL_SERVICES.value)),
        TaxRateRow.valid_from <= on))).all()
    specific = in_force([row for row in rows if row.operation_kind == operation.value], on)
    return specific or in_force([row for row in rows if row.operation_kind != operation.value], on)


async def find_tax_rate(uow: UnitOfWork, country: str, tax_kind: TaxKind, operation: TaxedOperation,
                        on: date) -> Stored[TaxRateDefinition] | None:
    async with uow:
        row = await tax_rate_in_force(uow.session, country, tax_kind, operation, on)
        return None if row is None else await stored_row(uow.session, TAX_RATES, row)


async def find_usury_cap(uow: UnitOfWork, institution_type: InstitutionType, on: date,
                         zone: MonetaryZone = MonetaryZone.UMOA) -> Stored[UsuryCapDefinition] | None:
    async with uow:
        row = await usury_cap_in_force(uow.session, institution_type, on, zone)
        return None if row is None else await stored_row(uow.session, USURY_CAPS, row)
