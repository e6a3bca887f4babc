"""General credit parameters (seed 002, 3.7.1): one row per version, the highest in force.
A change is a new version; old versions stay (PostgreSQL refuses to change them), so what
governed a loan granted last year can still be read."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import select

from products.reference.db.tables import CreditParametersRow
from products.reference.limits import PAGE_SIZE_MAX
from products.reference.model import CreditParameters
from products.reference.validation import validate_credit_parameters
from servicing.errors import InvalidInput, NotFound
from servicing.reference.catalogue import flush, lock
from servicing.unit_of_work import UnitOfWork


class StoredCreditParameters(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    parameters: CreditParameters
    created_at: datetime
    created_by: str


def _stored(row: CreditParametersRow) -> StoredCreditParameters:
    return StoredCreditParameters(version=row.version, created_at=row.created_at, created_by=row.created_by,
                                  parameters=msgspec.convert(row, CreditParameters, from_attributes=True))


async def current(uow: UnitOfWork) -> StoredCreditParameters:
    async with uow:
        row = await uow.session.scalar(
            select(CreditParametersRow).order_by(CreditParametersRow.version.desc()).limit(1))
        if row is None:
            raise NotFound("no credit parameters are set yet (PUT /api/v1/credit-parameters)", field="version")
        return _stored(row)


async def versions(uow: UnitOfWork, limit: int = PAGE_SIZE_MAX) -> list[StoredCreditParameters]:
    async with uow:
        rows = (await uow.session.scalars(
            select(CreditParametersRow).order_by(CreditParametersRow.version.desc()).limit(limit))).all()
        return [_stored(row) for row in rows]


async def set_parameters(uow: UnitOfWork, parameters: CreditParameters, actor: str) -> StoredCreditParameters:
    """Record a new version of the parameters."""
    validate_credit_parameters(parameters)
    async with uow:
        session = uow.session
        await lock(session, "credit_parameters")
        latest = await session.scalar(
            select(CreditParametersRow).order_by(CreditParametersRow.version.desc()).limit(1))
        if latest is not None and parameters.valid_from < latest.valid_from:
            raise InvalidInput(f"version {latest.version} is valid from {latest.valid_from}; a new version cannot "
                               "start earlier", field="valid_from")
        row = CreditParametersRow(version=(latest.version if latest else 0) + 1, created_by=actor, **msgspec.structs.asdict(parameters))
        session.add(row)
        await flush(session)
        await session.refresh(row)
        stored = _stored(row)
        await uow.commit()
    return stored
